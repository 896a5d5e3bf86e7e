package httpapi

import "golang.org/x/sync/semaphore"

// WithFilteredTurns makes d's filtered requests take their turns from s,
// which a test may hold.
func WithFilteredTurns(d Deps, s *semaphore.Weighted) Deps {
	d.filtered = s
	return d
}
