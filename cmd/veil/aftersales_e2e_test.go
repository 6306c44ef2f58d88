package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"veil/server/shop"
	"veil/server/store"
)

// TestAfterSalesE2E drives the real binary over HTTP through issue 13's
// after-sales: a compensation key reaches the buyer exactly once; a batch
// freezes at the owner's threshold and not before, stops selling its keys
// and tells the owner; a refund by use is proposed with exact amounts at
// three points in time (the delivery times moved back in the stopped
// shop's store, as if days had passed).
func TestAfterSalesE2E(t *testing.T) {
	bin := buildVeil(t)
	const password = "aftersales test owner password"
	sh := initVeil(t, bin, password, "aftersales test vault passphrase", map[string]string{"epay-key": crashKey})
	addr := freeAddr(t)
	base := "http://" + addr
	args := []string{"serve", "--data", sh.data, "--addr", addr, "--passphrase-file", sh.ppFile,
		"--payments", "epay", "--epay-pid", crashPID, "--epay-key-file", sh.file("epay-key"),
		"--epay-gateway", "http://127.0.0.1:1/submit.php", "--public-url", base, "--rate-limit", "0"}
	srv := startVeil(t, bin, base, args...)

	t0 := time.Now()
	var codes []string
	for _, d := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
		c, err := totp.GenerateCodeCustom(sh.ini.TOTPSecret, t0.Add(d), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, c)
	}
	rest := codes[1:]
	signInOwner := func() *console {
		jar, _ := cookiejar.New(nil)
		owner := &console{t: t, base: base, c: &http.Client{Jar: jar, Timeout: time.Minute}}
		body, _ := json.Marshal(map[string]string{"user": "owner", "password": password, "totp": codes[0]})
		var sess struct{ CSRF string }
		owner.call(http.MethodPost, "/api/v1/admin/session", "application/json", string(body), http.StatusOK, &sess)
		owner.csrf = sess.CSRF
		return owner
	}
	m := &moneyShop{t: t, base: base, hc: &http.Client{Timeout: 20 * time.Second}, owner: signInOwner(), codes: &rest}

	t.Run("compensation key reaches the buyer once", m.compensationOnce)
	t.Run("batch freezes at the threshold", m.freezeAtThreshold)
	var pro []proRataCase
	t.Run("pro-rata: orders", func(t *testing.T) { pro = m.on(t).proRataOrders() })

	// Days pass: the shop stops, its orders' delivery times move back.
	if err := srv.stop(); err != nil {
		t.Fatalf("shutdown: %v\n%s", err, srv.stderr)
	}
	checkLog := func(p *veilProc) {
		if bad := badLines(p.stderr.String()); len(bad) > 0 {
			t.Errorf("the server logged:\n%s", strings.Join(bad, "\n"))
		}
	}
	checkLog(srv)
	backdate(t, sh.data, pro)
	srv = startVeil(t, bin, base, args...)
	t.Run("pro-rata: three points in time", func(t *testing.T) { m.on(t).proRataAmounts(pro) })
	if err := srv.stop(); err != nil {
		t.Errorf("shutdown: %v\n%s", err, srv.stderr)
	}
	checkLog(srv)
}

// buyerItem is a key of GET /api/v1/order.
type buyerItem struct {
	ID, Key      string
	State        string
	Compensation bool
	Product      string
}

func (m *moneyShop) items(o buyerOrder) []buyerItem {
	m.t.Helper()
	v := m.view(o)
	var out struct{ Items []buyerItem }
	if err := json.Unmarshal([]byte(v.raw), &out); err != nil {
		m.t.Fatal(err)
	}
	return out.Items
}

