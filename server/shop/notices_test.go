package shop

import (
	"errors"
	"testing"

	"veil/crypto"
)

func TestPublishNotice(t *testing.T) {
	e := newEnv(t)
	fp := e.shop.NoticeFingerprint()
	if fp == "" {
		t.Fatal("no notice fingerprint")
	}
	block, err := e.shop.PublishNotice("We moved to http://new.example/")
	if err != nil {
		t.Fatal(err)
	}
	n, err := crypto.VerifyNotice(block)
	if err != nil || n.Fingerprint != fp || n.Text != "We moved to http://new.example/" {
		t.Fatalf("verify: %+v %v", n, err)
	}
	ns, err := e.shop.Notices()
	if err != nil || len(ns) != 1 || ns[0] != block {
		t.Fatalf("notices %v %v", ns, err)
	}
	e.shop.Lock()
	if _, err := e.shop.PublishNotice("x"); !errors.Is(err, ErrLocked) {
		t.Fatalf("locked: %v", err)
	}
	// Unlocking again keeps the same key.
	if err := e.shop.Unlock(testPass); err != nil || e.shop.NoticeFingerprint() != fp {
		t.Fatalf("after unlock: %v", err)
	}
}
