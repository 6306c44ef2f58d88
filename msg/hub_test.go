package msg

import (
	"bytes"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"veil/crypto"
)

func TestRoomLifecycle(t *testing.T) {
	e := newEnv(t)
	rm := e.open("R-LIFE0001")
	if rm.ID == "" || len(rm.BuyerSecret) != 43 {
		t.Fatalf("Open = %+v", rm)
	}
	staff1 := e.staffSecret(rm.ID, "alice")
	staff2 := e.staffSecret(rm.ID, "bob") // never used before the room ends

	buyer := e.join(rm.BuyerSecret, RoleBuyer)
	staff := e.join(staff1, RoleStaff)

	info := e.hub.Waiting()
	if len(info) != 1 || info[0].ID != rm.ID || info[0].Ref != "R-LIFE0001" || !info[0].BuyerJoined || !info[0].StaffJoined {
		t.Fatalf("Waiting = %+v", info)
	}

	hello, reply := uniq("my key says already used"), uniq("sorry, here is how")
	buyer.say(hello)
	buyer.expectMsg(FromBuyer, hello)
	staff.expectMsg(FromBuyer, hello)
	staff.say(reply)
	buyer.expectMsg(FromStaff, reply)
	staff.expectMsg(FromStaff, reply)

	staff.send(map[string]string{"type": "end"})
	for _, c := range []*client{buyer, staff} {
		if f := c.next(); f.Type != "closed" || f.Reason != ReasonEndedByStaff {
			t.Fatalf("got %+v, want closed ended_by_staff", f)
		}
		if code := c.expectEnd(); code != websocket.CloseNormalClosure {
			t.Fatalf("close code %d", code)
		}
	}

	// The room never reopens.
	if _, err := e.hub.StaffSecret(rm.ID, "alice"); !errors.Is(err, ErrRoomClosed) || Code(err) != "room_closed" {
		t.Fatalf("StaffSecret on a closed room: %v", err)
	}
	late := e.dial()
	late.send(map[string]string{"type": "join", "secret": staff2})
	late.expectError("room_closed")
	late.expectEnd()
	if w := e.hub.Waiting(); len(w) != 0 {
		t.Fatalf("Waiting after close = %+v", w)
	}

	// A used secret is refused.
	for _, s := range []string{rm.BuyerSecret, staff1, "not-a-secret"} {
		c := e.dial()
		c.send(map[string]string{"type": "join", "secret": s})
		c.expectError("bad_secret")
		c.expectEnd()
	}

	// A new room for the order is a new room.
	rm2 := e.open("R-LIFE0001")
	if rm2.ID == rm.ID || rm2.BuyerSecret == rm.BuyerSecret {
		t.Fatalf("reopened: %+v after %+v", rm2, rm)
	}

	msgs, next, err := e.threads.Read("R-LIFE0001", e.order.Age(), 0, 0)
	if err != nil || next != 0 || len(msgs) != 2 {
		t.Fatalf("Read = %+v, %d, %v", msgs, next, err)
	}
	if msgs[0].From != FromBuyer || msgs[0].Text != hello || msgs[1].From != FromStaff || msgs[1].Staff != "alice" || msgs[1].Text != reply {
		t.Fatalf("thread = %+v", msgs)
	}
}

func TestOneOpenRoomPerOrder(t *testing.T) {
	e := newEnv(t)
	rm := e.open("R-ONE00001")
	again, err := e.hub.Open("R-ONE00001", e.recipients)
	if !errors.Is(err, ErrRoomOpen) || Code(err) != "room_open" || again.ID != rm.ID || again.BuyerSecret != "" {
		t.Fatalf("second Open = %+v, %v", again, err)
	}
	buyer := e.join(rm.BuyerSecret, RoleBuyer)
	if err := e.hub.EndOrder("R-ONE00001"); err != nil {
		t.Fatal(err)
	}
	if f := buyer.next(); f.Type != "closed" || f.Reason != ReasonEndedByBuyer {
		t.Fatalf("got %+v", f)
	}
	buyer.expectEnd()
	if _, err := e.hub.Open("R-ONE00001", e.recipients); err != nil {
		t.Fatalf("Open after EndOrder: %v", err)
	}
}

