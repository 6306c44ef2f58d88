package staff

import (
	"testing"
)

// BenchmarkCheckTOTP measures one guard pass: three HMACs and a durable
// store transaction (SyncWrites). Each iteration moves to the next step,
// so every code is fresh; generating it is part of the measured loop.
func BenchmarkCheckTOTP(b *testing.B) {
	e := newEnv(b)
	e.owner("olga")
	for b.Loop() {
		e.nextStep()
		if err := e.s.CheckTOTP("olga", e.code("olga", 0)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLogin measures a full login with the production argon2id
// parameters (DefaultArgon2): password hash, TOTP guard, session write and
// its audit entry.
func BenchmarkLogin(b *testing.B) {
	e := newEnv(b)
	e.s = New(e.db, Options{Now: e.clk.Now})
	e.owner("olga")
	for b.Loop() {
		e.nextStep()
		if _, err := e.s.Login("olga", testPassword, e.code("olga", 0)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoginUnknownUser shows that a login for a name that does not
// exist costs the same hash as a real one.
func BenchmarkLoginUnknownUser(b *testing.B) {
	e := newEnv(b)
	e.s = New(e.db, Options{Now: e.clk.Now})
	for b.Loop() {
		if _, err := e.s.Login("ghost", testPassword, "123456"); err == nil {
			b.Fatal("ghost logged in")
		}
	}
}

// BenchmarkLoginWrongPassword is the twin of BenchmarkLoginUnknownUser: the
// two must cost the same (one hash, one durable commit), or timing would
// tell which names exist. The lockout is out of the way so every
// iteration is a real refusal.
func BenchmarkLoginWrongPassword(b *testing.B) {
	e := newEnv(b)
	e.s = New(e.db, Options{Now: e.clk.Now, MaxFailures: 1 << 30})
	e.owner("olga")
	for b.Loop() {
		if _, err := e.s.Login("olga", "wrong password!", "123456"); err == nil {
			b.Fatal("logged in")
		}
	}
}

// BenchmarkLoginWrongCode is the third twin: the right password with a
// wrong code must cost what a wrong password costs, or timing would tell a
// right password apart.
func BenchmarkLoginWrongCode(b *testing.B) {
	e := newEnv(b)
	e.s = New(e.db, Options{Now: e.clk.Now, MaxFailures: 1 << 30})
	e.owner("olga")
	for b.Loop() {
		if _, err := e.s.Login("olga", testPassword, "12345x"); err == nil {
			b.Fatal("logged in")
		}
	}
}
