//go:build unix

package main

import "syscall"

// privateUmask makes every file the process creates private to its owner:
// Badger creates its tables and logs with mode 0666, and they hold staff
// TOTP secrets and password hashes (the store tightens files that exist
// already).
func privateUmask() { syscall.Umask(0o077) }
