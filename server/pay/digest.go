package pay

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strings"
	"sync"
)

// digestAuth is the client side of HTTP digest authentication (RFC 7616,
// with RFC 2617's and RFC 2069's older forms), which monero-wallet-rpc
// requires when started with --rpc-login. It remembers the server's last
// challenge so that later requests authenticate at once, counting nc per
// nonce; a 401 (a new or stale nonce) refreshes it and the request is sent
// once more.
type digestAuth struct {
	user, pass string

	mu sync.Mutex
	ch *digestChallenge // the challenge in use; nil before the first 401
	nc uint32           // requests sent with ch.nonce
}

// digestChallenge is one parsed "Digest …" challenge.
type digestChallenge struct {
	realm, nonce, opaque string
	algorithm            string // canonical: MD5, MD5-sess, SHA-256, SHA-256-sess
	qopAuth              bool   // qop offered and includes "auth"
	stale                bool
}

// parseDigestChallenges reads the Digest challenges of a 401 answer's
// WWW-Authenticate headers (each header may hold several challenges) and
// returns the one to answer: the strongest algorithm we know, SHA-256
// before MD5, among those that offer qop=auth or no qop at all. Challenges
// of other schemes, with auth-int only, or with unknown algorithms are
// skipped.
func parseDigestChallenges(h http.Header) (*digestChallenge, error) {
	var best *digestChallenge
	rank := func(c *digestChallenge) int {
		switch c.algorithm {
		case "SHA-256", "SHA-256-sess":
			return 2
		}
		return 1
	}
	for _, v := range h.Values("Www-Authenticate") {
		for _, c := range splitChallenges(v) {
			if !strings.EqualFold(c.scheme, "Digest") {
				continue
			}
			d := &digestChallenge{realm: c.params["realm"], nonce: c.params["nonce"], opaque: c.params["opaque"]}
			switch alg := strings.ToUpper(c.params["algorithm"]); alg {
			case "", "MD5":
				d.algorithm = "MD5"
			case "MD5-SESS":
				d.algorithm = "MD5-sess"
			case "SHA-256":
				d.algorithm = "SHA-256"
			case "SHA-256-SESS":
				d.algorithm = "SHA-256-sess"
			default:
				continue
			}
			if qop, ok := c.params["qop"]; ok {
				for q := range strings.SplitSeq(qop, ",") {
					if strings.TrimSpace(q) == "auth" {
						d.qopAuth = true
					}
				}
				if !d.qopAuth {
					continue
				}
			}
			d.stale = strings.EqualFold(c.params["stale"], "true")
			if d.nonce == "" {
				continue
			}
			if best == nil || rank(d) > rank(best) {
				best = d
			}
		}
	}
	if best == nil {
		return nil, errors.New("pay: no digest challenge we can answer")
	}
	return best, nil
}

type authChallenge struct {
	scheme string
	params map[string]string
}

// splitChallenges parses one WWW-Authenticate value: challenges are a
// scheme token followed by comma-separated auth-params (token=token or
// token="quoted"); a bare token after a comma starts the next challenge.
func splitChallenges(s string) []authChallenge {
	var out []authChallenge
	i := 0
	skipSpace := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	token := func() string {
		start := i
		for i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != ',' && s[i] != '=' {
			i++
		}
		return s[start:i]
	}
	for i < len(s) {
		skipSpace()
		if i < len(s) && s[i] == ',' {
			i++
			continue
		}
		name := token()
		if name == "" {
			i++
			continue
		}
		skipSpace()
		if i < len(s) && s[i] == '=' {
			// An auth-param of the current challenge.
			i++
			skipSpace()
			var val string
			if i < len(s) && s[i] == '"' {
				i++
				var b strings.Builder
				for i < len(s) && s[i] != '"' {
					if s[i] == '\\' && i+1 < len(s) {
						i++
					}
					b.WriteByte(s[i])
					i++
				}
				i++ // closing quote
				val = b.String()
			} else {
				val = token()
			}
			if len(out) > 0 {
				out[len(out)-1].params[strings.ToLower(name)] = val
			}
			continue
		}
		out = append(out, authChallenge{scheme: name, params: map[string]string{}})
	}
	return out
}

func (c *digestChallenge) newHash() hash.Hash {
	if strings.HasPrefix(c.algorithm, "SHA-256") {
		return sha256.New()
	}
	return md5.New()
}

func (c *digestChallenge) h(parts ...string) string {
	hh := c.newHash()
	hh.Write([]byte(strings.Join(parts, ":")))
	return hex.EncodeToString(hh.Sum(nil))
}

// response computes the digest response (RFC 7616 §3.4.1).
func (c *digestChallenge) response(user, pass, method, uri, cnonce, nc string) string {
	ha1 := c.h(user, c.realm, pass)
	if strings.HasSuffix(c.algorithm, "-sess") {
		ha1 = c.h(ha1, c.nonce, cnonce)
	}
	ha2 := c.h(method, uri)
	if !c.qopAuth {
		return c.h(ha1, c.nonce, ha2)
	}
	return c.h(ha1, c.nonce, nc, cnonce, "auth", ha2)
}

// header builds the Authorization header for one request.
func (c *digestChallenge) header(user, pass, method, uri, cnonce string, nc uint32) string {
	ncs := fmt.Sprintf("%08x", nc)
	var b strings.Builder
	fmt.Fprintf(&b, `Digest username=%s, realm=%s, nonce=%s, uri=%s, algorithm=%s, response="%s"`,
		quote(user), quote(c.realm), quote(c.nonce), quote(uri), c.algorithm, c.response(user, pass, method, uri, cnonce, ncs))
	if c.qopAuth {
		fmt.Fprintf(&b, `, qop=auth, nc=%s, cnonce=%s`, ncs, quote(cnonce))
	}
	if c.opaque != "" {
		fmt.Fprintf(&b, `, opaque=%s`, quote(c.opaque))
	}
	return b.String()
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func newCnonce() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawStdEncoding.EncodeToString(b[:])
}

// authorize sets r's Authorization header from the remembered challenge,
// if there is one.
func (d *digestAuth) authorize(r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ch == nil {
		return
	}
	d.nc++
	r.Header.Set("Authorization", d.ch.header(d.user, d.pass, r.Method, r.URL.RequestURI(), newCnonce(), d.nc))
}

// challenge remembers the challenge of a 401 answer. It reports false
// when the answer cannot be met (no usable challenge, or the server
// refused an answer to a fresh, non-stale nonce: wrong credentials).
func (d *digestAuth) challenge(h http.Header, sentAuth bool) bool {
	c, err := parseDigestChallenges(h)
	if err != nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if sentAuth && !c.stale && d.ch != nil && d.ch.nonce == c.nonce {
		return false
	}
	d.ch, d.nc = c, 0
	return true
}
