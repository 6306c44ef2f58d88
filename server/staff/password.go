package staff

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

const argonKeyLen = 32

var b64 = base64.RawStdEncoding

// hashPassword returns a PHC-style argon2id string:
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<key>.
func (s *Service) hashPassword(password string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails (Go ≥ 1.24)
	p := s.opts.Argon2
	key := s.argon(password, salt, p)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// argon runs one hash, waiting for a slot so concurrent logins cannot
// exhaust memory.
func (s *Service) argon(password string, salt []byte, p Argon2Params) []byte {
	s.hashSem <- struct{}{}
	defer func() { <-s.hashSem }()
	return argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, argonKeyLen)
}

// checkPassword reports whether password matches the encoded hash.
func (s *Service) checkPassword(encoded, password string) bool {
	p, salt, want, ok := parseHash(encoded)
	if !ok {
		return false
	}
	got := s.argon(password, salt, p)
	return subtle.ConstantTimeCompare(got, want) == 1
}

// spendHash costs what a real check costs, for unknown users, so response
// time does not tell which names exist.
func (s *Service) spendHash(password string) {
	s.argon(password, []byte("veil-unknown-usr"), s.opts.Argon2)
}

func parseHash(encoded string) (p Argon2Params, salt, key []byte, ok bool) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, nil, nil, false
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, false
	}
	if p.Time == 0 || p.Threads == 0 || p.MemoryKiB < 8*uint32(p.Threads) {
		return p, nil, nil, false
	}
	var err error
	if salt, err = b64.DecodeString(parts[4]); err != nil {
		return p, nil, nil, false
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) != argonKeyLen {
		return p, nil, nil, false
	}
	return p, salt, key, true
}

func validPassword(pw string) bool {
	n := len([]rune(pw))
	return n >= 10 && len(pw) <= 256
}
