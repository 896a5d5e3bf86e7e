package httpapi

import "golang.org/x/sync/semaphore"

// WithHeavyTurns makes d's heavy requests take their turns from s,
// which a test may hold.
func WithHeavyTurns(d Deps, s *semaphore.Weighted) Deps {
	d.heavy = s
	return d
}
