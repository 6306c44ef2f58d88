package pay

import (
	"net/http"
	"strings"
	"testing"
)

// TestDigestResponseKnownAnswer pins the response to the RFC examples
// (RFC 7616 §3.9.1 for MD5 and SHA-256, RFC 2617 §3.5) and to an
// MD5-sess value computed with md5sum.
func TestDigestResponseKnownAnswer(t *testing.T) {
	const nonce7616 = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
	const cnonce7616 = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
	for _, tc := range []struct {
		name                    string
		c                       digestChallenge
		user, pass, method, uri string
		cnonce, nc              string
		want                    string
	}{
		{"RFC 7616 MD5", digestChallenge{realm: "http-auth@example.org", nonce: nonce7616, algorithm: "MD5", qopAuth: true},
			"Mufasa", "Circle of Life", "GET", "/dir/index.html", cnonce7616, "00000001", "8ca523f5e9506fed4657c9700eebdbec"},
		{"RFC 7616 SHA-256", digestChallenge{realm: "http-auth@example.org", nonce: nonce7616, algorithm: "SHA-256", qopAuth: true},
			"Mufasa", "Circle of Life", "GET", "/dir/index.html", cnonce7616, "00000001", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"},
		{"RFC 2617", digestChallenge{realm: "testrealm@host.com", nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", algorithm: "MD5", qopAuth: true},
			"Mufasa", "Circle Of Life", "GET", "/dir/index.html", "0a4f113b", "00000001", "6629fae49393a05397450978507c4ef1"},
		{"MD5-sess", digestChallenge{realm: "monero-rpc", nonce: "abc==", algorithm: "MD5-sess", qopAuth: true},
			"veil", "s3cret", "POST", "/json_rpc", "cn1", "0000000a", "c51d13b154b13c0aba59814a6c2473bb"},
	} {
		if got := tc.c.response(tc.user, tc.pass, tc.method, tc.uri, tc.cnonce, tc.nc); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestParseDigestChallenges(t *testing.T) {
	h := func(vals ...string) http.Header {
		hh := http.Header{}
		for _, v := range vals {
			hh.Add("WWW-Authenticate", v)
		}
		return hh
	}
	for _, tc := range []struct {
		name    string
		h       http.Header
		alg     string
		nonce   string
		qopAuth bool
		stale   bool
	}{
		// What monero-wallet-rpc sends: two headers.
		{"epee", h(`Digest qop="auth",algorithm=MD5,realm="monero-rpc",nonce="/U16uqlbVj09s4gZvTLNEQ==",stale=false`,
			`Digest qop="auth",algorithm=MD5-sess,realm="monero-rpc",nonce="/U16uqlbVj09s4gZvTLNEQ==",stale=false`),
			"MD5", "/U16uqlbVj09s4gZvTLNEQ==", true, false},
		{"SHA-256 preferred, one header", h(`Basic realm="x", Digest realm="r", nonce="n1", qop="auth, auth-int", algorithm=MD5, Digest realm="r", nonce="n2", qop="auth", algorithm=SHA-256`),
			"SHA-256", "n2", true, false},
		{"RFC 2069, no qop", h(`Digest realm="r", nonce="n"`), "MD5", "n", false, false},
		{"stale", h(`Digest realm="r", nonce="n", qop="auth", stale=TRUE`), "MD5", "n", true, true},
		{"escaped quote", h(`Digest realm="a\"b", nonce="n", qop="auth"`), "MD5", "n", true, false},
	} {
		c, err := parseDigestChallenges(tc.h)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if c.algorithm != tc.alg || c.nonce != tc.nonce || c.qopAuth != tc.qopAuth || c.stale != tc.stale {
			t.Errorf("%s: %+v", tc.name, c)
		}
	}
	for name, hh := range map[string]http.Header{
		"none":          {},
		"basic only":    h(`Basic realm="x"`),
		"auth-int only": h(`Digest realm="r", nonce="n", qop="auth-int"`),
		"unknown alg":   h(`Digest realm="r", nonce="n", algorithm=SHA-512-256`),
		"no nonce":      h(`Digest realm="r", qop="auth"`),
	} {
		if c, err := parseDigestChallenges(hh); err == nil {
			t.Errorf("%s: accepted %+v", name, c)
		}
	}
	c, _ := parseDigestChallenges(h(`Digest realm="a\"b", nonce="n", qop="auth", opaque="o"`))
	hdr := c.header(`us"er`, "pw", "POST", "/json_rpc", "cn", 1)
	for _, want := range []string{`username="us\"er"`, `realm="a\"b"`, `uri="/json_rpc"`, `nc=00000001`, `qop=auth`, `cnonce="cn"`, `opaque="o"`, `algorithm=MD5`} {
		if !strings.Contains(hdr, want) {
			t.Errorf("header %s lacks %s", hdr, want)
		}
	}
}
