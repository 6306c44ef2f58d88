package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DecodeJSON reads one JSON value from the (size-limited) body into v. It
// is the one decoder of every JSON body, buyer and console: strict on
// types, on trailing data and on fields — a field v does not know is 400
// bad_request naming it, so a typo ("quantiy") is not silently ignored.
func DecodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return jsonError(err)
		}
		return BadRequest("unexpected data after the JSON value")
	}
	return nil
}

// unknownFieldPrefix starts encoding/json's error for a field the target
// does not have (with DisallowUnknownFields).
const unknownFieldPrefix = "json: unknown field "

var fieldNameRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,32}$`)

// jsonError describes a decoding failure without echoing the input.
func jsonError(err error) error {
	var (
		mbe *http.MaxBytesError
		te  *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, io.EOF):
		return BadRequest("empty body: a JSON object is expected")
	case strings.HasPrefix(err.Error(), unknownFieldPrefix):
		// encoding/json has no typed error for this. The name is echoed
		// only when it looks like a field name: at most 32 word
		// characters, so a pasted token (33 characters) never comes back.
		name, uerr := strconv.Unquote(strings.TrimPrefix(err.Error(), unknownFieldPrefix))
		if uerr != nil || !fieldNameRE.MatchString(name) {
			return BadRequest("unknown field in the JSON body")
		}
		return BadRequest("unknown field %q", name)
	case errors.As(err, &te):
		if te.Field != "" {
			return BadRequest("field %q must be of type %s", te.Field, te.Type)
		}
		return BadRequest("a JSON object is expected")
	}
	return BadRequest("malformed JSON")
}

// ParseForm reads the (size-limited) form body.
func ParseForm(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return BadRequest("malformed form")
	}
	return nil
}

// DecodeOptionalJSON is DecodeJSON for a body that may be empty.
func DecodeOptionalJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return BadRequest("unreadable body")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return DecodeJSON(r, v)
}

// RFC3339 formats t in UTC for the JSON answers; "" for the zero time.
func RFC3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
