package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"veil/server/shop"
)

// raceBinary reports whether the crash test should build veil with the
// race detector: only when asked (VEIL_CRASH_RACE=1) and the test itself
// runs with it. A race-built veil spends about ten seconds in the vault's
// scrypt at every start, too slow for CI's cycles.
func raceBinary() bool {
	if os.Getenv("VEIL_CRASH_RACE") != "1" {
		return false
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// buildVeil builds this package's binary into a temp dir.
func buildVeil(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the crash test builds veil and needs the go command: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "veil")
	args := []string{"build", "-o", bin}
	if raceBinary() {
		args = append(args, "-race")
	}
	cmd := exec.Command(goBin, append(args, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeAddr returns a loopback address with a port nobody listens on now.
// Every restart of the server reuses it.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// syncBuffer collects a child's stderr.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// veilProc is one running `veil serve`.
type veilProc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
	err    error // the exit, once done is closed
}

// startVeil starts `veil args...` and waits until base answers the
// catalog, failing if the process exits first.
func startVeil(t *testing.T, bin, base string, args ...string) *veilProc {
	t.Helper()
	p := &veilProc{cmd: exec.Command(bin, args...), stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout = io.Discard
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case <-p.done:
			t.Fatalf("veil serve exited before answering: %v\n%s", p.err, p.stderr)
		default:
		}
		resp, err := c.Get(base + "/api/v1/products")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("veil serve never answered\n%s", p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill is kill -9: no shutdown, no flush, nothing.
func (p *veilProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// stop asks for a clean shutdown (SIGTERM) and returns the exit.
func (p *veilProc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(30 * time.Second):
		p.kill()
		return errors.New("no exit 30 s after SIGTERM")
	}
}

// badLines returns the lines of a child's log that show a bug: a panic, a
// data race, or an error logged by the server.
func badLines(log string) []string {
	var bad []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "level=ERROR") || strings.Contains(l, "DATA RACE") || strings.HasPrefix(l, "panic:") ||
			strings.HasPrefix(l, "fatal error:") {
			bad = append(bad, l)
		}
	}
	return bad
}

// epaySign is the 易支付 signature of docs/payments.md, written out again
// here so that the test does not trust the code under test: the non-empty
// parameters but sign and sign_type, sorted by name, joined as k=v&k=v,
// the merchant key appended, lowercase hex MD5.
func epaySign(params map[string]string, key string) string {
	var names []string
	for k, v := range params {
		if k != "sign" && k != "sign_type" && v != "" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for i, k := range names {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k + "=" + params[k])
	}
	sum := md5.Sum([]byte(b.String() + key))
	return hex.EncodeToString(sum[:])
}

// yuan prints minor units the way a gateway sends money: 990 is "9.90".
func yuan(minor int64) string { return fmt.Sprintf("%d.%02d", minor/100, minor%100) }

// console is a staff member signed in to the console API over HTTP.
type console struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

// signIn logs the owner in with a code from the TOTP secret `veil init`
// printed.
func signIn(t *testing.T, base, user, password, secret string) *console {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &console{t: t, base: base, c: &http.Client{Jar: jar, Timeout: time.Minute}}
	code, err := totp.GenerateCodeCustom(secret, time.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"user": user, "password": password, "totp": code})
	var out struct{ CSRF string }
	c.call(http.MethodPost, "/api/v1/admin/session", "application/json", string(body), http.StatusOK, &out)
	if out.CSRF == "" {
		t.Fatal("sign-in gave no CSRF token")
	}
	c.csrf = out.CSRF
	return c
}

// call makes one console request and decodes the answer, which must have
// status want.
func (c *console) call(method, path, ctype, body string, want int, out any) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

// initAnswer is what `veil init --json` prints.
type initAnswer struct {
	Owner          string   `json:"owner"`
	TOTPSecret     string   `json:"totp_secret"`
	OTPAuthURL     string   `json:"otpauth_url"`
	BackupIdentity string   `json:"backup_identity"`
	RecoveryCodes  []string `json:"recovery_codes"`
}

// testShop is a shop made by the real binary's `veil init --json` in a
// temp dir, with owner "owner".
type testShop struct {
	dir, data, password, ppFile string
	ini                         initAnswer
}

// initVeil runs `veil init` for owner "owner" with password and
// passphrase, and writes each of files (name → content) into the shop's
// temp dir; file gives their paths.
func initVeil(t *testing.T, bin, password, passphrase string, files map[string]string) testShop {
	t.Helper()
	dir := t.TempDir()
	s := testShop{dir: dir, data: filepath.Join(dir, "data"), password: password, ppFile: filepath.Join(dir, "passphrase")}
	pwFile := filepath.Join(dir, "password")
	all := map[string]string{"password": password, "passphrase": passphrase}
	for name, content := range files {
		all[name] = content
	}
	for name, content := range all {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(bin, "init", "--data", s.data, "--owner", "owner",
		"--password-file", pwFile, "--passphrase-file", s.ppFile, "--json").Output()
	if err != nil {
		t.Fatalf("veil init: %v", err)
	}
	if err := json.Unmarshal(out, &s.ini); err != nil || s.ini.Owner != "owner" || s.ini.TOTPSecret == "" {
		t.Fatalf("veil init --json: %v %s", err, out)
	}
	return s
}

// file is the path of a file initVeil wrote.
func (s testShop) file(name string) string { return filepath.Join(s.dir, name) }

// newInitApp opens an app on a fresh temp dir (cheap vault work factor) and
// runs init for owner "owner"; the app closes when the test ends.
func newInitApp(t *testing.T) *app {
	t.Helper()
	a, err := openAppWith(t.TempDir(), slog.New(slog.DiscardHandler), shop.Config{VaultWorkFactor: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if _, err := initShop(a, "owner", "a long password", "vault passphrase"); err != nil {
		t.Fatal(err)
	}
	return a
}