// ticket opens a ticket on o as its buyer.
func (m *moneyShop) ticket(o buyerOrder, reason, item string) string {
	m.t.Helper()
	b, _ := json.Marshal(map[string]string{"reason": reason, "detail": "does not work", "item_id": item})
	req, _ := http.NewRequest(http.MethodPost, m.base+"/api/v1/order/tickets", strings.NewReader(string(b)))
	req.Header.Set("Authorization", "Bearer "+o.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := m.hc.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var tk struct{ ID string }
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(raw, &tk) != nil || tk.ID == "" {
		m.t.Fatalf("ticket: %d %s", resp.StatusCode, raw)
	}
	return tk.ID
}

// stock is a product's public stock and whether it is paused.
func (m *moneyShop) stock(slug string) (int, bool) {
	m.t.Helper()
	resp, err := m.hc.Get(m.base + "/api/v1/products")
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Products []struct {
			Slug        string
			InStock     int  `json:"in_stock"`
			Unavailable bool `json:"temporarily_unavailable"`
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		m.t.Fatal(err)
	}
	for _, p := range out.Products {
		if p.Slug == slug {
			return p.InStock, p.Unavailable
		}
	}
	m.t.Fatalf("no product %s", slug)
	return 0, false
}

// compensationOnce: a key of another product given to a paid order by an
// approval with TOTP shows up once, marked, on every retrieval; deciding
// the approval again is refused and gives nothing more.
func (m *moneyShop) compensationOnce(t *testing.T) {
	m = m.on(t)
	m.product("comp-game", `{"window_hours":72,"remedies":["replace","refund"]}`, "COMP-GAME-KEY-0001", "COMP-GAME-KEY-0002")
	m.product("comp-gift", `{"window_hours":72,"remedies":["refund"]}`, "COMP-GIFT-KEY-0001", "COMP-GIFT-KEY-0002")
	o := m.buy("comp-game")
	m.pay(o, "COMP-TRADE-1")
	tk := m.ticket(o, "key_invalid", "")
	var op struct {
		ApprovalID string `json:"approval_id"`
		Status     string
		Result     string
	}
	m.owner.call(http.MethodPost, "/api/v1/admin/compensations", "application/json",
		fmt.Sprintf(`{"ref":%q,"product":"comp-gift","ticket":%q,"totp":%q}`, o.Ref, tk, m.code()), http.StatusOK, &op)
	if op.Status != "approved" {
		t.Fatalf("compensation %+v", op)
	}
	for range 2 {
		its := m.items(o)
		var comp []buyerItem
		for _, it := range its {
			if it.Compensation {
				comp = append(comp, it)
			}
		}
		if len(its) != 2 || its[0].Key != "COMP-GAME-KEY-0001" || len(comp) != 1 || comp[0].Key != "COMP-GIFT-KEY-0001" {
			t.Fatalf("items %+v", its)
		}
	}
	m.owner.call(http.MethodPost, "/api/v1/admin/approvals/"+op.ApprovalID, "application/json",
		fmt.Sprintf(`{"decision":"approve","totp":%q}`, m.code()), http.StatusConflict, nil)
	if len(m.items(o)) != 2 {
		t.Fatal("a second decision gave another key")
	}
	if n, _ := m.stock("comp-gift"); n != 1 {
		t.Fatalf("gift stock %d", n)
	}
	// The order page shows it marked as compensation.
	page := m.form("/order", map[string][]string{"token": {o.Token}, "reveal": {"1"}})
	if strings.Count(page, "COMP-GIFT-KEY-0001") != 1 || !strings.Contains(page, `class="compensation"`) {
		t.Fatalf("order page:\n%s", page)
	}
}

// freezeAtThreshold: 20 keys of batch A sold to four orders, 10 unsold,
// and a batch B of 5 imported later. Two orders reporting bad keys leave A
// on sale; the third (3 ≥ 3 and ≥ 5% of 20) freezes it: stock drops to B's
// five, a new order gets B's keys only, the owner's console lists the
// freeze with its three reports, and with B sold the product is
// temporarily unavailable.
func (m *moneyShop) freezeAtThreshold(t *testing.T) {
	m = m.on(t)
	var a []string
	for i := range 30 {
		a = append(a, fmt.Sprintf("FRZ-A-KEY-%04d", i))
	}
	pid := m.product("frz", `{"window_hours":72,"remedies":["replace","refund"]}`, a...)
	var orders []buyerOrder
	for i := range 4 {
		b, _ := json.Marshal(map[string]any{"product": "frz", "quantity": 5})
		resp, err := m.hc.Post(m.base+"/api/v1/orders", "application/json", strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var o buyerOrder
		if resp.StatusCode != http.StatusCreated || json.Unmarshal(raw, &o) != nil {
			t.Fatalf("order: %d %s", resp.StatusCode, raw)
		}
		m.pay(o, fmt.Sprintf("FRZ-TRADE-%d", i))
		orders = append(orders, o)
	}
	var b []string
	for i := range 5 {
		b = append(b, fmt.Sprintf("FRZ-B-KEY-%04d", i))
	}
	var imp struct{ Imported int }
	m.owner.call(http.MethodPost, "/api/v1/admin/products/"+pid+"/keys", "text/plain; charset=utf-8", strings.Join(b, "\n")+"\n", http.StatusOK, &imp)
	if n, _ := m.stock("frz"); n != 15 {
		t.Fatalf("stock %d", n)
	}
	type freezes struct {
		Frozen []struct {
			Batch   string
			Reports []struct{ Ref, Ticket string }
			Held    int
		}
	}
	var f freezes
	for i := range 2 {
		m.ticket(orders[i], "key_invalid", "")
	}
	m.ticket(orders[0], "key_already_used", "") // the same order again
	m.owner.call(http.MethodGet, "/api/v1/admin/freezes", "application/json", "", http.StatusOK, &f)
	if n, _ := m.stock("frz"); n != 15 || len(f.Frozen) != 0 {
		t.Fatalf("frozen before the threshold: stock %d, %+v", n, f)
	}
	m.ticket(orders[2], "key_already_used", "")
	m.owner.call(http.MethodGet, "/api/v1/admin/freezes", "application/json", "", http.StatusOK, &f)
	if len(f.Frozen) != 1 || len(f.Frozen[0].Reports) != 3 || f.Frozen[0].Held != 10 {
		t.Fatalf("freeze %+v", f)
	}
	if n, paused := m.stock("frz"); n != 5 || paused {
		t.Fatalf("after the freeze: stock %d paused %v", n, paused)
	}
	for i := range 5 {
		o := m.buy("frz")
		m.pay(o, fmt.Sprintf("FRZ-TRADE-B%d", i))
		if its := m.items(o); len(its) != 1 || !strings.HasPrefix(its[0].Key, "FRZ-B-") {
			t.Fatalf("sold %+v", its)
		}
	}
	if n, paused := m.stock("frz"); n != 0 || !paused {
		t.Fatalf("only frozen keys left: stock %d paused %v", n, paused)
	}
	resp, err := m.hc.Get(m.base + "/p/frz?lang=en")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "Temporarily unavailable") || strings.Contains(string(page), "Sold out") {
		t.Fatalf("product page:\n%s", page)
	}
}

// proRataCase is one order of the refund-by-use test and how far back its
// delivery moves.
type proRataCase struct {
	order buyerOrder
	back  time.Duration
	want  int64
}

// proRataOrders: a 30-day membership at 30.00 with refunds by use, three
// orders paid and delivered.
func (m *moneyShop) proRataOrders() []proRataCase {
	var p struct{ ID string }
	m.owner.call(http.MethodPost, "/api/v1/admin/products", "application/json",
		`{"slug":"vip30","name":"VIP 30 days","price_minor":3000,"currency":"CNY","kind":"unique","policy":{"window_hours":744,"remedies":["partial_refund","refund"],"pro_rata_days":30}}`,
		http.StatusCreated, &p)
	m.owner.call(http.MethodPost, "/api/v1/admin/products/"+p.ID+"/keys", "text/plain; charset=utf-8",
		"VIP-KEY-0001\nVIP-KEY-0002\nVIP-KEY-0003\n", http.StatusOK, nil)
	cases := []proRataCase{
		{back: time.Hour, want: 2995},                        // 3000 × 2588400/2592000 = 2995.83
		{back: 10*24*time.Hour + 30*time.Minute, want: 1997}, // × 1726200/2592000 = 1997.92
		{back: (20*24 + 7) * time.Hour, want: 970},           // × 838800/2592000 = 970.83
	}
	for i := range cases {
		cases[i].order = m.buy("vip30")
		m.pay(cases[i].order, fmt.Sprintf("VIP-TRADE-%d", i))
	}
	return cases
}

// backdate moves each order's delivery (and its after-sales window) back
// by its case's duration in the stopped shop's store, as if that much time
// had passed since delivery. The amounts above stay the same for up to ten
// minutes between this and the ticket.
func backdate(t *testing.T, data string, cases []proRataCase) {
	t.Helper()
	db, err := store.Open(data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *store.Txn) error {
		for _, c := range cases {
			err := shop.EditOrderTx(tx, c.order.Ref, func(o *shop.Order) error {
				o.DeliveredAt, o.WindowEnds = o.DeliveredAt.Add(-c.back), o.WindowEnds.Add(-c.back)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// proRataAmounts: a ticket on each order, the refund by use proposed by
// staff: an approval of exactly the expected amount whose summary shows
// the computation.
func (m *moneyShop) proRataAmounts(cases []proRataCase) {
	for _, c := range cases {
		tk := m.ticket(c.order, "other", "")
		var q struct {
			AmountMinor int64 `json:"amount_minor"`
			Explain     string
		}
		m.owner.call(http.MethodGet, "/api/v1/admin/tickets/"+tk+"/pro-rata", "application/json", "", http.StatusOK, &q)
		if q.AmountMinor != c.want {
			m.t.Fatalf("%v back: quote %d, want %d (%s)", c.back, q.AmountMinor, c.want, q.Explain)
		}
		var op struct {
			ApprovalID string `json:"approval_id"`
			Status     string
		}
		m.owner.call(http.MethodPost, "/api/v1/admin/tickets/"+tk+"/pro-rata", "application/json", `{}`, http.StatusAccepted, &op)
		var a struct {
			Kind    string
			Summary string
			Params  struct {
				AmountMinor int64 `json:"amount_minor"`
			}
		}
		m.owner.call(http.MethodGet, "/api/v1/admin/approvals/"+op.ApprovalID, "application/json", "", http.StatusOK, &a)
		if a.Kind != "partial_refund" || a.Params.AmountMinor != c.want ||
			!strings.Contains(a.Summary, fmt.Sprintf("= %d CNY", c.want)) || !strings.Contains(a.Summary, "rounded down") {
			m.t.Fatalf("approval %+v", a)
		}
	}
}
