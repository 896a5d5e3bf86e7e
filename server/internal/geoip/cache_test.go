package geoip

import "testing"

func TestOffsetCache(t *testing.T) {
	c := newOffsetCache[string](4)
	if _, ok := c.get(100); ok {
		t.Fatal("empty cache hit")
	}
	for off := uintptr(0); off < 64; off++ {
		c.put(off, string(rune('a'+off%26)))
		if v, ok := c.get(off); !ok || v != string(rune('a'+off%26)) {
			t.Fatalf("get(%d) = %q, %v right after put", off, v, ok)
		}
	}
	// With 4 slots, at most 4 of the 64 offsets can still be cached, and
	// every hit must carry its own value.
	hits := 0
	for off := uintptr(0); off < 64; off++ {
		if v, ok := c.get(off); ok {
			hits++
			if v != string(rune('a'+off%26)) {
				t.Errorf("get(%d) = %q", off, v)
			}
		}
	}
	if hits == 0 || hits > 4 {
		t.Errorf("%d hits, want 1..4", hits)
	}
}
