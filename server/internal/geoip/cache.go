package geoip

import "sync/atomic"

// cacheSlots is the number of entries of each offset cache. A full DB-IP City
// database has about 200,000 distinct records, but the traffic of one site
// comes from far fewer places.
const cacheSlots = 1 << 13

// offsetCache is a fixed-size, direct-mapped, lock-free cache of decoded
// database records keyed by their offset in the database's data section.
// Records are immutable, so a hit needs no decoding and no allocation; a miss
// replaces whatever shared the slot. It is safe for concurrent use.
type offsetCache[T any] struct {
	slots []atomic.Pointer[cacheEntry[T]]
	mask  uint64
}

// cacheEntry is one cached record.
type cacheEntry[T any] struct {
	offset uintptr
	value  T
}

// newOffsetCache returns a cache with n slots; n must be a power of two.
func newOffsetCache[T any](n int) *offsetCache[T] {
	return &offsetCache[T]{slots: make([]atomic.Pointer[cacheEntry[T]], n), mask: uint64(n - 1)}
}

// slot returns the slot for offset.
func (c *offsetCache[T]) slot(offset uintptr) *atomic.Pointer[cacheEntry[T]] {
	// Fibonacci hashing spreads the (clustered) offsets over the slots.
	h := uint64(offset) * 0x9E3779B97F4A7C15
	return &c.slots[(h>>32)&c.mask]
}

// get returns the record cached for offset.
func (c *offsetCache[T]) get(offset uintptr) (T, bool) {
	if e := c.slot(offset).Load(); e != nil && e.offset == offset {
		return e.value, true
	}
	var zero T
	return zero, false
}

// put caches value as the record at offset.
func (c *offsetCache[T]) put(offset uintptr, value T) {
	c.slot(offset).Store(&cacheEntry[T]{offset: offset, value: value})
}
