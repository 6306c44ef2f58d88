package store

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOpenMakesDataDirPrivate: a data directory that others can read (0755,
// with a 0644 file from an earlier run) is tightened to 0700/0600 by Open.
func TestOpenMakesDataDirPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755) // whatever the umask
	old := filepath.Join(dir, "000001.vlog.old")
	if err := os.WriteFile(old, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(old, 0o644)
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for p, want := range map[string]os.FileMode{dir: 0o700, old: 0o600} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", filepath.Base(p), st.Mode().Perm(), want)
		}
	}
}
