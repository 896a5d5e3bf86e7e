package auth

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// ErrTooManyAttempts is matched (errors.Is) by every *Throttled.
var ErrTooManyAttempts = errors.New("too many failed logins")

// Throttled refuses a login attempt that comes too soon after failed ones.
type Throttled struct {
	Wait time.Duration
}

func (e *Throttled) Error() string {
	switch s := e.RetryAfter(); {
	case s == 1:
		return "too many failed logins; try again in 1 second"
	case s < 120:
		return fmt.Sprintf("too many failed logins; try again in %d seconds", s)
	default:
		return fmt.Sprintf("too many failed logins; try again in %d minutes", (s+59)/60)
	}
}

// Is makes errors.Is(err, ErrTooManyAttempts) true.
func (e *Throttled) Is(target error) bool { return target == ErrTooManyAttempts }

// RetryAfter is the wait in whole seconds, at least 1.
func (e *Throttled) RetryAfter() int {
	s := int((e.Wait + time.Second - 1) / time.Second)
	return max(s, 1)
}

// rule is how failures of one kind of key slow it down: the first free
// failures cost nothing, each further one makes the key wait 1 s, then
// 2 s, 4 s… up to max before its next attempt.
type rule struct {
	free int
	max  time.Duration
}

func (r rule) wait(failures int) time.Duration {
	k := failures - r.free
	switch {
	case k <= 0:
		return 0
	case k > 30:
		return r.max
	}
	return min(time.Second<<(k-1), r.max)
}

// The login limits. Failed logins are counted per (account, address) pair,
// per address and per account, and a count is forgotten an hour after its
// last failure. Failures slow down the pair and the address they come
// from; nothing locks an account. Past the account's ceiling, which only an
// attack reaches, a pair has no free failures left: an address that has
// not failed on the account still gets its attempt at once.
var (
	pairRule    = rule{free: 3, max: 15 * time.Minute}
	addressRule = rule{free: 20, max: 15 * time.Minute}
)

const (
	accountCeiling = 100
	forgetAfter    = time.Hour
)

// limiter counts failed logins in this node's memory.
type limiter struct {
	pair, address rule
	ceiling       int
	forget        time.Duration
	now           func() time.Time

	mu    sync.Mutex
	seen  map[string]*failures
	swept time.Time
}

type failures struct {
	n    int
	last time.Time
}

func newLimiter() *limiter {
	return &limiter{pair: pairRule, address: addressRule, ceiling: accountCeiling, forget: forgetAfter,
		now: time.Now, seen: map[string]*failures{}}
}

// attemptKeys are the counters one attempt touches: pair, address, account.
type attemptKeys [3]string

// addressKey groups IPv6 addresses by their /64, which one host usually
// holds whole.
func addressKey(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().String()
	}
	return a.String()
}

// begin counts an attempt as failed in advance, so that parallel attempts
// cannot outrun the limits, or returns how long the caller must wait first.
func (l *limiter) begin(account string, addr netip.Addr) (attemptKeys, time.Duration) {
	if len(account) > 254 {
		account = account[:254]
	}
	ak := addressKey(addr)
	keys := attemptKeys{"pair:" + account + "\x00" + ak, "addr:" + ak, "acct:" + account}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	pair, address, acct := l.get(keys[0], now), l.get(keys[1], now), l.get(keys[2], now)
	pr := l.pair
	if acct.n >= l.ceiling {
		pr.free = 0
	}
	wait := max(remaining(pr.wait(pair.n), pair.last, now), remaining(l.address.wait(address.n), address.last, now))
	if wait > 0 {
		return keys, wait
	}
	for _, k := range keys {
		f := l.seen[k]
		if f == nil || now.Sub(f.last) > l.forget {
			f = &failures{}
			l.seen[k] = f
		}
		f.n++
		f.last = now
	}
	return keys, 0
}

// succeeded forgets the pair's failures and takes the attempt back from
// the address and the account.
func (l *limiter) succeeded(keys attemptKeys) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.seen, keys[0])
	for _, k := range keys[1:] {
		if f := l.seen[k]; f != nil {
			if f.n--; f.n <= 0 {
				delete(l.seen, k)
			}
		}
	}
}

func (l *limiter) get(key string, now time.Time) failures {
	f := l.seen[key]
	if f == nil || now.Sub(f.last) > l.forget {
		return failures{}
	}
	return *f
}

// sweep drops forgotten counts every quarter of the forget time.
func (l *limiter) sweep(now time.Time) {
	if now.Sub(l.swept) < l.forget/4 {
		return
	}
	for k, f := range l.seen {
		if now.Sub(f.last) > l.forget {
			delete(l.seen, k)
		}
	}
	l.swept = now
}

func remaining(wait time.Duration, last, now time.Time) time.Duration {
	if wait == 0 {
		return 0
	}
	return max(wait-now.Sub(last), 0)
}
