package pay

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Rotating the 易支付 merchant key: the gateway issues the key and the
// merchant changes it in the gateway's panel; veil must follow without
// losing the notifies of payments made just before. So after a rotation the
// new key signs every submit URL and verifies notifies, and the previous
// key still verifies notifies for epayGrace (in memory only: a restart
// forgets it). The new key is written to the key file (atomically, 0600)
// so that a restart reads it.

// epayGrace is how long the previous key still verifies notifies.
const epayGrace = 24 * time.Hour

type epayKeys struct {
	cur       string
	prev      string
	prevUntil time.Time
}

// signedByOurKey reports whether sign is params' signature under the
// current key, or the previous one during its grace period.
func (e *Epay) signedByOurKey(params map[string]string, sign string) bool {
	k := e.keys.Load()
	if hmac.Equal([]byte(sign), []byte(EpaySign(params, k.cur))) {
		return true
	}
	return k.prev != "" && time.Now().Before(k.prevUntil) && hmac.Equal([]byte(sign), []byte(EpaySign(params, k.prev)))
}

// RotateKey makes key the merchant key: it writes it to the key file, if
// there is one, then uses it for everything; the previous key verifies
// notifies for 24 more hours.
func (e *Epay) RotateKey(key string) error {
	if len(key) < 8 || len(key) > 256 || strings.ContainsFunc(key, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return errors.New("pay: epay key: 8–256 characters without spaces or control characters")
	}
	e.rotMu.Lock()
	defer e.rotMu.Unlock()
	old := e.keys.Load()
	if key == old.cur {
		return errors.New("pay: epay key: this is the current key")
	}
	if e.keyFile != "" {
		if err := writeFileAtomic(e.keyFile, []byte(key+"\n")); err != nil {
			return fmt.Errorf("pay: write the epay key file: %w", err)
		}
	}
	e.keys.Store(&epayKeys{cur: key, prev: old.cur, prevUntil: time.Now().Add(epayGrace)})
	return nil
}

// writeFileAtomic replaces path with b (mode 0600) so that a crash leaves
// the old file or the new one, never half of it.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".veil-key-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
