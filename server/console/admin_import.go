package console

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"veil/pages"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/web"
)

// Key imports stream: the body goes to shop.ImportKeys as it arrives, so a
// 100k-key upload never sits whole in memory (the JSON form is the one
// exception: a JSON array is decoded first).

// importDeadline is how long a key upload may take to arrive, past the
// server's usual read timeout.
const importDeadline = 10 * time.Minute

// importAnswer is the 200 of POST /api/v1/admin/products/:id/keys.
type importAnswer struct {
	Batch      string           `json:"batch"`
	Imported   int              `json:"imported"`
	Duplicates int              `json:"duplicates"`
	Rejected   int              `json:"rejected"`
	Rejections []shop.Rejection `json:"rejections"`
}

// apiImportKeys is POST /api/v1/admin/products/:id/keys: JSON {"batch",
// "keys": [...], "cost_minor", "date"}, text/plain one key a line (batch,
// cost_minor and date in the query), or the console's multipart form. The
// CSRF token comes in X-CSRF-Token.
func (s *Server) apiImportKeys(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	res, err := s.importKeys(w, r, sess, false)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	if res.Rejections == nil {
		res.Rejections = []shop.Rejection{}
	}
	web.WriteJSON(w, http.StatusOK, importAnswer{res.BatchID, res.Imported, res.Duplicates, res.Rejected, res.Rejections})
}

// importPage is GET /admin/products/:id/import.
func (s *Server) importPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	p, err := s.Shop.Product(param(r, "id"))
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.Render(w, r, http.StatusOK, s.importPageData(r, sess, p, nil))
}

func (s *Server) importPageData(r *http.Request, sess staff.Session, p shop.Product, res *shop.ImportResult) *pages.AdminImport {
	lang := s.Lang(r)
	base := "/admin/products/" + url.PathEscape(p.ID)
	page := &pages.AdminImport{
		AdminBase: s.adminBase(r, &sess, "products", base+"/import"),
		ProductID: p.ID, ProductName: p.Name.In(lang),
		MaxKeys: shop.MaxImportKeys, MaxMiB: shop.MaxImportBytes >> 20,
	}
	page.Action = page.URL(base + "/import")
	page.APIURL = "/api/v1/admin/products/" + url.PathEscape(p.ID) + "/keys"
	page.StockURL = page.URL(base + "/stock")
	for _, code := range importReasons {
		page.Reasons = append(page.Reasons, pages.Choice{Value: code, Label: s.reasonText(lang, code)})
	}
	page.KeyRule = fmt.Sprintf(s.Pages.T(lang, "admin.import.key_rule"), max(p.KeyFormat.MinLength, shop.DefaultKeyMinLength))
	if p.KeyFormat.Pattern != "" {
		page.KeyRule += " " + fmt.Sprintf(s.Pages.T(lang, "admin.import.key_rule_pattern"), p.KeyFormat.Pattern)
	}
	if p.KeyFormat.Example != "" {
		page.KeyRule += " " + fmt.Sprintf(s.Pages.T(lang, "admin.import.key_rule_example"), p.KeyFormat.Example)
	}
	if res != nil {
		out := &pages.ImportOutcome{BatchID: res.BatchID, Imported: res.Imported, Duplicates: res.Duplicates,
			Rejected: res.Rejected, More: res.Rejected - len(res.Rejections)}
		for _, rj := range res.Rejections {
			out.Rejections = append(out.Rejections, pages.ImportRejection{Line: rj.Line, Reason: s.reasonText(lang, rj.Reason)})
		}
		page.Result = out
	}
	return page
}

// importReasons are the rejection reasons of an import (shop.Rejection).
var importReasons = []string{"empty", "too_long", "too_short", "no_alnum", "pattern", "bad_char", "duplicate", "invalid"}

func (s *Server) reasonText(lang, reason string) string {
	if s.Pages.Has("admin.import.reason." + reason) {
		return s.Pages.T(lang, "admin.import.reason."+reason)
	}
	return reason
}

