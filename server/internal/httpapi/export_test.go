package httpapi

import "golang.org/x/sync/semaphore"

// WithHeavyTurns makes d's heavy requests take their turns from own (logins
// and API tokens) and shared (share links), which a test may hold.
func WithHeavyTurns(d Deps, own, shared *semaphore.Weighted) Deps {
	d.heavy, d.heavyShared = own, shared
	return d
}
