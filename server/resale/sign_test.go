package resale

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// The worked example of server/API.md ("Signing a request"): the numbers
// there must be the ones this code computes.
const (
	exSecret    = "rs_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8" // bytes 0..31, base64url
	exKeyID     = "rk_0123456789abcdefghjk"
	exTimestamp = "1796292000"
	exNonce     = "n3x4mpl3n0nc3v4lu3"
	exIdem      = "order-R-7K2M9QXA"
	exBody      = `{"product":"game","quantity":1}`
	exBodyHash  = "91a7cfdfe7888db0e1656610e6a3bc917845874b131319c281b529133c8a0348"
	exSignature = "a5061a14e8967e3838534e0d4f68d9379a850a0f296a3347d601e25a5fb9e80c"
)

func TestSignatureWorkedExample(t *testing.T) {
	c := Canonical("post", "/api/v1/reseller/orders", exTimestamp, exNonce, exIdem, []byte(exBody))
	want := "VEIL-HMAC-SHA256\nPOST\n/api/v1/reseller/orders\n" + exTimestamp + "\n" + exNonce + "\n" + exIdem + "\n" + exBodyHash
	if c != want {
		t.Fatalf("canonical %q", c)
	}
	if got := Sign(exSecret, c); got != exSignature {
		t.Fatalf("signature %s", got)
	}
	req, _ := http.NewRequest("POST", "https://upstream.example/api/v1/reseller/orders", strings.NewReader(exBody))
	SignRequest(req, exKeyID, exSecret, []byte(exBody), time.Unix(1796292000, 0), exNonce, exIdem)
	if req.Header.Get(HeaderSignature) != exSignature || req.Header.Get(HeaderTimestamp) != exTimestamp {
		t.Fatalf("headers %v", req.Header)
	}
	sg, err := ParseSigned(req)
	if err != nil || !sg.Verify(req, exSecret, []byte(exBody)) || sg.Verify(req, exSecret, []byte(exBody+" ")) {
		t.Fatalf("verify: %v", err)
	}
	doc, err := os.ReadFile("../API.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{exSecret, exKeyID, exTimestamp, exNonce, exIdem, exBody, exBodyHash, exSignature} {
		if !strings.Contains(string(doc), s) {
			t.Errorf("server/API.md does not show %q", s)
		}
	}
}

func TestParseSignedRefusesMalformed(t *testing.T) {
	for name, h := range map[string]map[string]string{
		"no signature":  {HeaderKey: "rk_x", HeaderTimestamp: "1", HeaderNonce: "nnnnnnnnnnnnnnnn"},
		"short nonce":   {HeaderKey: "rk_x", HeaderTimestamp: "1", HeaderNonce: "abc", HeaderSignature: "00"},
		"nonce chars":   {HeaderKey: "rk_x", HeaderTimestamp: "1", HeaderNonce: "nnnnnnnnnnnnnnn/", HeaderSignature: "00"},
		"ts sign":       {HeaderKey: "rk_x", HeaderTimestamp: "+1", HeaderNonce: "nnnnnnnnnnnnnnnn", HeaderSignature: "00"},
		"ts zero pad":   {HeaderKey: "rk_x", HeaderTimestamp: "01", HeaderNonce: "nnnnnnnnnnnnnnnn", HeaderSignature: "00"},
		"idem too long": {HeaderKey: "rk_x", HeaderTimestamp: "1", HeaderNonce: "nnnnnnnnnnnnnnnn", HeaderSignature: "00", HeaderIdempotency: strings.Repeat("k", 129)},
	} {
		req, _ := http.NewRequest("GET", "/", nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		if _, err := ParseSigned(req); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