// importSubmit is POST /admin/products/:id/import, the form without
// JavaScript: multipart with the csrf field first, then the batch fields,
// the file and the pasted keys.
func (s *Server) importSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	res, err := s.importKeys(w, r, sess, true)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	p, err := s.Shop.Product(param(r, "id"))
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.Render(w, r, http.StatusOK, s.importPageData(r, sess, p, &res))
}

// importKeys reads one import from the request in whichever form it comes.
// formCSRF lets a multipart body carry the CSRF token as its "csrf" field,
// which must come before any key.
func (s *Server) importKeys(w http.ResponseWriter, r *http.Request, sess staff.Session, formCSRF bool) (shop.ImportResult, error) {
	headerOK := sess.CheckCSRF(r.Header.Get("X-CSRF-Token"))
	if !headerOK && !formCSRF {
		return shop.ImportResult{}, errCSRF
	}
	if err := requireOwner(sess); err != nil {
		return shop.ImportResult{}, err
	}
	p, err := s.Shop.Product(param(r, "id"))
	if err != nil {
		return shop.ImportResult{}, err
	}
	// A large upload may take longer than the server's read timeout.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(importDeadline))
	_ = rc.SetWriteDeadline(time.Now().Add(importDeadline + time.Minute))

	ctype, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var res shop.ImportResult
	switch {
	case ctype == "multipart/form-data":
		res, err = s.importMultipart(r, sess, p, headerOK)
	case !headerOK:
		return res, errCSRF
	case ctype == "application/json":
		res, err = s.importJSON(r, p)
	default:
		q := r.URL.Query()
		info, ierr := batchInfo(q.Get("batch"), q.Get("cost_minor"), q.Get("date"), "")
		if ierr != nil {
			return res, ierr
		}
		res, err = s.Shop.ImportKeys(p.ID, info, r.Body)
	}
	if err != nil {
		return res, err
	}
	s.Log.Info("keys imported", "product", p.ID, "batch", res.BatchID, "imported", res.Imported,
		"duplicates", res.Duplicates, "rejected", res.Rejected, "staff", sess.User)
	s.record(sess, "inventory.import", p.ID, fmt.Sprintf("batch=%s imported=%d duplicates=%d rejected=%d",
		res.BatchID, res.Imported, res.Duplicates, res.Rejected))
	return res, nil
}

// batchInfo builds the batch description; cost is in minor units, or in
// major units when currency is given (the page's form).
func batchInfo(label, cost, date, currency string) (shop.BatchInfo, error) {
	info := shop.BatchInfo{Supplier: strings.TrimSpace(label), Date: strings.TrimSpace(date)}
	cost = strings.TrimSpace(cost)
	if cost == "" {
		return info, nil
	}
	if currency != "" {
		var err error
		info.CostMinor, err = parseMoney(cost, currency)
		return info, err
	}
	n, err := strconv.ParseInt(cost, 10, 64)
	if err != nil {
		return info, web.BadRequest("cost_minor: a whole number of minor units")
	}
	info.CostMinor = n
	return info, nil
}

func (s *Server) importJSON(r *http.Request, p shop.Product) (shop.ImportResult, error) {
	var req struct {
		Batch     string   `json:"batch"`
		Keys      []string `json:"keys"`
		CostMinor int64    `json:"cost_minor"`
		Date      string   `json:"date"`
		Seats     int      `json:"seats"`
	}
	if err := web.DecodeJSON(r, &req); err != nil {
		return shop.ImportResult{}, err
	}
	info := shop.BatchInfo{Supplier: strings.TrimSpace(req.Batch), CostMinor: req.CostMinor, Date: req.Date, Seats: req.Seats}
	return s.Shop.ImportKeys(p.ID, info, &keysReader{keys: req.Keys})
}

// keysReader presents keys one a line. A line break inside a key turns
// into a NUL, so the key is rejected as one bad line instead of splitting
// into two keys.
type keysReader struct {
	keys []string
	cur  string
}

var lineBreaks = strings.NewReplacer("\r", "\x00", "\n", "\x00")

