package store

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// privateDir makes dir (created if missing) and everything in it private to
// the owner: 0700 for directories, 0600 for files. The store holds staff
// TOTP secrets and password hashes in the clear, so a data directory other
// users can read is a leak, not a preference. An existing, looser directory
// is tightened rather than refused: a 0755 directory is the ordinary result
// of mkdir or a package's install script, not a deliberate choice, and the
// shop should not fail to start over it. If it cannot be tightened (another
// user owns it), Open refuses with a message that says what to do.
//
// Files Badger creates later get 0666 minus the umask; the veil binary sets
// its umask to 077 so they are born private too.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("store: data directory: %w", err)
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil // Badger writes none; do not follow one out of the directory
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if info.Mode().Perm()&0o077 == 0 {
			return nil
		}
		if err := os.Chmod(p, info.Mode().Perm()&want); err != nil {
			return fmt.Errorf("store: %s is readable by other users (mode %04o) and could not be made private; chmod -R go-rwx it or run as its owner: %w",
				p, info.Mode().Perm(), err)
		}
		return nil
	})
}
