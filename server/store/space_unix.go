//go:build unix

package store

import "syscall"

// freeSpaceOf returns the bytes available to an unprivileged writer on dir's
// filesystem.
func freeSpaceOf(dir string) func() (uint64, error) {
	return func() (uint64, error) {
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err != nil {
			return 0, err
		}
		return st.Bavail * uint64(st.Bsize), nil
	}
}
