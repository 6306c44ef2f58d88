package console

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"veil/pages"
	"veil/server/notify"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/web"
)

// Merchant notifications (issue 12): the owner sets up a Telegram bot and a
// webhook, chooses events per channel and low-stock thresholds per product
// — a notify_settings approval with TOTP — sends a test, and sees the
// recent deliveries. Secrets are never shown back, only a hint.

var errNotifyOff = web.NewError(http.StatusNotFound, "not_found", "notifications are not available")

// notifyError maps the notifier's errors to the console's.
func notifyError(err error) error {
	var inv *notify.ErrInvalid
	switch {
	case errors.As(err, &inv):
		return web.BadRequest("%s", strings.TrimPrefix(inv.Error(), "notify: "))
	case errors.Is(err, notify.ErrLocked):
		return shop.ErrLocked
	case errors.Is(err, notify.ErrNotConfigured):
		return web.NewError(http.StatusConflict, "not_configured", "set the channel up first")
	}
	return err
}

// notifyRequest is POST /api/v1/admin/notify: the change and a TOTP code.
type notifyRequest struct {
	notify.Change
	TOTP string `json:"totp"`
}

// proposeNotify checks and seals the change and proposes it (owners).
func (s *Server) proposeNotify(sess staff.Session, req notifyRequest) (staff.Approval, error) {
	if s.Notify == nil {
		return staff.Approval{}, errNotifyOff
	}
	if err := requireOwner(sess); err != nil {
		return staff.Approval{}, err
	}
	for id := range req.Thresholds {
		if _, err := s.Shop.Product(id); err != nil {
			return staff.Approval{}, web.BadRequest("thresholds: unknown product")
		}
	}
	p, summary, err := s.Notify.Prepare(req.Change)
	if err != nil {
		return staff.Approval{}, notifyError(err)
	}
	return s.proposeOp(sess, staff.KindNotifySettings, "notify", summary, p, req.TOTP)
}

// notifyJSON is GET /api/v1/admin/notify.
type notifyJSON struct {
	notify.View
	Events     []notify.Kind     `json:"events"`
	Deliveries []notify.Delivery `json:"deliveries"`
}

// apiNotify is GET /api/v1/admin/notify: the channels (secret hints only),
// thresholds, the events one can choose and the recent deliveries.
func (s *Server) apiNotify(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	v, ds, err := s.notifyState(sess)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	if ds == nil {
		ds = []notify.Delivery{}
	}
	web.WriteJSON(w, http.StatusOK, notifyJSON{View: v, Events: notify.Kinds(), Deliveries: ds})
}

func (s *Server) notifyState(sess staff.Session) (notify.View, []notify.Delivery, error) {
	if s.Notify == nil {
		return notify.View{}, nil, errNotifyOff
	}
	if err := requireOwner(sess); err != nil {
		return notify.View{}, nil, err
	}
	v, err := s.Notify.Settings()
	if err != nil {
		return v, nil, err
	}
	ds, err := s.Notify.Deliveries(50)
	return v, ds, err
}

// testRequest is POST /api/v1/admin/notify/test.
type testRequest struct {
	Channel string `json:"channel"`
}

// sendTest queues a test message to one channel (owners), audited.
func (s *Server) sendTest(sess staff.Session, channel string) (notify.Event, error) {
	if s.Notify == nil {
		return notify.Event{}, errNotifyOff
	}
	if err := requireOwner(sess); err != nil {
		return notify.Event{}, err
	}
	e, err := s.Notify.SendTest(channel)
	if err != nil {
		return e, notifyError(err)
	}
	s.record(sess, "notify.test", channel, "event="+e.ID)
	return e, nil
}

// apiNotifyTest is POST /api/v1/admin/notify/test {"channel"}: 202
// {"event_id"}; the delivery shows in GET /api/v1/admin/notify.
func (s *Server) apiNotifyTest(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	var req testRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	e, err := s.sendTest(sess, req.Channel)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusAccepted, map[string]string{"event_id": e.ID})
}

// notifyPage is GET /admin/notify.
func (s *Server) notifyPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	if s.Notify == nil { // a server built without notifications (tests)
		s.Render(w, r, http.StatusOK, &pages.AdminNotify{AdminBase: s.adminBase(r, &sess, "notify", ""), Off: true})
		return
	}
	v, ds, err := s.notifyState(sess)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	lang := s.Lang(r)
	page := &pages.AdminNotify{AdminBase: s.adminBase(r, &sess, "notify", "")}
	for _, c := range v.Channels {
		ch := pages.NotifyChannel{Name: c.Name, Target: c.Target, Hint: c.SecretHint, Configured: c.Configured, Lang: c.Lang}
		for _, k := range notify.Kinds() {
			ch.Events = append(ch.Events, pages.NotifyEvent{Kind: string(k), Label: s.Pages.T(lang, "admin.notify.event."+string(k)),
				On: slices.Contains(c.Events, k)})
		}
		page.Channels = append(page.Channels, ch)
	}
	products, err := s.Shop.Products()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	for _, p := range products {
		page.Products = append(page.Products, pages.NotifyProduct{ID: p.ID, Name: p.Name.In(lang), InStock: p.InStock,
			Threshold: v.Thresholds[p.ID]})
	}
	for _, d := range ds {
		row := pages.NotifyDelivery{Channel: d.Channel, Event: s.Pages.T(lang, "admin.notify.event."+string(d.Event.Kind)),
			Ref: d.Event.Ref, State: d.State, StateText: s.Pages.T(lang, "admin.notify.state."+d.State),
			Attempts: d.Attempts, Error: d.LastError, At: d.Event.At}
		if d.Event.Ref == "" {
			row.Ref = d.Event.Product
		}
		page.Deliveries = append(page.Deliveries, row)
	}
	s.Render(w, r, http.StatusOK, page)
}

// notifySubmit is POST /admin/notify: one channel's form (channel, target,
// secret — empty keeps it —, clear, events, lang, totp) or the threshold
// form (product, threshold, totp).
func (s *Server) notifySubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	f := r.PostForm
	req := notifyRequest{TOTP: f.Get("totp")}
	switch ch := f.Get("channel"); ch {
	case notify.Telegram, notify.Webhook:
		cc := &notify.ChannelChange{}
		target := f.Get("target")
		cc.Target = &target
		if f.Get("clear") == "1" {
			empty := ""
			cc.Secret, cc.Target = &empty, &empty
		} else if sec := strings.TrimSpace(f.Get("secret")); sec != "" {
			cc.Secret = &sec
		}
		events := []notify.Kind{}
		for _, k := range f["events"] {
			events = append(events, notify.Kind(k))
		}
		cc.Events = &events
		if ch == notify.Telegram {
			lang := f.Get("notify_lang")
			cc.Lang = &lang
		}
		if ch == notify.Telegram {
			req.Telegram = cc
		} else {
			req.Webhook = cc
		}
	case "":
		n, err := strconv.Atoi(strings.TrimSpace(f.Get("threshold")))
		if err != nil {
			s.WriteError(w, r, web.BadRequest("threshold: a whole number, 0 to turn it off"))
			return
		}
		req.Thresholds = map[string]int{f.Get("product"): n}
	default:
		s.WriteError(w, r, web.BadRequest("channel: telegram or webhook"))
		return
	}
	a, err := s.proposeNotify(sess, req)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.opRedirect(w, r, a, "/admin/notify")
}

// notifyTestSubmit is POST /admin/notify/test (channel).
func (s *Server) notifyTestSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	if _, err := s.sendTest(sess, r.PostForm.Get("channel")); err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.redirectNotice(w, r, "/admin/notify", "test_queued")
}
