package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/bits"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// solvePow finds a nonce such that SHA-256(challenge + ":" + nonce) begins
// with n zero bits — written out here, not taken from the code under test.
func solvePow(challenge string, n int) string {
	for i := 0; ; i++ {
		nonce := strconv.Itoa(i)
		sum := sha256.Sum256([]byte(challenge + ":" + nonce))
		z := 0
		for _, b := range sum {
			if b == 0 {
				z += 8
				continue
			}
			z += bits.LeadingZeros8(b)
			break
		}
		if z >= n {
			return nonce
		}
	}
}

// torBuyer is a client of a --tor shop: every request from 127.0.0.1.
type torBuyer struct {
	t    *testing.T
	base string
	hc   *http.Client
}

// order posts an order; pow, when set, is {challenge, nonce}. It returns
// the status and the decoded answer.
func (b torBuyer) order(slug string, pow map[string]string) (int, map[string]any) {
	body := map[string]any{"product": slug, "quantity": 1}
	if pow != nil {
		body["pow"] = pow
	}
	raw, _ := json.Marshal(body)
	resp, err := b.hc.Post(b.base+"/api/v1/orders", "application/json", strings.NewReader(string(raw)))
	if err != nil {
		b.t.Error(err)
		return 0, nil
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	var v map[string]any
	_ = json.Unmarshal(out, &v)
	return resp.StatusCode, v
}

// buy orders (paying the work when asked), pays with the demo provider and
// reads the key; it returns the key and whether work was asked.
func (b torBuyer) buy(slug string) (string, bool, error) {
	st, v := b.order(slug, nil)
	asked := false
	if st == http.StatusPreconditionRequired {
		asked = true
		p, _ := v["pow"].(map[string]any)
		ch, _ := p["challenge"].(string)
		n, _ := p["bits"].(float64)
		st, v = b.order(slug, map[string]string{"challenge": ch, "nonce": solvePow(ch, int(n))})
	}
	if st != http.StatusCreated {
		return "", asked, fmt.Errorf("order: %d %v", st, v)
	}
	ref, tok := v["ref"].(string), v["token"].(string)
	resp, err := b.hc.Post(b.base+"/api/v1/pay/demo", "application/json", strings.NewReader(`{"ref":"`+ref+`"}`))
	if err != nil {
		return "", asked, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", asked, fmt.Errorf("pay: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodGet, b.base+"/api/v1/order", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err = b.hc.Do(req)
	if err != nil {
		return "", asked, err
	}
	defer resp.Body.Close()
	var ov struct {
		Status string
		Items  []struct{ Key string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&ov); err != nil || resp.StatusCode != http.StatusOK {
		return "", asked, fmt.Errorf("view: %d %v", resp.StatusCode, err)
	}
	if ov.Status != "delivered" || len(ov.Items) != 1 || ov.Items[0].Key == "" {
		return "", asked, fmt.Errorf("after paying: %+v", ov)
	}
	return ov.Items[0].Key, asked, nil
}

// TestTorE2E runs the real binary with --tor and the DEFAULT limits (120
// requests a minute per address, three unpaid orders per newcomer), all
// clients from 127.0.0.1: 30 buyers at once each order, pay and read their
// key; a client that never pays holds at most half of a 20-key product
// before 428 pow_required; paying the work still buys; an honest buyer
// (one who pays) still buys during the hoarding; a challenge pays once.
func TestTorE2E(t *testing.T) {
	bin := buildVeil(t)
	const password = "tor test owner password"
	shop := initVeil(t, bin, password, "tor test vault passphrase", nil)
	data, ppFile, ini := shop.data, shop.ppFile, shop.ini
	addr := freeAddr(t)
	base := "http://" + addr
	srv := startVeil(t, bin, base, "serve", "--data", data, "--addr", addr, "--passphrase-file", ppFile,
		"--payments", "demo", "--tor")
	owner := signIn(t, base, "owner", password, ini.TOTPSecret)
	m := &moneyShop{t: t, base: base, hc: &http.Client{Timeout: 20 * time.Second}, owner: owner}
	var crowd, hoard []string
	for i := range 60 {
		crowd = append(crowd, fmt.Sprintf("CROWD-KEY-%03d", i))
	}
	for i := range 20 {
		hoard = append(hoard, fmt.Sprintf("HOARD-KEY-%03d", i))
	}
	m.product("crowd", `{"window_hours":24,"remedies":["replace"]}`, crowd...)
	m.product("hoard", `{"window_hours":24,"remedies":["replace"]}`, hoard...)
	b := torBuyer{t: t, base: base, hc: &http.Client{Timeout: time.Minute}}

	// 30 buyers at once, all from 127.0.0.1.
	var wg sync.WaitGroup
	keys := make([]string, 30)
	errs := make([]error, 30)
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keys[i], _, errs[i] = b.buy("crowd")
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range 30 {
		if errs[i] != nil {
			t.Fatalf("buyer %d: %v", i, errs[i])
		}
		if !strings.HasPrefix(keys[i], "CROWD-KEY-") || seen[keys[i]] {
			t.Fatalf("buyer %d got %q", i, keys[i])
		}
		seen[keys[i]] = true
	}

	// A hoarder who never pays: ten orders (half of 20) go through, the
	// eleventh asks for work.
	held := 0
	var challenge string
	var nbits int
	for range 20 {
		st, v := b.order("hoard", nil)
		if st == http.StatusCreated {
			held++
			continue
		}
		e, _ := v["error"].(map[string]any)
		p, _ := v["pow"].(map[string]any)
		if st != http.StatusPreconditionRequired || e["code"] != "pow_required" || p == nil {
			t.Fatalf("hoarder's order %d: %d %v", held+1, st, v)
		}
		challenge, _ = p["challenge"].(string)
		n, _ := p["bits"].(float64)
		nbits = int(n)
		break
	}
	if held != 10 || challenge == "" || nbits < 16 || nbits > 24 {
		t.Fatalf("the hoarder held %d of 20 before 428 (bits %d)", held, nbits)
	}
	// Paying the work still places the order; the same challenge pays once.
	pow := map[string]string{"challenge": challenge, "nonce": solvePow(challenge, nbits)}
	if st, v := b.order("hoard", pow); st != http.StatusCreated {
		t.Fatalf("with the work paid: %d %v", st, v)
	}
	if st, v := b.order("hoard", pow); st != http.StatusPreconditionRequired {
		t.Fatalf("the same challenge again: %d %v", st, v)
	}
	// A wrong nonce is no payment.
	if st, _ := b.order("hoard", map[string]string{"challenge": challenge, "nonce": "x"}); st != http.StatusPreconditionRequired {
		t.Fatalf("a wrong nonce: %d", st)
	}
	// An honest buyer during the hoarding is asked for work, pays it, buys.
	key, asked, err := b.buy("hoard")
	if err != nil || !asked || !strings.HasPrefix(key, "HOARD-KEY-") {
		t.Fatalf("honest buyer during the hoarding: %q asked=%v %v", key, asked, err)
	}

	if err := srv.stop(); err != nil {
		t.Errorf("shutdown: %v\n%s", err, srv.stderr)
	}
	if bad := badLines(srv.stderr.String()); len(bad) > 0 {
		t.Errorf("the server logged:\n%s", strings.Join(bad, "\n"))
	}
}
