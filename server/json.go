package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// decodeJSON reads one JSON value from the (size-limited) body into v. It
// is lenient on unknown fields, strict on types and on trailing data.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return jsonError(err)
		}
		return badRequest("unexpected data after the JSON value")
	}
	return nil
}

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
		return badRequest("empty body: a JSON object is expected")
	case errors.As(err, &te):
		if te.Field != "" {
			return badRequest("field %q must be of type %s", te.Field, te.Type)
		}
		return badRequest("a JSON object is expected")
	}
	return badRequest("malformed JSON")
}

// parseForm reads the (size-limited) form body.
func parseForm(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badRequest("malformed form")
	}
	return nil
}
