package store

import "github.com/dgraph-io/badger/v4"

// sized sets Badger's sizing options: how much memory and how many
// goroutines the store may use, and how large its files grow. Each figure
// below was measured with `veil bench --rss-keys 1000000` (one million keys
// in stock: peak and steady RSS, the Go heap, a heap profile) on the 2-core
// machine; see README "Measured".
//
// What the memory is, after one million keys (≈220 MiB of tables on disk):
//   - Badger maps its table files and writes each new table through the map,
//     so every live table stays resident as file-backed pages (clean page
//     cache, reclaimed by the kernel under pressure): the store's size on
//     disk, whatever the options below.
//   - Anonymous memory is the Go heap: the live memtable's arena and, while
//     importing, the immutable memtables and the table builders' buffers
//     (Badger pools up to eight of them, each grown to the size of the table
//     it last built, and returns one every two idle seconds).
func sized(opt badger.Options) badger.Options {
	// Two cores: fewer compactors and goroutines than the defaults (4 and 8).
	opt.NumCompactors = 2
	opt.NumGoroutines = 4
	// A memtable's arena (its size plus 30 %) is allocated whole on the Go
	// heap, and an L0 table builder grows its buffers to the memtable's
	// size. 32 → 16 MiB (with NumMemtables below) took the steady heap
	// after the import from 62 to 41 MiB and the peak RSS from 1038 to 898
	// MiB; 16 → 8 MiB took the steady RSS with a million keys in stock from
	// 288 to 271 MiB (anon 52 → 36 MiB), with purchases/s and p99 unchanged
	// or better (back to back: 1,294–1,343 → 1,360/s at concurrency 64,
	// p99 130 → 96 ms). Badger refuses a transaction larger than 15 % of it
	// (1.2 MiB): the committer's batches stay under 1 MiB (group.go), and
	// one import transaction of the longest keys fits
	// (TestImportOfLongestKeysFits in server/shop, with importChunk keys).
	// Small memtables also mean a crash replays little.
	opt.MemTableSize = 8 << 20
	// One memtable being written and up to two being flushed (default 5).
	// With two, a full memtable whose predecessor was still flushing blocked
	// every write until that flush ended: at concurrency 64 the slowest
	// purchases came in bursts every ≈ 1.5 s, as often as a memtable fills
	// (p99 107 → 90 ms, purchases/s 1,212 → 1,437, back to back). Each
	// memtable is up to 11 MiB of heap while it lives; once flushed it is
	// gone, so the steady RSS does not change.
	opt.NumMemtables = 3
	// Without compression or encryption a cached block is a small header
	// pointing into the mapped table file, so this budget (charged at the
	// block's size) holds ≈32k blocks for a few MiB of heap; the heap
	// profile at the steady point shows nothing of it.
	opt.BlockCacheSize = 128 << 20
	// Badger reads table indices through this cache only for encrypted
	// tables (table.fetchIndex); ours are not, so it would stay empty.
	opt.IndexCacheSize = 0
	// Values up to 64 KiB stay in the LSM tree, where a deleted ciphertext
	// is dropped by compaction instead of lingering in a value-log file
	// until GC.
	opt.ValueThreshold = 64 << 10
	opt.ValueLogFileSize = 256 << 20
	return opt
}
