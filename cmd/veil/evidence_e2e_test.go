package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TestEvidenceE2E drives the real binary over HTTP through issue 13 §3 and
// §4: a delivered order's receipt, downloaded with the token, verifies with
// `veil verify-receipt` (the shop's fingerprint, the key the buyer holds)
// and fails after one byte changes; a resolved ticket published as a case
// appears on /cases, in both languages, with no ref, token, ticket id or
// key anywhere in the page; the product page shows its figures.
func TestEvidenceE2E(t *testing.T) {
	bin := buildVeil(t)
	const password = "evidence test owner password"
	sh := initVeil(t, bin, password, "evidence test vault passphrase", nil)
	addr := freeAddr(t)
	base := "http://" + addr
	srv := startVeil(t, bin, base, "serve", "--data", sh.data, "--addr", addr, "--passphrase-file", sh.ppFile,
		"--payments", "demo", "--rate-limit", "0")

	// Each TOTP use needs a later step than the last: the first is the
	// current step, the next the one after (accepted early, ±1), and a third
	// waits (a bounded poll of the clock) until it is acceptable. The
	// current step, not the one before, so that a slow machine never sends
	// a code that expired on the way.
	last := int64(-1)
	code := func() string {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
			now := time.Now().Unix() / 30
			if step := max(last+1, now); step <= now+1 {
				last = step
				c, err := totp.GenerateCodeCustom(sh.ini.TOTPSecret, time.Unix(step*30, 0), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			if time.Now().After(deadline) {
				t.Fatal("the clock did not move")
			}
		}
	}
	jar, _ := cookiejar.New(nil)
	owner := &console{t: t, base: base, c: &http.Client{Jar: jar, Timeout: time.Minute}}
	body, _ := json.Marshal(map[string]string{"user": "owner", "password": password, "totp": code()})
	var sess struct{ CSRF string }
	owner.call(http.MethodPost, "/api/v1/admin/session", "application/json", string(body), http.StatusOK, &sess)
	owner.csrf = sess.CSRF

	var p struct{ ID string }
	owner.call(http.MethodPost, "/api/v1/admin/products", "application/json",
		`{"slug":"evidence-card","name":{"en":"Evidence card","zh-CN":"凭证卡"},"price_minor":990,"currency":"CNY","kind":"unique","policy":{"window_hours":72,"remedies":["replace","refund"]}}`,
		http.StatusCreated, &p)
	keys := []string{"EVID-0001-K7Q2-ZX9M", "EVID-0002-P3W8-LT4N", "EVID-0003-H6R1-VB5C"}
	owner.call(http.MethodPost, "/api/v1/admin/products/"+p.ID+"/keys", "text/plain; charset=utf-8", strings.Join(keys, "\n")+"\n", http.StatusOK, nil)

	hc := &http.Client{Timeout: 20 * time.Second}
	do := func(method, path, token, ctype, body string) (int, []byte, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b, resp.Header
	}
	st, b, _ := do(http.MethodPost, "/api/v1/orders", "", "application/json", `{"product":"evidence-card","quantity":1}`)
	var o struct{ Token, Ref string }
	if st != http.StatusCreated || json.Unmarshal(b, &o) != nil {
		t.Fatalf("order: %d %s", st, b)
	}
	if st, b, _ := do(http.MethodGet, "/api/v1/order/receipt", o.Token, "", ""); st != http.StatusConflict || !strings.Contains(string(b), `"not_delivered"`) {
		t.Fatalf("receipt before payment: %d %s", st, b)
	}
	if st, _, _ := do(http.MethodPost, "/api/v1/pay/demo", "", "application/json", `{"ref":"`+o.Ref+`"}`); st != http.StatusOK {
		t.Fatalf("pay: %d", st)
	}
	st, b, _ = do(http.MethodGet, "/api/v1/order", o.Token, "", "")
	var view struct {
		Items []struct{ ID, Key string }
	}
	if st != http.StatusOK || json.Unmarshal(b, &view) != nil || len(view.Items) != 1 {
		t.Fatalf("order view: %d %s", st, b)
	}
	key := view.Items[0].Key

	// The receipt: no key, no token; it verifies under the shop's
	// fingerprint and proves the buyer's key; one byte changed, it fails.
	if st, _, _ := do(http.MethodGet, "/api/v1/order/receipt", "", "", ""); st != http.StatusUnauthorized {
		t.Fatalf("receipt without a token: %d", st)
	}
	st, receipt, hdr := do(http.MethodGet, "/api/v1/order/receipt", o.Token, "", "")
	if st != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") || hdr.Get("Cache-Control") != "no-store" ||
		!strings.Contains(hdr.Get("Content-Disposition"), "receipt-"+o.Ref+".txt") {
		t.Fatalf("receipt: %d %v %s", st, hdr, receipt)
	}
	if bytes.Contains(receipt, []byte(key)) || bytes.Contains(receipt, []byte(o.Token)) || !bytes.Contains(receipt, []byte("Ref: "+o.Ref+"\n")) {
		t.Fatalf("receipt holds the key or token, or not the ref:\n%s", receipt)
	}
	var rot struct {
		Notice string `json:"notice_fingerprint"`
	}
	owner.call(http.MethodGet, "/api/v1/admin/rotation", "", "", http.StatusOK, &rot)
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "receipt.txt"), filepath.Join(dir, "changed.txt")
	os.WriteFile(good, receipt, 0o600)
	verify := func(args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"verify-receipt"}, args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String() + errb.String()
	}
	if code, out := verify("--in", good, "--fingerprint", rot.Notice, "--key", key); code != 0 ||
		!strings.Contains(out, "the key was delivered as item "+view.Items[0].ID+" of order "+o.Ref) {
		t.Fatalf("verify-receipt: exit %d\n%s", code, out)
	}
	if code, out := verify("--in", good, "--key", keys[2]); code != 1 {
		t.Fatalf("a key not delivered: exit %d\n%s", code, out)
	}
	if code, _ := verify("--in", good, "--fingerprint", "0000 0000 0000 0000 0000 0000 0000 0000"); code != 1 {
		t.Fatalf("wrong fingerprint: exit %d", code)
	}
	i := bytes.Index(receipt, []byte("Quantity: 1"))
	changed := bytes.Clone(receipt)
	changed[i+len("Quantity: ")] = '2'
	os.WriteFile(bad, changed, 0o600)
	if code, out := verify("--in", bad, "--fingerprint", rot.Notice); code != 1 {
		t.Fatalf("one byte changed: exit %d\n%s", code, out)
	}

	// The order page's receipt button posts the token and gets the file.
	form := url.Values{"token": {o.Token}}.Encode()
	st, page, _ := do(http.MethodPost, "/order?lang=en", "", "application/x-www-form-urlencoded", form)
	if st != http.StatusOK || !bytes.Contains(page, []byte(`action="/order/receipt?lang=en"`)) {
		t.Fatalf("order page: %d, no receipt form", st)
	}
	st, fromPage, hdr := do(http.MethodPost, "/order/receipt?lang=en", "", "application/x-www-form-urlencoded", form)
	if st != http.StatusOK || !strings.Contains(hdr.Get("Content-Disposition"), "attachment") || !bytes.HasPrefix(fromPage, []byte("-----BEGIN VEIL RECEIPT-----\n")) {
		t.Fatalf("receipt from the page: %d %v %s", st, hdr, fromPage)
	}

	// A ticket, resolved by a replacement, published as a case.
	st, b, _ = do(http.MethodPost, "/api/v1/order/tickets", o.Token, "application/json",
		`{"reason":"key_invalid","detail":"BUYER-WORDS-NEVER-PUBLISHED it says invalid","item_id":"`+view.Items[0].ID+`"}`)
	var tk struct{ ID string }
	if st != http.StatusCreated || json.Unmarshal(b, &tk) != nil {
		t.Fatalf("ticket: %d %s", st, b)
	}
	var prop struct {
		ApprovalID string `json:"approval_id"`
	}
	owner.call(http.MethodPost, "/api/v1/admin/tickets/"+tk.ID+"/propose", "application/json", `{"remedy":"replace"}`, http.StatusAccepted, &prop)
	owner.call(http.MethodPost, "/api/v1/admin/approvals/"+prop.ApprovalID, "application/json",
		fmt.Sprintf(`{"decision":"approve","totp":%q}`, code()), http.StatusOK, nil)
	owner.call(http.MethodPost, "/api/v1/admin/cases", "application/json",
		fmt.Sprintf(`{"ticket":%q,"text":{"en":"See order %s"}}`, tk.ID, o.Ref), http.StatusBadRequest, nil)
	var pc struct{ Status, Result string }
	owner.call(http.MethodPost, "/api/v1/admin/cases", "application/json",
		fmt.Sprintf(`{"ticket":%q,"text":{"en":"The platform refused the key; we sent a fresh one.","zh-CN":"平台拒绝了卡密，已补发新卡密。"},"totp":%q}`, tk.ID, code()),
		http.StatusOK, &pc)
	if pc.Status != "approved" || !strings.HasPrefix(pc.Result, "published as case ") {
		t.Fatalf("case: %+v", pc)
	}
	owner.call(http.MethodPost, "/api/v1/admin/cases", "application/json",
		fmt.Sprintf(`{"ticket":%q,"text":{"en":"Again."}}`, tk.ID), http.StatusConflict, nil)

	st, b, _ = do(http.MethodGet, "/api/v1/order", o.Token, "", "")
	var after struct{ Items []struct{ Key string } }
	if st != http.StatusOK || json.Unmarshal(b, &after) != nil || len(after.Items) != 2 {
		t.Fatalf("order after the replacement: %d %s", st, b)
	}
	secrets := []string{o.Ref, o.Token, strings.ReplaceAll(o.Token, "-", ""), tk.ID, "BUYER-WORDS-NEVER-PUBLISHED"}
	for _, it := range after.Items {
		secrets = append(secrets, it.Key)
	}
	for lang, want := range map[string][]string{
		"en":    {"The platform refused the key; we sent a fresh one.", "Evidence card", "Replacement key"},
		"zh-CN": {"平台拒绝了卡密，已补发新卡密。", "凭证卡"},
	} {
		for _, path := range []string{"/cases?lang=" + lang, "/cases?lang=" + lang + "&product=evidence-card"} {
			st, page, _ := do(http.MethodGet, path, "", "", "")
			if st != http.StatusOK {
				t.Fatalf("%s: %d", path, st)
			}
			for _, w := range want {
				if !bytes.Contains(page, []byte(w)) {
					t.Errorf("%s lacks %q", path, w)
				}
			}
			for _, s := range secrets {
				if bytes.Contains(page, []byte(s)) {
					t.Errorf("%s shows %q", path, s)
				}
			}
		}
	}
	st, b, _ = do(http.MethodGet, "/api/v1/cases?product=evidence-card", "", "", "")
	var cases struct {
		Cases []struct{ Reason, Remedy string }
		Total int
	}
	if st != http.StatusOK || json.Unmarshal(b, &cases) != nil || cases.Total != 1 || cases.Cases[0].Reason != "key_invalid" || cases.Cases[0].Remedy != "replace" {
		t.Fatalf("cases API: %d %s", st, b)
	}
	for _, s := range secrets {
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("the cases API shows %q", s)
		}
	}
	st, page, _ = do(http.MethodGet, "/p/evidence-card?lang=en", "", "", "")
	if st != http.StatusOK || !bytes.Contains(page, []byte("After-sales record")) || !bytes.Contains(page, []byte("1 of 1 delivered orders reported a problem")) ||
		!bytes.Contains(page, []byte("Published cases of this product (1)")) {
		t.Fatalf("product page: %d, figures missing", st)
	}
	// Obvious abuse of the public routes: a bad page, an unknown product.
	if st, b, _ := do(http.MethodGet, "/api/v1/cases?page=0", "", "", ""); st != http.StatusBadRequest {
		t.Errorf("page=0: %d %s", st, b)
	}
	if st, _, _ := do(http.MethodGet, "/cases?product=no-such-product", "", "", ""); st != http.StatusNotFound {
		t.Errorf("unknown product: %d", st)
	}
	// An owner withdraws the case: gone from /cases, audited.
	caseID := strings.TrimPrefix(pc.Result, "published as case ")
	owner.call(http.MethodPost, "/api/v1/admin/cases/"+caseID+"/withdraw", "application/json", "", http.StatusOK, nil)
	owner.call(http.MethodPost, "/api/v1/admin/cases/"+caseID+"/withdraw", "application/json", "", http.StatusNotFound, nil)
	if st, b, _ := do(http.MethodGet, "/api/v1/cases", "", "", ""); st != http.StatusOK || !strings.Contains(string(b), `"total":0`) {
		t.Errorf("after withdrawal: %d %s", st, b)
	}
	var audit struct {
		Entries []struct{ Action, Detail string }
	}
	owner.call(http.MethodGet, "/api/v1/admin/audit", "", "", http.StatusOK, &audit)
	if len(audit.Entries) == 0 || audit.Entries[0].Action != "case.withdraw" || audit.Entries[0].Detail != "case="+caseID {
		t.Errorf("newest audit entry %+v, want case.withdraw", audit.Entries[:min(1, len(audit.Entries))])
	}

	if err := srv.stop(); err != nil {
		t.Errorf("shutdown: %v\n%s", err, srv.stderr)
	}
	if bad := badLines(srv.stderr.String()); len(bad) > 0 {
		t.Errorf("server log:\n%s", strings.Join(bad, "\n"))
	}
	for _, s := range []string{o.Token, key} {
		if strings.Contains(srv.stderr.String(), s) {
			t.Errorf("the log holds a token or key")
		}
	}
}
