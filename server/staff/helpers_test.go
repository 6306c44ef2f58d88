package staff

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"veil/server/store"
)

// cheapArgon keeps tests fast; production uses DefaultArgon2.
var cheapArgon = Argon2Params{Time: 1, MemoryKiB: 256, Threads: 1}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t   testing.TB
	s   *Service
	db  *store.DB
	clk *clock
	// secrets of the users made by the helpers
	mu      sync.Mutex
	secrets map[string]string
}

const testPassword = "correct horse battery"

func newEnv(t testing.TB) *env {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	// Start mid-step so ±1 steps are unambiguous.
	clk := &clock{t: time.Date(2025, 3, 1, 12, 0, 10, 0, time.UTC)}
	s := New(db, Options{Now: clk.Now, Argon2: cheapArgon})
	s.RegisterExecutor(KindRefund, "", refundExecutor)
	s.RegisterExecutor(KindExport, "", countingExecutor("test/exports"))
	s.RegisterExecutor(KindReplacement, "", countingExecutor("test/replacements"))
	return &env{t: t, s: s, db: db, clk: clk, secrets: map[string]string{}}
}

// refundExecutor counts its effects in the store, inside the approving
// transaction, so the test sees exactly what committed.
func refundExecutor(tx *store.Txn, a Approval) (string, error) {
	return countingExecutor("test/refunds/"+a.Ref)(tx, a)
}

func countingExecutor(key string) Executor {
	return func(tx *store.Txn, a Approval) (string, error) {
		n := 0
		if b, err := tx.Get(key); err == nil {
			n, _ = strconv.Atoi(string(b))
		} else if !errors.Is(err, store.ErrNotFound) {
			return "", err
		}
		n++
		if err := tx.Set(key, []byte(strconv.Itoa(n))); err != nil {
			return "", err
		}
		return "done " + strconv.Itoa(n), nil
	}
}

func (e *env) count(key string) int {
	e.t.Helper()
	n := 0
	err := e.db.View(func(tx *store.Txn) error {
		b, err := tx.Get(key)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		n, err = strconv.Atoi(string(b))
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// code is name's TOTP code at the clock's time plus offset steps.
func (e *env) code(name string, offsetSteps int) string {
	e.t.Helper()
	e.mu.Lock()
	secret := e.secrets[name]
	e.mu.Unlock()
	c, err := totp.GenerateCodeCustom(secret, e.clk.Now().Add(time.Duration(offsetSteps)*30*time.Second), totpOpts)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// nextStep moves the clock to the next TOTP step.
func (e *env) nextStep() { e.clk.Add(30 * time.Second) }

// owner bootstraps the first owner.
func (e *env) owner(name string) {
	e.t.Helper()
	en, codes, err := e.s.Bootstrap(name, testPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(codes) != recoveryCount {
		e.t.Fatalf("got %d recovery codes", len(codes))
	}
	e.mu.Lock()
	e.secrets[name] = en.Secret
	e.mu.Unlock()
}

// user creates and enrols a user; it spends the current step of that user.
func (e *env) user(name string, role Role) []string {
	e.t.Helper()
	enrol, err := e.s.CreateUser(context.Background(), name, role, "cli")
	if err != nil {
		e.t.Fatal(err)
	}
	en, err := e.s.PendingEnrolment(name, enrol)
	if err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	e.secrets[name] = en.Secret
	e.mu.Unlock()
	codes, err := e.s.FinishEnrolment(name, enrol, testPassword, e.code(name, 0))
	if err != nil {
		e.t.Fatal(err)
	}
	return codes
}

func (e *env) auditEntries() []AuditEntry {
	e.t.Helper()
	var all []AuditEntry
	cursor := uint64(0)
	for {
		page, next, err := e.s.Audit(cursor, 7)
		if err != nil {
			e.t.Fatal(err)
		}
		all = append(all, page...)
		if next == 0 {
			return all
		}
		cursor = next
	}
}

func (e *env) countAudit(action, ref string) int {
	n := 0
	for _, a := range e.auditEntries() {
		if a.Action == action && (ref == "" || a.Ref == ref) {
			n++
		}
	}
	return n
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantErr(t testing.TB, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Fatalf("got error %v (code %q), want %v", got, Code(got), want)
	}
}
