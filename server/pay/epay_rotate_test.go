package pay

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"veil/server/shop"
)

// TestEpayRotateKey: after a rotation the new key signs submit URLs and
// verifies notifies, the old one verifies notifies only during its grace
// period, and the key file holds the new key, private.
func TestEpayRotateKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "epay.key")
	os.WriteFile(file, []byte(testKey+"\n"), 0o644)
	e, err := NewEpay(EpayConfig{
		PID: testPID, Key: testKey, KeyFile: file, Gateway: "https://pay.example/submit.php",
		NotifyURL: "https://shop.example/pay/epay/notify", ReturnURL: "https://shop.example/pay/epay/return",
	})
	if err != nil {
		t.Fatal(err)
	}
	const newKey = "the-new-merchant-key-456"
	for _, bad := range []string{"short", testKey, "has space in it", strings.Repeat("k", 257)} {
		if err := e.RotateKey(bad); err == nil {
			t.Errorf("RotateKey(%q) accepted", bad)
		}
	}
	if err := e.RotateKey(newKey); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(file); string(b) != newKey+"\n" {
		t.Fatalf("key file holds %q", b)
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %04o", st.Mode().Perm())
	}
	if _, err := e.Verify(signed(goodNotify(), newKey)); err != nil {
		t.Fatalf("notify under the new key: %v", err)
	}
	if _, err := e.Verify(signed(goodNotify(), testKey)); err != nil {
		t.Fatalf("notify under the old key within its grace: %v", err)
	}
	if _, err := e.Verify(signed(goodNotify(), "some-other-key-entirely")); err == nil {
		t.Fatal("a notify under an unknown key verified")
	}
	st, err := e.Start(shop.Order{Ref: "R-ABCD2345", AmountMinor: 990, Currency: "CNY"}, shop.Product{})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(st.URL)
	q := map[string]string{}
	for k, v := range u.Query() {
		q[k] = v[0]
	}
	if q["sign"] != EpaySign(q, newKey) {
		t.Fatal("the submit URL is not signed with the new key")
	}
	// Past the grace period the old key is refused.
	k := e.keys.Load()
	e.keys.Store(&epayKeys{cur: k.cur, prev: k.prev, prevUntil: time.Now().Add(-time.Second)})
	if _, err := e.Verify(signed(goodNotify(), testKey)); err == nil {
		t.Fatal("the old key verified after its grace period")
	}
}
