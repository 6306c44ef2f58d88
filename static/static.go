// Package static holds veil's stylesheet and small scripts, embedded in the
// binary and served under content-hashed URLs, so a browser may cache each
// for a year and still never runs a stale copy after an upgrade. Nothing here
// is loaded from anywhere else: no CDN, no web font, no third-party script.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed files
var files embed.FS

// Prefix is where the handler is mounted.
const Prefix = "/static/"

// asset is one embedded file with its hashed URL.
type asset struct {
	name  string // "veil.css"
	url   string // "/static/veil.3f2a9c1d.css"
	ctype string
	body  []byte
}

// index maps file names and hashed URLs to their assets. It is built once
// from the embedded files and never changes.
var index = buildIndex()

type assetIndex struct {
	byName map[string]*asset
	byURL  map[string]*asset
}

func buildIndex() assetIndex {
	ix := assetIndex{byName: map[string]*asset{}, byURL: map[string]*asset{}}
	entries, err := fs.ReadDir(files, "files")
	if err != nil {
		panic("static: " + err.Error()) // the embed directive guarantees the directory
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		body, err := files.ReadFile("files/" + e.Name())
		if err != nil {
			panic("static: " + err.Error())
		}
		sum := sha256.Sum256(body)
		ext := path.Ext(e.Name())
		base := strings.TrimSuffix(e.Name(), ext)
		a := &asset{
			name:  e.Name(),
			url:   Prefix + base + "." + hex.EncodeToString(sum[:4]) + ext,
			ctype: contentType(ext),
			body:  body,
		}
		ix.byName[a.name] = a
		ix.byURL[a.url] = a
	}
	return ix
}

func contentType(ext string) string {
	switch ext {
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

// Path returns the content-hashed URL of an embedded file,
// "/static/<name>.<hash8>.<ext>", or "" when there is no such file.
func Path(name string) string {
	if a, ok := index.byName[name]; ok {
		return a.url
	}
	return ""
}

// Names lists the embedded files.
func Names() []string {
	names := make([]string, 0, len(index.byName))
	for n := range index.byName {
		names = append(names, n)
	}
	return names
}

// Handler serves the embedded files at their hashed URLs with a one-year,
// immutable cache lifetime. Any other path under Prefix, including a file
// name with an old hash, is 404: an old page must not get new bytes under an
// old name.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		a, ok := index.byURL[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.ctype)
		h.Set("Content-Length", strconv.Itoa(len(a.body)))
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(a.body)
		}
	})
}
