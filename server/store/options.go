package store

import "github.com/dgraph-io/badger/v4"

// sized sets Badger's sizing options: how much memory and how many
// goroutines the store may use, and how large its files grow.
//
// Two cores: fewer compactors and goroutines than the defaults (4 and 8),
// a modest block cache (ample RAM, but the working set is small), small
// memtables so a crash replays little. Values up to 64 KiB stay in the LSM
// tree, where a deleted ciphertext is dropped by compaction instead of
// lingering in a value-log file until GC.
func sized(opt badger.Options) badger.Options {
	opt.NumCompactors = 2
	opt.NumGoroutines = 4
	opt.MemTableSize = 32 << 20
	opt.BlockCacheSize = 128 << 20
	opt.IndexCacheSize = 64 << 20
	opt.ValueThreshold = 64 << 10
	opt.ValueLogFileSize = 256 << 20
	return opt
}