func TestCrossOriginRefused(t *testing.T) {
	e := newEnv(t)
	rm := e.open("R-ORIGIN01")
	for _, origin := range []string{"http://evil.example", "null", ""} {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		ws, resp, err := websocket.DefaultDialer.Dial(e.wsURL(), h)
		if err == nil {
			ws.Close()
			t.Fatalf("origin %q: upgraded", origin)
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden || resp.Header.Get("Upgrade") != "" {
			t.Fatalf("origin %q: %v, %+v", origin, err, resp)
		}
		resp.Body.Close()
	}
	// The refused attempts spent nothing: the buyer still joins.
	e.join(rm.BuyerSecret, RoleBuyer)
}

func TestSameHost(t *testing.T) {
	for _, tc := range []struct {
		origin, host string
		ok           bool
	}{
		{"https://shop.example", "shop.example", true},
		{"http://127.0.0.1:8080", "127.0.0.1:8080", true},
		{"https://SHOP.example", "shop.example", true},
		{"https://shop.example:8443", "shop.example", false},
		{"https://evil.example", "shop.example", false},
		{"ftp://shop.example", "shop.example", false},
		{"null", "shop.example", false},
		{"", "shop.example", false},
	} {
		r, _ := http.NewRequest("GET", "http://"+tc.host+"/chat/ws", nil)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if got := SameHost(r); got != tc.ok {
			t.Errorf("SameHost(%q on %q) = %v", tc.origin, tc.host, got)
		}
	}
}

func TestOversizeFrame(t *testing.T) {
	e := newEnv(t)
	rm := e.open("R-BIG00001")
	buyer := e.join(rm.BuyerSecret, RoleBuyer)
	staff := e.join(e.staffSecret(rm.ID, "alice"), RoleStaff)

	// A text over the limit in a frame within it: an error, nothing more.
	buyer.say(strings.Repeat("x", MaxTextBytes+1))
	buyer.expectError("too_large")
	first := uniq("still here")
	buyer.say(first)
	buyer.expectMsg(FromBuyer, first)
	staff.expectMsg(FromBuyer, first)

	// A frame over the limit: an error frame, then that connection closes.
	buyer.say(strings.Repeat("y", MaxTextBytes+2*frameOverhead))
	buyer.expectError("too_large")
	if code := buyer.expectEnd(); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code %d, want %d", code, websocket.CloseMessageTooBig)
	}
	eventually(t, "buyer gone from the room", func() bool {
		w := e.hub.Waiting()
		return len(w) == 1 && !w[0].BuyerJoined && w[0].StaffJoined
	})

	// The room keeps working for the other side.
	after := uniq("staff after the oversize frame")
	staff.say(after)
	staff.expectMsg(FromStaff, after)
	msgs, _, err := e.threads.Read("R-BIG00001", e.support.Age(), 0, 0)
	if err != nil || len(msgs) != 2 || msgs[0].Text != first || msgs[1].Text != after {
		t.Fatalf("thread = %+v, %v", msgs, err)
	}

	// Far past the limit gorilla closes at once; the room still works.
	staff2 := e.join(e.staffSecret(rm.ID, "bob"), RoleStaff)
	// The server may close before this write is done: its error is expected.
	_ = staff2.ws.WriteJSON(map[string]string{"type": "msg", "text": strings.Repeat("z", 10*(MaxTextBytes+frameOverhead))})
	for {
		f, err := staff2.read()
		if err != nil {
			break
		}
		if f.Type == "msg" {
			continue // this room's history
		}
		if f.Type != "error" || f.Code != "too_large" {
			t.Fatalf("got %+v", f)
		}
	}
	last := uniq("and still")
	staff.say(last)
	staff.expectMsg(FromStaff, last)
}

