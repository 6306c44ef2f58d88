package main

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
)

// TestBackupWithoutPassphraseE2E drives the real binary through the
// contract's `veil backup --data DIR --out FILE` (no passphrase): a shop
// that took and delivered an order and stopped cleanly moves house, and
// the old token opens its exact key in the new directory; a store changed
// after its clean close (kill -9 after an order) is refused with advice and
// no file; and a v3 file altered, re-sealed with another vault's seal, or
// made from the attacker's own store restores nothing.
func TestBackupWithoutPassphraseE2E(t *testing.T) {
	bin := buildVeil(t)
	const password = "backup test owner password"
	s := initVeil(t, bin, password, "backup test vault passphrase", nil)
	veil := func(args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	idFile := filepath.Join(s.dir, "backup-identity")
	os.WriteFile(idFile, []byte(s.ini.BackupIdentity+"\n"), 0o600)
	serve := func(data string) (*veilProc, *moneyShop) {
		t.Helper()
		addr := freeAddr(t)
		base := "http://" + addr
		p := startVeil(t, bin, base, "serve", "--data", data, "--addr", addr, "--passphrase-file", s.ppFile,
			"--payments", "demo", "--rate-limit", "0")
		return p, &moneyShop{t: t, base: base, hc: &http.Client{Timeout: 20 * time.Second}}
	}
	payDemo := func(m *moneyShop, o buyerOrder) {
		t.Helper()
		resp, err := m.hc.Post(m.base+"/api/v1/pay/demo", "application/json", strings.NewReader(`{"ref":"`+o.Ref+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("demo payment: %d", resp.StatusCode)
		}
	}

	// A shop with an order paid and delivered, stopped with SIGTERM.
	p, m := serve(s.data)
	m.owner = signIn(t, m.base, "owner", password, s.ini.TOTPSecret)
	m.product("card", `{}`, "MOVE-E2E-KEY-0001", "MOVE-E2E-KEY-0002", "MOVE-E2E-KEY-0003")
	o := m.buy("card")
	payDemo(m, o)
	var key string
	poll(t, "delivery", func() bool {
		if v := m.view(o); len(v.Items) == 1 {
			key = v.Items[0].Key
		}
		return key != ""
	})
	if !strings.HasPrefix(key, "MOVE-E2E-KEY-") {
		t.Fatalf("delivered %q", key)
	}
	if err := p.stop(); err != nil {
		t.Fatalf("serve: %v\n%s", err, p.stderr)
	}

	file := filepath.Join(s.dir, "shop.age")
	out, errs, code := veil("backup", "--data", s.data, "--out", file)
	if code != 0 {
		t.Fatalf("backup --data --out: %d %q", code, errs)
	}
	fp := regexp.MustCompile(`signed by key ([0-9a-f ]{39})`).FindStringSubmatch(out)
	if fp == nil {
		t.Fatalf("backup names no signing key: %q", out)
	}
	genuine, _ := os.ReadFile(file)
	if !bytes.HasPrefix(genuine, []byte("age-encryption.org/v1")) || bytes.Contains(genuine, []byte("MOVE-E2E-KEY")) {
		t.Fatal("the backup is not a sealed age file")
	}

	t.Run("moves house", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "moved")
		out, errs, code := veil("restore", "--in", file, "--data", target, "--identity-file", idFile, "--fingerprint", fp[1])
		if code != 0 || !strings.Contains(out, fp[1]) {
			t.Fatalf("restore: %d %q %q", code, out, errs)
		}
		p2, m2 := serve(target)
		if v := m2.view(o); len(v.Items) != 1 || v.Items[0].Key != key {
			t.Fatalf("the old token in the new home: %+v", v)
		}
		if err := p2.stop(); err != nil {
			t.Fatalf("serve: %v", err)
		}
		// The restored directory carries the seal: it backs up again.
		if _, errs, code := veil("backup", "--data", target, "--out", filepath.Join(t.TempDir(), "again.age")); code != 0 {
			t.Fatalf("backup of the restored shop: %d %q", code, errs)
		}
	})

	// refused restores file and checks that nothing is restored.
	refused := func(t *testing.T, file []byte) string {
		t.Helper()
		in := filepath.Join(t.TempDir(), "bad.age")
		os.WriteFile(in, file, 0o600)
		target := filepath.Join(t.TempDir(), "target")
		os.Mkdir(target, 0o700)
		_, errs, code := veil("restore", "--in", in, "--data", target, "--identity-file", idFile)
		if code != 1 || !strings.Contains(errs, "backup refused") || !strings.Contains(errs, "nothing restored") {
			t.Fatalf("restore of a bad backup: exit %d %q", code, errs)
		}
		if entries, _ := os.ReadDir(target); len(entries) != 0 {
			t.Fatalf("a refused backup left %d files in the target", len(entries))
		}
		return errs
	}
	id, err := age.ParseHybridIdentity(s.ini.BackupIdentity)
	if err != nil {
		t.Fatal(err)
	}
	recipient := id.Recipient()
	plain := func(file []byte, id age.Identity) []byte {
		t.Helper()
		r, err := age.Decrypt(bytes.NewReader(file), id)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(r)
		return b.Bytes()
	}
	seal := func(pt []byte) []byte {
		var b bytes.Buffer
		w, _ := age.Encrypt(&b, recipient)
		w.Write(pt)
		w.Close()
		return b.Bytes()
	}
	pt := plain(genuine, id)
	if !bytes.HasPrefix(pt, []byte("veil-backup v3\nkey: ")) {
		t.Fatalf("not a v3 backup: %q", pt[:20])
	}

	t.Run("flipped ciphertext byte", func(t *testing.T) {
		bad := bytes.Clone(genuine)
		bad[len(bad)/2] ^= 1
		refused(t, bad)
	})
	t.Run("one byte of a value changed, re-sealed to the recipient", func(t *testing.T) {
		// Badger loads it happily; only the digest can tell.
		i := bytes.Index(pt, []byte(`"inventory"`))
		if i < 0 {
			t.Fatal("no vault-pub value in the stream")
		}
		bad := bytes.Clone(pt)
		bad[i+2] ^= 0x20 // "iNventory": still JSON, another field
		refused(t, seal(bad))
	})

	// The attacker's own shop, cleanly closed after init: a real seal.
	evil := initVeil(t, bin, "mallory's password", "mallory's passphrase", nil)
	evilFile := filepath.Join(evil.dir, "evil.age")
	if _, errs, code := veil("backup", "--data", evil.data, "--out", evilFile); code != 0 {
		t.Fatalf("attacker's backup: %q", errs)
	}
	evilFileBytes, _ := os.ReadFile(evilFile)
	evilID, _ := age.ParseHybridIdentity(evil.ini.BackupIdentity)
	evilPT := plain(evilFileBytes, evilID)
	const trailer = 8 + 64 + 32

	t.Run("trailer of another vault", func(t *testing.T) {
		// The genuine stream under the attacker's key line and seal.
		head := evilPT[:bytes.Index(evilPT, []byte("\n\n"))+2]
		body := pt[bytes.Index(pt, []byte("\n\n"))+2 : len(pt)-trailer]
		forged := append(append(bytes.Clone(head), body...), evilPT[len(evilPT)-trailer:]...)
		refused(t, seal(forged))
		// …and under the genuine key line.
		forged = append(bytes.Clone(pt[:len(pt)-trailer]), evilPT[len(evilPT)-trailer:]...)
		refused(t, seal(forged))
	})
	t.Run("the attacker's own store, sealed to the recipient", func(t *testing.T) {
		refused(t, seal(evilPT))
		// The same plaintext is a valid backup of the attacker's shop.
		target := filepath.Join(t.TempDir(), "theirs")
		evilIDFile := filepath.Join(t.TempDir(), "id")
		os.WriteFile(evilIDFile, []byte(evil.ini.BackupIdentity), 0o600)
		if _, errs, code := veil("restore", "--in", evilFile, "--data", target, "--identity-file", evilIDFile); code != 0 {
			t.Fatalf("the attacker's backup of their own shop: %q", errs)
		}
	})
	t.Run("a key line swapped for the attacker's", func(t *testing.T) {
		evilKey := regexp.MustCompile(`key: ([A-Za-z0-9+/=]+)\n`).FindSubmatch(evilPT)[1]
		if _, err := base64.StdEncoding.DecodeString(string(evilKey)); err != nil {
			t.Fatal(err)
		}
		forged := regexp.MustCompile(`key: [A-Za-z0-9+/=]+\n`).ReplaceAll(bytes.Clone(pt[:200]), []byte("key: "+string(evilKey)+"\n"))
		refused(t, seal(append(forged, pt[200:]...)))
	})

	// kill -9 after an order: the store is not the sealed one any more.
	t.Run("changed after the clean close", func(t *testing.T) {
		p, m := serve(s.data)
		m.buy("card")
		p.kill()
		out := filepath.Join(t.TempDir(), "late.age")
		_, errs, code := veil("backup", "--data", s.data, "--out", out)
		if code != 1 || !strings.Contains(errs, "changed since the shop last stopped cleanly") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Fatalf("backup after kill -9: exit %d %q", code, errs)
		}
		if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
			t.Fatalf("a refused backup left %d files", len(entries))
		}
		// With the passphrase it still works (v2), and a clean stop seals again.
		if _, errs, code := veil("backup", "--data", s.data, "--out", out, "--passphrase-file", s.ppFile); code != 0 {
			t.Fatalf("backup --passphrase-file: %q", errs)
		}
		p, _ = serve(s.data)
		if err := p.stop(); err != nil {
			t.Fatal(err)
		}
		if _, errs, code := veil("backup", "--data", s.data, "--out", out); code != 0 {
			t.Fatalf("backup after a clean stop: %q", errs)
		}
	})
}