func (k *keysReader) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		if k.cur == "" {
			if len(k.keys) == 0 {
				break
			}
			k.cur = lineBreaks.Replace(k.keys[0]) + "\n"
			k.keys = k.keys[1:]
		}
		c := copy(b[n:], k.cur)
		k.cur = k.cur[c:]
		n += c
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// maxField caps the small multipart fields (csrf, batch, cost, date).
const maxField = 1024

// importMultipart streams the console's form. Fields come in document
// order: csrf, batch, cost, date, file, keys. A non-empty file is imported
// and pasted keys are then ignored; otherwise the pasted keys are.
func (s *Server) importMultipart(r *http.Request, sess staff.Session, p shop.Product, csrfOK bool) (shop.ImportResult, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return shop.ImportResult{}, web.BadRequest("malformed multipart body")
	}
	fields := map[string]string{}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return shop.ImportResult{}, multipartError(err)
		}
		name := part.FormName()
		switch name {
		case "file", "keys":
			if !csrfOK {
				return shop.ImportResult{}, errCSRF
			}
			br := bufio.NewReaderSize(part, 64<<10)
			if _, err := br.Peek(1); err != nil {
				if errors.Is(err, io.EOF) {
					continue // an empty file input or text box
				}
				return shop.ImportResult{}, multipartError(err)
			}
			info, err := batchInfo(fields["batch"], fields["cost"], fields["date"], p.Currency)
			if err != nil {
				return shop.ImportResult{}, err
			}
			var src io.Reader = br
			if name == "file" && isCSV(part) {
				cr := newCSVKeys(br)
				defer cr.Close()
				src = cr
			}
			return s.Shop.ImportKeys(p.ID, info, src)
		default:
			b, err := io.ReadAll(io.LimitReader(part, maxField+1))
			if err != nil {
				return shop.ImportResult{}, multipartError(err)
			}
			if len(b) > maxField {
				return shop.ImportResult{}, web.BadRequest("field %q too long", name)
			}
			fields[name] = string(b)
			if name == "csrf" && sess.CheckCSRF(string(b)) {
				csrfOK = true
			}
		}
	}
	if !csrfOK {
		return shop.ImportResult{}, errCSRF
	}
	return shop.ImportResult{}, web.BadRequest("no keys: choose a file or paste keys")
}

func multipartError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return web.BadRequest("malformed multipart body")
}

func isCSV(part *multipart.Part) bool {
	return strings.EqualFold(path.Ext(part.FileName()), ".csv") ||
		strings.HasPrefix(part.Header.Get("Content-Type"), "text/csv")
}

// csvHeaders are first-column titles that mark a CSV's first line as a
// header rather than a key.
var csvHeaders = map[string]bool{
	"key": true, "keys": true, "code": true, "codes": true, "card": true, "cards": true, "cardno": true,
	"card_no": true, "serial": true, "license": true, "licence": true, "license key": true, "cdkey": true,
	"cd-key": true, "cd key": true, "卡密": true, "卡号": true, "激活码": true, "兑换码": true, "密钥": true, "序列号": true,
}

// csvKeys turns a CSV stream into one key a line: each record's first
// column, the first record skipped when it looks like a header. Close
// stops the converter if the import ends early.
type csvKeys struct {
	*io.PipeReader
}

func newCSVKeys(r io.Reader) csvKeys {
	pr, pw := io.Pipe()
	go func() {
		cr := csv.NewReader(r)
		cr.FieldsPerRecord = -1
		cr.LazyQuotes = true
		cr.ReuseRecord = true
		bw := bufio.NewWriterSize(pw, 64<<10)
		for first := true; ; first = false {
			rec, err := cr.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				pw.CloseWithError(web.BadRequest("the CSV file is malformed"))
				return
			}
			key := ""
			if len(rec) > 0 {
				key = rec[0]
			}
			if first && csvHeaders[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(key, "\ufeff")))] {
				key = "" // a blank line: skipped, and the numbering stays
			}
			if _, err := bw.WriteString(lineBreaks.Replace(key) + "\n"); err != nil {
				return // the reader was closed
			}
		}
		pw.CloseWithError(bw.Flush())
	}()
	return csvKeys{pr}
}

func (c csvKeys) Close() error { return c.PipeReader.CloseWithError(io.ErrClosedPipe) }