// A client that stops reading is dropped; the other side never waits.
func TestSlowReaderDropped(t *testing.T) {
	e := newEnv(t, smallBuffers, func(c *HubConfig, _ *httptest.Server) { c.MessagesPerMinute = 100000 })
	rm := e.open("R-SLOW0001")
	buyerSecret := rm.BuyerSecret
	buyer := e.dialWith(smallDialer())
	buyer.send(map[string]string{"type": "join", "secret": buyerSecret})
	if f := buyer.next(); f.Type != "joined" {
		t.Fatalf("got %+v", f)
	}
	// From here on the buyer never reads.
	staff := e.join(e.staffSecret(rm.ID, "alice"), RoleStaff)

	const n = 500
	pad := strings.Repeat("p", 4000)
	received := make(chan int, 1)
	go func() {
		count := 0
		for count < n {
			f, err := staff.read()
			if err != nil {
				break
			}
			if f.Type == "msg" && f.From == FromStaff {
				count++
			}
		}
		received <- count
	}()
	for i := range n {
		staff.say(pad + " " + string(rune('a'+i%26)))
	}
	if got := <-received; got != n {
		t.Fatalf("staff got %d of %d of its own messages", got, n)
	}
	eventually(t, "slow buyer dropped", func() bool {
		w := e.hub.Waiting()
		return len(w) == 1 && !w[0].BuyerJoined && w[0].StaffJoined
	})
	// The buyer's connection was closed by the server: reading what is
	// left ends in an error, short of all n messages.
	seen := 0
	for {
		f, err := buyer.read()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("buyer connection still open")
			}
			break
		}
		if f.Type == "msg" {
			seen++
		}
	}
	if seen >= n {
		t.Fatalf("buyer got all %d messages: never slow", seen)
	}
	if c, err := e.threads.Count("R-SLOW0001"); err != nil || c != n {
		t.Fatalf("Count = %d, %v", c, err)
	}
	if !strings.Contains(e.logs.String(), "slow connection dropped") {
		t.Fatal("drop not logged")
	}
}

// After the room ends the thread opens with either identity, and nothing
// said is on disk or in the logs in the clear.
func TestThreadSealedAtRest(t *testing.T) {
	e := newEnv(t, func(c *HubConfig, _ *httptest.Server) {
		c.AutoAnswer = func(ref, text string) (string, bool) {
			if strings.Contains(text, "where is my key") {
				return "AUTO-ANSWER-TEXT see the order page", true
			}
			return "", false
		}
	})
	const ref = "R-SEAL0001"
	rm := e.open(ref)
	staffSecret := e.staffSecret(rm.ID, "alice")
	buyer := e.join(rm.BuyerSecret, RoleBuyer)

	type said struct{ from, staff, text string }
	var want []said
	q := uniq("where is my key? ключ 钥匙")
	buyer.say(q)
	buyer.expectMsg(FromBuyer, q)
	buyer.expectMsg(FromAuto, "AUTO-ANSWER-TEXT see the order page")
	want = append(want, said{FromBuyer, "", q}, said{FromAuto, "", "AUTO-ANSWER-TEXT see the order page"})

	staff := e.join(staffSecret, RoleStaff)
	// Staff joining late sees what was said in this room.
	staff.expectMsg(FromBuyer, q)
	staff.expectMsg(FromAuto, "AUTO-ANSWER-TEXT see the order page")

	for i := range 3 {
		b := uniq("buyer line\nwith\ttab " + string(rune('A'+i)))
		buyer.say(b)
		buyer.expectMsg(FromBuyer, b)
		staff.expectMsg(FromBuyer, b)
		s := uniq("staff line 客服 " + string(rune('A'+i)))
		staff.say(s)
		buyer.expectMsg(FromStaff, s)
		staff.expectMsg(FromStaff, s)
		want = append(want, said{FromBuyer, "", b}, said{FromStaff, "alice", s})
	}
	// No automatic answer once staff has joined.
	again := uniq("where is my key again")
	buyer.say(again)
	buyer.expectMsg(FromBuyer, again)
	staff.expectMsg(FromBuyer, again)
	want = append(want, said{FromBuyer, "", again})
	buyer.send(map[string]string{"type": "end"})
	for _, c := range []*client{buyer, staff} {
		if f := c.next(); f.Type != "closed" || f.Reason != ReasonEndedByBuyer {
			t.Fatalf("got %+v, want closed", f)
		}
	}

	for _, id := range []*crypto.Identity{e.order, e.support} {
		msgs, next, err := e.threads.Read(ref, id.Age(), 0, 0)
		if err != nil || next != 0 || len(msgs) != len(want) {
			t.Fatalf("Read = %d messages, %d, %v; want %d", len(msgs), next, err, len(want))
		}
		for i, m := range msgs {
			w := want[i]
			if m.Seq != uint64(i+1) || m.From != w.from || m.Staff != w.staff || m.Text != w.text || m.At.IsZero() || m.At.Location() != time.UTC {
				t.Fatalf("message %d = %+v, want %+v", i, m, w)
			}
		}
	}
	stranger, _ := crypto.NewIdentity(crypto.Hybrid)
	if _, _, err := e.threads.Read(ref, stranger.Age(), 0, 0); !errors.Is(err, crypto.ErrWrongIdentity) {
		t.Fatalf("Read with a stranger's identity: %v", err)
	}

	secrets := []string{rm.BuyerSecret, staffSecret}
	e.close()
	var files int
	err := filepath.WalkDir(e.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, w := range want {
			for _, part := range strings.FieldsFunc(w.text, func(r rune) bool { return r == '\n' || r == '\t' }) {
				if len(part) >= 8 && bytes.Contains(b, []byte(part)) {
					t.Errorf("%s holds chat text %q in the clear", path, part)
				}
			}
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds a join secret", path)
			}
		}
		return nil
	})
	if err != nil || files == 0 {
		t.Fatalf("scan: %d files, %v", files, err)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, rm.ID) || !strings.Contains(logs, ref) {
		t.Fatalf("logs do not name the room: %s", logs)
	}
	for _, w := range want {
		if strings.Contains(logs, w.text) {
			t.Errorf("logs hold chat text %q", w.text)
		}
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Error("logs hold a join secret")
		}
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, func(c *HubConfig, _ *httptest.Server) { c.MessagesPerMinute = 3 })
	rm := e.open("R-RATE0001")
	buyer := e.join(rm.BuyerSecret, RoleBuyer)
	staff := e.join(e.staffSecret(rm.ID, "alice"), RoleStaff)
	// The limit is per room: both sides count.
	buyer.say("one")
	buyer.expectMsg(FromBuyer, "one")
	staff.say("two")
	buyer.expectMsg(FromStaff, "two")
	buyer.say("three")
	buyer.expectMsg(FromBuyer, "three")
	staff.expectMsg(FromBuyer, "one")
	staff.expectMsg(FromStaff, "two")
	staff.expectMsg(FromBuyer, "three")

	staff.say("four")
	staff.expectError("rate_limited")
	buyer.say("five")
	buyer.expectError("rate_limited")

	e.clock.Add(61 * time.Second)
	staff.say("six")
	staff.expectMsg(FromStaff, "six")
	buyer.expectMsg(FromStaff, "six")
	if c, err := e.threads.Count("R-RATE0001"); err != nil || c != 4 {
		t.Fatalf("Count = %d, %v", c, err)
	}
}

