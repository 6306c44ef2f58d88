package web

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// csp allows nothing but our own files: no inline script or style, no
// framing, forms posting only to us.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// SecurityHeaders sets the headers every answer carries. Handlers that show
// a token or a key raise Cache-Control to no-store; static files lower it.
func (s *Site) SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// The values are shared, read-only slices (keys in canonical
		// form): every answer carries them, and Set would allocate each
		// anew. Header.Set replaces a slice and Add appends past its
		// length into a new array, so no answer can change another's.
		for _, sh := range securityHeaders {
			h[sh.name] = sh.value
		}
		if s.TLS {
			h["Strict-Transport-Security"] = hsts
		}
		next.ServeHTTP(w, r)
	})
}

var securityHeaders = []struct {
	name  string
	value []string
}{
	{"Content-Security-Policy", []string{csp}},
	{"X-Content-Type-Options", []string{"nosniff"}},
	{"Referrer-Policy", []string{"no-referrer"}},
	{"X-Frame-Options", []string{"DENY"}},
	{"Cross-Origin-Opener-Policy", []string{"same-origin"}},
	{"Cross-Origin-Resource-Policy", []string{"same-origin"}},
	{"Permissions-Policy", []string{"camera=(), microphone=(), geolocation=(), payment=()"}},
	{"Cache-Control", []string{"no-cache"}},
}

var hsts = []string{"max-age=63072000; includeSubDomains"}

// NoStore marks an answer that shows a token or a key: no cache, shared or
// private, may keep it.
func NoStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

// BodyLimited caps a buyer request's body at MaxBody (LimitBody).
func (s *Site) BodyLimited(next http.HandlerFunc) http.HandlerFunc {
	return LimitBody(MaxBody, next).ServeHTTP
}

// LimitBody caps the request body at limit bytes; reading past the cap
// fails with an *http.MaxBytesError, which WriteError turns into 413
// body_too_large.
func LimitBody(limit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		next.ServeHTTP(w, r)
	})
}

// RateLimited refuses a client address over its budget with 429.
func (s *Site) RateLimited(next http.HandlerFunc) http.HandlerFunc {
	if s.Limiter == nil {
		return next
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := s.Limiter.allow(s.ClientAddr(r)); !ok {
			s.WriteError(w, r, &rateLimitedError{RetryAfter: wait})
			return
		}
		next(w, r)
	}
}

type ctxKey int

const routeKey ctxKey = 0

// RouteOf returns the route pattern of the request, for logs.
func RouteOf(r *http.Request) string {
	if p, ok := r.Context().Value(routeKey).(string); ok {
		return p
	}
	return "(unrouted)"
}

// Logged logs each request by method, route pattern, status and duration.
// Never the raw path or query, the client address, or any header: a token
// may sit in Authorization, and an address is not ours to keep.
func (s *Site) Logged(pattern string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), routeKey, pattern))
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		s.Log.LogAttrs(r.Context(), slog.LevelInfo, "http",
			slog.String("method", r.Method),
			slog.String("route", pattern),
			slog.Int("status", rec.status),
			slog.Duration("duration", time.Since(start)),
		)
	})
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack lets the chat's WebSocket upgrade through the request log (gorilla
// asks for an http.Hijacker, not a ResponseController); a hijacked request
// is logged as 101.
func (w *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("server: connection cannot be hijacked")
	}
	if w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return h.Hijack()
}
