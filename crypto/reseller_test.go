package crypto

import "testing"

func TestResellerSecretSeparation(t *testing.T) {
	v := &Vault{}
	for i := range v.FingerprintKey {
		v.FingerprintKey[i] = byte(i)
	}
	a := v.ResellerSecret("rk_a", []byte("salt-1"))
	if a != v.ResellerSecret("rk_a", []byte("salt-1")) {
		t.Fatal("not deterministic")
	}
	seen := map[[32]byte]string{a: "base"}
	for name, k := range map[string][32]byte{
		"other salt":   v.ResellerSecret("rk_a", []byte("salt-2")),
		"other key id": v.ResellerSecret("rk_b", []byte("salt-1")),
		"fingerprint":  v.Fingerprint(labelResellerSecret + "rk_a"),
	} {
		if prev, dup := seen[k]; dup {
			t.Fatalf("%s equals %s", name, prev)
		}
		seen[k] = name
	}
}
