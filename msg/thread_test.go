package msg

import (
	"errors"
	"strings"
	"testing"
	"time"

	"veil/crypto"
	"veil/server/store"
)

func TestCleanText(t *testing.T) {
	for _, tc := range []struct {
		in, out string
		err     error
	}{
		{"hello", "hello", nil},
		{"two\r\nlines\rhere", "two\nlines\nhere", nil},
		{"tab\there", "tab\there", nil},
		{"中文 и кириллица", "中文 и кириллица", nil},
		{strings.Repeat("a", MaxTextBytes), strings.Repeat("a", MaxTextBytes), nil},
		{strings.Repeat("a", MaxTextBytes+1), "", ErrTextTooLong},
		{strings.Repeat("é", MaxTextBytes/2+1), "", ErrTextTooLong},
		{"", "", ErrTextEmpty},
		{" \n\t", "", ErrTextEmpty},
		{"nul\x00", "", ErrTextInvalid},
		{"esc\x1b[2J", "", ErrTextInvalid},
		{"del\x7f", "", ErrTextInvalid},
		{"c1\u0085", "", ErrTextInvalid},
		{"bad \xff utf-8", "", ErrTextInvalid},
	} {
		got, err := CleanText(tc.in)
		if got != tc.out || !errors.Is(err, tc.err) {
			t.Errorf("CleanText(%.20q) = %.20q, %v; want %.20q, %v", tc.in, got, err, tc.out, tc.err)
		}
	}
	if Code(ErrTextTooLong) != "too_large" || Code(ErrTextInvalid) != "text_invalid" || Code(errors.New("x")) != "internal" || Code(nil) != "" {
		t.Error("codes")
	}
}

func newThreads(t *testing.T) (*Threads, *store.DB, []string, *crypto.Identity, *crypto.Identity) {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	order, _ := crypto.NewIdentity(crypto.Hybrid)
	support, _ := crypto.NewIdentity(crypto.Hybrid)
	now := func() time.Time { return time.Date(2025, 3, 1, 12, 0, 0, 987654321, time.FixedZone("CST", 8*3600)) }
	return NewThreads(db, now), db, []string{order.Recipient(), support.Recipient()}, order, support
}

func TestThreadAppendRead(t *testing.T) {
	th, _, rcpts, order, support := newThreads(t)
	const ref = "R-THREAD01"
	if n, err := th.Count(ref); err != nil || n != 0 {
		t.Fatalf("Count of a new thread = %d, %v", n, err)
	}
	if msgs, next, err := th.Read(ref, order.Age(), 0, 0); err != nil || len(msgs) != 0 || next != 0 {
		t.Fatalf("Read of a new thread = %v, %d, %v", msgs, next, err)
	}
	in := []Message{
		{From: FromBuyer, Text: "my key does not work"},
		{From: FromAuto, Text: "try the usage guide"},
		{From: FromStaff, Staff: "alice", Text: "sending a new one"},
		{From: FromSystem, Text: "ticket resolved"},
		{From: FromStaff, Text: "staff without a name", At: time.Date(2025, 1, 2, 3, 4, 5, 600, time.UTC)},
	}
	for i, m := range in {
		seq, err := th.Append(ref, rcpts, m)
		if err != nil || seq != uint64(i+1) {
			t.Fatalf("Append %d = %d, %v", i, seq, err)
		}
	}
	if n, err := th.Count(ref); err != nil || n != len(in) {
		t.Fatalf("Count = %d, %v", n, err)
	}
	// Paging with either identity.
	for _, id := range []*crypto.Identity{order, support} {
		var all []Message
		var after uint64
		for {
			page, next, err := th.Read(ref, id.Age(), after, 2)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, page...)
			if next == 0 {
				break
			}
			after = next
		}
		if len(all) != len(in) {
			t.Fatalf("read %d messages, want %d", len(all), len(in))
		}
		for i, m := range all {
			w := in[i]
			if m.Seq != uint64(i+1) || m.From != w.From || m.Staff != w.Staff || m.Text != w.Text {
				t.Fatalf("message %d = %+v, want %+v", i, m, w)
			}
		}
		if want := time.Date(2025, 3, 1, 4, 0, 0, 0, time.UTC); !all[0].At.Equal(want) || all[0].At.Location() != time.UTC {
			t.Fatalf("default At = %v, want %v", all[0].At, want)
		}
		if want := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC); !all[4].At.Equal(want) {
			t.Fatalf("given At = %v, want %v", all[4].At, want)
		}
	}
	// Read after the end is empty.
	if msgs, next, err := th.Read(ref, order.Age(), 5, 10); err != nil || len(msgs) != 0 || next != 0 {
		t.Fatalf("Read past the end = %v, %d, %v", msgs, next, err)
	}
	// Another thread is separate, even with a ref that shares a prefix.
	if _, err := th.Append(ref+"X", rcpts, Message{From: FromBuyer, Text: "other"}); err != nil {
		t.Fatal(err)
	}
	if n, _ := th.Count(ref); n != len(in) {
		t.Fatalf("Count = %d after appending to another thread", n)
	}

	if err := th.Delete(ref); err != nil {
		t.Fatal(err)
	}
	if n, err := th.Count(ref); err != nil || n != 0 {
		t.Fatalf("Count after Delete = %d, %v", n, err)
	}
	if msgs, _, err := th.Read(ref, order.Age(), 0, 0); err != nil || len(msgs) != 0 {
		t.Fatalf("Read after Delete = %v, %v", msgs, err)
	}
	if msgs, _, err := th.Read(ref+"X", order.Age(), 0, 0); err != nil || len(msgs) != 1 {
		t.Fatalf("the other thread after Delete = %v, %v", msgs, err)
	}
	if err := th.Delete("R-NOTHERE1"); err != nil {
		t.Fatalf("Delete of a missing thread: %v", err)
	}
}

