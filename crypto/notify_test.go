package crypto

import (
	"bytes"
	"testing"
)

func TestNotifyIdentity(t *testing.T) {
	v, err := NewVault(X25519)
	if err != nil {
		t.Fatal(err)
	}
	a, err := v.NotifyIdentity(Hybrid)
	if err != nil {
		t.Fatal(err)
	}
	b, err := v.NotifyIdentity(Hybrid)
	if err != nil {
		t.Fatal(err)
	}
	if a.Recipient() != b.Recipient() {
		t.Fatal("the notify identity is not stable")
	}
	for _, other := range []*Identity{v.Inventory, v.Support, v.Backup} {
		if other.Recipient() == a.Recipient() {
			t.Fatal("the notify identity repeats another vault identity")
		}
	}
	w, err := NewVault(X25519)
	if err != nil {
		t.Fatal(err)
	}
	c, err := w.NotifyIdentity(Hybrid)
	if err != nil {
		t.Fatal(err)
	}
	if c.Recipient() == a.Recipient() {
		t.Fatal("two vaults share a notify identity")
	}
	ct, err := Seal([]byte("123:bot-token"), a.AgeRecipient())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, []byte("bot-token")) {
		t.Fatal("sealed secret readable")
	}
	pt, err := Open(ct, b.Age())
	if err != nil || string(pt) != "123:bot-token" {
		t.Fatalf("open: %q %v", pt, err)
	}
	if _, err := Open(ct, c.Age()); err == nil {
		t.Fatal("another vault opened the secret")
	}
}