func TestRoomsPerOrderPerDay(t *testing.T) {
	e := newEnv(t, func(c *HubConfig, _ *httptest.Server) { c.RoomsPerOrderPerDay = 2 })
	const ref = "R-DAY00001"
	for range 2 {
		e.open(ref)
		if err := e.hub.EndOrder(ref); err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.hub.Open(ref, e.recipients)
	if !errors.Is(err, ErrTooManyRooms) || Code(err) != "too_many_rooms" {
		t.Fatalf("third Open: %v", err)
	}
	e.open("R-DAY00002") // another order is not affected
	e.clock.Add(24*time.Hour + time.Second)
	e.open(ref)
}

func TestIdleAndLifetime(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    func(*HubConfig, *httptest.Server)
		reason string
	}{
		{"idle", func(c *HubConfig, _ *httptest.Server) { c.IdleTimeout = 200 * time.Millisecond }, ReasonIdle},
		{"expired", func(c *HubConfig, _ *httptest.Server) { c.MaxLifetime = 200 * time.Millisecond }, ReasonExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.cfg)
			rm := e.open("R-TIME0001")
			staff := e.staffSecret(rm.ID, "alice")
			buyer := e.join(rm.BuyerSecret, RoleBuyer)
			if f := buyer.next(); f.Type != "closed" || f.Reason != tc.reason {
				t.Fatalf("got %+v, want closed %s", f, tc.reason)
			}
			buyer.expectEnd()
			if _, err := e.hub.StaffSecret(rm.ID, "alice"); !errors.Is(err, ErrRoomClosed) {
				t.Fatalf("StaffSecret: %v", err)
			}
			c := e.dial()
			c.send(map[string]string{"type": "join", "secret": staff})
			c.expectError("room_closed")
		})
	}
}