func TestThreadAppendRefuses(t *testing.T) {
	th, _, rcpts, _, _ := newThreads(t)
	classic, _ := crypto.NewIdentity(crypto.X25519)
	for _, tc := range []struct {
		name  string
		ref   string
		rcpts []string
		m     Message
		err   error
	}{
		{"empty ref", "", rcpts, Message{From: FromBuyer, Text: "x"}, ErrBadRef},
		{"slash in ref", "R-1/2", rcpts, Message{From: FromBuyer, Text: "x"}, ErrBadRef},
		{"no recipients", "R-1", nil, Message{From: FromBuyer, Text: "x"}, ErrBadRecipient},
		{"bad recipient", "R-1", []string{"age1nope"}, Message{From: FromBuyer, Text: "x"}, ErrBadRecipient},
		{"unknown from", "R-1", rcpts, Message{From: "merchant", Text: "x"}, ErrBadFrom},
		{"buyer with staff name", "R-1", rcpts, Message{From: FromBuyer, Staff: "alice", Text: "x"}, ErrBadStaff},
		{"empty text", "R-1", rcpts, Message{From: FromBuyer, Text: "  "}, ErrTextEmpty},
		{"control char", "R-1", rcpts, Message{From: FromBuyer, Text: "a\x07"}, ErrTextInvalid},
		{"carriage return", "R-1", rcpts, Message{From: FromBuyer, Text: "a\r\nb"}, ErrTextInvalid},
		{"too long", "R-1", rcpts, Message{From: FromSystem, Text: strings.Repeat("a", MaxTextBytes+1)}, ErrTextTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := th.Append(tc.ref, tc.rcpts, tc.m); !errors.Is(err, tc.err) {
				t.Fatalf("Append = %v, want %v", err, tc.err)
			}
		})
	}
	// age refuses to mix post-quantum and classic recipients in one file.
	if _, err := th.Append("R-1", append(rcpts, classic.Recipient()), Message{From: FromBuyer, Text: "x"}); err == nil {
		t.Fatal("mixed recipients accepted")
	}
	if n, _ := th.Count("R-1"); n != 0 {
		t.Fatalf("refused appends stored %d messages", n)
	}
}

// A sealed message moved to another slot or thread on disk is detected.
func TestThreadOutOfPlace(t *testing.T) {
	th, db, rcpts, order, _ := newThreads(t)
	for _, text := range []string{"first", "second"} {
		if _, err := th.Append("R-A", rcpts, Message{From: FromBuyer, Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := th.Append("R-B", rcpts, Message{From: FromBuyer, Text: "other thread"}); err != nil {
		t.Fatal(err)
	}
	err := db.Update(func(tx *store.Txn) error {
		first, err := tx.Get(msgKey("R-A", 1))
		if err != nil {
			return err
		}
		if err := tx.Set(msgKey("R-A", 2), first); err != nil {
			return err
		}
		return tx.Set(msgKey("R-B", 1), first)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"R-A", "R-B"} {
		if _, _, err := th.Read(ref, order.Age(), 0, 0); !errors.Is(err, ErrThreadCorrupt) {
			t.Fatalf("Read(%s) = %v, want ErrThreadCorrupt", ref, err)
		}
	}
}
