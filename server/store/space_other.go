//go:build !unix

package store

// freeSpaceOf is unknown here: the free-space guard is off.
func freeSpaceOf(string) func() (uint64, error) { return nil }