func TestJoinErrors(t *testing.T) {
	e := newEnv(t, func(c *HubConfig, _ *httptest.Server) { c.JoinTimeout = 300 * time.Millisecond })
	rm := e.open("R-JOIN0001")

	c := e.dial()
	c.say("hello before join")
	c.expectError("bad_frame")
	if code := c.expectEnd(); code != websocket.ClosePolicyViolation {
		t.Fatalf("close code %d", code)
	}

	c = e.dial()
	_ = c.ws.WriteMessage(websocket.TextMessage, []byte("{not json"))
	c.expectError("bad_frame")
	c.expectEnd()

	c = e.dial()
	c.send(map[string]string{"type": "join", "secret": strings.Repeat("A", 43)})
	c.expectError("bad_secret")
	c.expectEnd()

	// Silence past the join timeout: closed without a word.
	c = e.dial()
	c.expectEnd()

	// None of that spent the buyer's secret. After joining, bad frames are
	// answered and the connection stays.
	buyer := e.join(rm.BuyerSecret, RoleBuyer)
	_ = buyer.ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3})
	buyer.expectError("bad_frame")
	_ = buyer.ws.WriteMessage(websocket.TextMessage, []byte(`["msg"]`))
	buyer.expectError("bad_frame")
	buyer.send(map[string]string{"type": "join", "secret": rm.BuyerSecret})
	buyer.expectError("bad_frame")
	buyer.send(map[string]string{"type": "shout"})
	buyer.expectError("bad_frame")
	for _, tc := range []struct{ text, code string }{
		{"", "text_invalid"},
		{" \n\t ", "text_invalid"},
		{"bell\a", "text_invalid"},
		{"nul\x00", "text_invalid"},
		{"esc\x1b[31m", "text_invalid"},
	} {
		buyer.say(tc.text)
		buyer.expectError(tc.code)
	}
	buyer.say("fine after all that")
	buyer.expectMsg(FromBuyer, "fine after all that")
}

func TestShutdown(t *testing.T) {
	e := newEnv(t)
	rm := e.open("R-SHUT0001")
	buyer := e.join(rm.BuyerSecret, RoleBuyer)
	staff := e.join(e.staffSecret(rm.ID, "alice"), RoleStaff)
	e.hub.Close()
	for _, c := range []*client{buyer, staff} {
		if f := c.next(); f.Type != "closed" || f.Reason != ReasonShutdown {
			t.Fatalf("got %+v", f)
		}
		if code := c.expectEnd(); code != websocket.CloseGoingAway {
			t.Fatalf("close code %d", code)
		}
	}
	if _, err := e.hub.Open("R-SHUT0002", e.recipients); !errors.Is(err, ErrHubClosed) {
		t.Fatalf("Open after Close: %v", err)
	}
	if w := e.hub.Waiting(); len(w) != 0 {
		t.Fatalf("Waiting after Close: %+v", w)
	}
	e.hub.Close() // idempotent
}

// Many rooms at once, for the race detector.
func TestManyRooms(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	for i := range 8 {
		ref := "R-MANY000" + string(rune('0'+i))
		rm := e.open(ref)
		buyer := e.join(rm.BuyerSecret, RoleBuyer)
		staff := e.join(e.staffSecret(rm.ID, "alice"), RoleStaff)
		// Not the test's goroutine: errors are reported with t.Error.
		wg.Go(func() {
			for j := range 5 {
				text := ref + " line " + string(rune('a'+j))
				err := buyer.trySend(map[string]string{"type": "msg", "text": text})
				if err == nil {
					err = buyer.checkMsg(FromBuyer, text)
				}
				if err == nil {
					err = staff.checkMsg(FromBuyer, text)
				}
				if err != nil {
					t.Errorf("room %s: %v", ref, err)
					return
				}
			}
			if err := staff.trySend(map[string]string{"type": "end"}); err != nil {
				t.Errorf("room %s: %v", ref, err)
			}
		})
	}
	wg.Wait()
	eventually(t, "all rooms closed", func() bool { return len(e.hub.Waiting()) == 0 })
}
