package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"veil/server/shop"
)

// TestPrivacyProof is issue 6's proof: after orders, tickets, a chat and a
// purge, neither the data directory (Badger's SST, WAL, manifest, value log:
// every file) nor any log line holds a token, a key, a ticket or chat text,
// a client address, or an exact timestamp of a purged order.
func TestPrivacyProof(t *testing.T) {
	e := newSupportEnv(t, 0)
	keys := []string{"PRIV-KEY-AAAA-0001", "PRIV-KEY-BBBB-0002", "PRIV-KEY-CCCC-0003", "PRIV-KEY-DDDD-0004"}
	p := e.addProduct(t, "private", keys...)
	var secrets []string
	secrets = append(secrets, keys...)
	var refs []string
	for i := range 3 {
		// Orders at their own seconds, apart from the product's and
		// batch's times (which are kept, and are no order's).
		e.clock.Add(time.Hour + time.Duration(i)*time.Minute + 7*time.Second)
		o := e.placeAPI(t, p.ID, 1)
		e.pay(t, o.Ref)
		if w := e.bearerDo(t, http.MethodGet, "/api/v1/order", o.Token, ""); w.Code != http.StatusOK {
			t.Fatalf("retrieve: %d", w.Code)
		}
		detail := fmt.Sprintf("TICKET-TEXT-%d-QWERTY", i)
		if w := e.bearerDo(t, http.MethodPost, "/api/v1/order/tickets", o.Token, `{"reason":"other","detail":"`+detail+`"}`); w.Code != http.StatusCreated {
			t.Fatalf("ticket: %d %s", w.Code, w.Body)
		}
		secrets = append(secrets, o.Token, stripDashes(o.Token), detail)
		refs = append(refs, o.Ref)
		if i == 0 {
			// A live chat over a real WebSocket on 127.0.0.1.
			w := e.bearerDo(t, http.MethodPost, "/api/v1/order/chat", o.Token, "")
			var room struct {
				Room       string `json:"room"`
				JoinSecret string `json:"join_secret"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &room); err != nil || w.Code != http.StatusCreated {
				t.Fatalf("chat: %d %s", w.Code, w.Body)
			}
			buyer := dialChat(t, e.ts, "/chat/ws", room.JoinSecret)
			staffSecret, err := e.hub.StaffSecret(room.Room, "alice")
			if err != nil {
				t.Fatal(err)
			}
			staff := dialChat(t, e.ts, "/chat/ws", staffSecret)
			const chat = "CHAT-TEXT-ZXCVBN my code fails"
			buyer.send(map[string]string{"type": "msg", "text": chat})
			for f := staff.next("msg"); f.Text != chat; f = staff.next("msg") {
			}
			buyer.send(map[string]string{"type": "end"})
			staff.next("closed")
			secrets = append(secrets, chat, room.JoinSecret, staffSecret)
		}
	}
	// The exact times of these orders, as the store wrote them.
	for _, ref := range refs {
		o, err := e.shop.OrderByRef(ref)
		if err != nil {
			t.Fatal(err)
		}
		for _, ts := range []time.Time{o.CreatedAt, o.PaidAt, o.DeliveredAt, o.ExpiresAt, o.WindowEnds} {
			secrets = append(secrets, ts.UTC().Format(time.RFC3339), fmt.Sprintf("%012d", ts.Unix()))
		}
	}

	// Settle (72 h window), then let retention (183 days by default) run out and purge.
	e.clock.Add(73 * time.Hour)
	if r, err := e.shop.Sweep(); err != nil || r.Settled != 3 {
		t.Fatalf("settle: %+v %v", r, err)
	}
	e.clock.Add(184 * 24 * time.Hour)
	res, err := e.shop.Purge(false, nil)
	if err != nil || res.Purged != 3 {
		t.Fatalf("purge: %+v %v", res, err)
	}
	for _, ref := range refs {
		if _, err := e.shop.OrderByRef(ref); err != shop.ErrOrderNotFound {
			t.Fatalf("purged order %s still there: %v", ref, err)
		}
		if n, _ := e.threads.Count(ref); n != 0 {
			t.Fatalf("thread of %s survived the purge", ref)
		}
	}
	e.closeAll()

	secrets = append(secrets, "127.0.0.1", "192.0.2.1")
	files, size := 0, 0
	err = filepath.WalkDir(e.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files, size = files+1, size+len(b)
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds %q in the clear", filepath.Base(path), s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	logs := []byte(e.logs.String())
	if files == 0 || size == 0 || len(logs) == 0 {
		t.Fatal("nothing scanned: the proof proves nothing")
	}
	for _, s := range secrets {
		if bytes.Contains(logs, []byte(s)) {
			t.Errorf("the logs hold %q", s)
		}
	}
	t.Logf("scanned %d files (%d bytes) and %d bytes of logs for %d secrets", files, size, len(logs), len(secrets))
}

func stripDashes(s string) string { return string(bytes.ReplaceAll([]byte(s), []byte("-"), nil)) }
