package auth

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// clockLimiter is a limiter with the default limits on a clock the test
// moves.
func clockLimiter() (*limiter, *time.Time) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	l := newLimiter()
	l.now = func() time.Time { return now }
	return l, &now
}

// fail makes a failed attempt and returns the wait it was refused with (0:
// it was let through).
func fail(l *limiter, account, addr string) time.Duration {
	_, wait := l.begin(account, netip.MustParseAddr(addr))
	return wait
}

func TestLimiter_PairSlowsDownAfterFreeFailures(t *testing.T) {
	l, now := clockLimiter()
	for i := 0; i < 4; i++ {
		if w := fail(l, "ana@example.org", "203.0.113.7"); w != 0 {
			t.Fatalf("failure %d refused for %s", i+1, w)
		}
	}
	for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		if w := fail(l, "ana@example.org", "203.0.113.7"); w != want {
			t.Fatalf("attempt right after a failure: wait %s, want %s", w, want)
		}
		*now = now.Add(want)
		if w := fail(l, "ana@example.org", "203.0.113.7"); w != 0 {
			t.Fatalf("attempt after waiting %s refused for %s", want, w)
		}
	}
	*now = now.Add(forgetAfter + time.Second)
	if w := fail(l, "ana@example.org", "203.0.113.7"); w != 0 {
		t.Fatalf("failures not forgotten after %s: wait %s", forgetAfter, w)
	}
}

func TestLimiter_StrangerCannotLockOutTheAccountOwner(t *testing.T) {
	l, now := clockLimiter()
	for i := 0; i < 40; i++ {
		fail(l, "ana@example.org", "203.0.113.7")
		*now = now.Add(time.Second)
	}
	if w := fail(l, "ana@example.org", "203.0.113.7"); w == 0 {
		t.Fatal("the guessing address is not slowed down")
	}
	keys, w := l.begin("ana@example.org", netip.MustParseAddr("81.2.69.160"))
	if w != 0 {
		t.Fatalf("the owner's address waits %s", w)
	}
	l.succeeded(keys)
}

func TestLimiter_AccountCeilingSlowsButDoesNotLockOut(t *testing.T) {
	l, now := clockLimiter()
	// Many addresses, one failure each: past the ceiling.
	for i := 0; i < accountCeiling; i++ {
		if w := fail(l, "ana@example.org", fmt.Sprintf("198.51.%d.%d", i/250, i%250+1)); w != 0 {
			t.Fatalf("first failure of address %d refused", i)
		}
	}
	// An address that has not failed on the account gets its attempt.
	keys, w := l.begin("ana@example.org", netip.MustParseAddr("81.2.69.160"))
	if w != 0 {
		t.Fatalf("a clean address waits %s on an account past its ceiling", w)
	}
	l.succeeded(keys)
	// One that has failed waits from its first failure on, and only a
	// little: the owner who mistyped is slowed, not locked out.
	if w := fail(l, "ana@example.org", "81.2.69.161"); w != 0 {
		t.Fatalf("first attempt refused for %s", w)
	}
	if w := fail(l, "ana@example.org", "81.2.69.161"); w != time.Second {
		t.Fatalf("second attempt past the ceiling: wait %s, want 1s", w)
	}
	*now = now.Add(time.Second)
	if keys, w := l.begin("ana@example.org", netip.MustParseAddr("81.2.69.161")); w != 0 {
		t.Fatalf("attempt after the wait refused for %s", w)
	} else {
		l.succeeded(keys)
	}
	// Other accounts are not affected.
	for i := 0; i < 4; i++ {
		if w := fail(l, "bob@example.org", "81.2.69.162"); w != 0 {
			t.Fatalf("bob's failure %d refused for %s", i+1, w)
		}
	}
}

func TestLimiter_AddressSlowsDownSpraying(t *testing.T) {
	l, _ := clockLimiter()
	for i := 0; i < addressRule.free+1; i++ {
		if w := fail(l, fmt.Sprintf("user%d@example.org", i), "203.0.113.7"); w != 0 {
			t.Fatalf("failure %d refused for %s", i+1, w)
		}
	}
	if w := fail(l, "someone@example.org", "203.0.113.7"); w != time.Second {
		t.Fatalf("spraying address: wait %s, want 1s", w)
	}
	if w := fail(l, "someone@example.org", "203.0.113.8"); w != 0 {
		t.Fatalf("another address waits %s", w)
	}
}

func TestLimiter_IPv6CountsPer64(t *testing.T) {
	l, _ := clockLimiter()
	for i := 0; i < pairRule.free+1; i++ {
		fail(l, "ana@example.org", fmt.Sprintf("2001:db8:1:2::%x", i+1))
	}
	if w := fail(l, "ana@example.org", "2001:db8:1:2:ffff::1"); w == 0 {
		t.Fatal("a new address of the same /64 escapes the limit")
	}
	if w := fail(l, "ana@example.org", "2001:db8:1:3::1"); w != 0 {
		t.Fatalf("another /64 waits %s", w)
	}
}

func TestLimiter_SuccessForgetsThePairsFailures(t *testing.T) {
	l, _ := clockLimiter()
	for i := 0; i < pairRule.free; i++ {
		fail(l, "ana@example.org", "81.2.69.160")
	}
	keys, _ := l.begin("ana@example.org", netip.MustParseAddr("81.2.69.160"))
	l.succeeded(keys)
	for i := 0; i < pairRule.free+1; i++ {
		if w := fail(l, "ana@example.org", "81.2.69.160"); w != 0 {
			t.Fatalf("failure %d after a login refused for %s", i+1, w)
		}
	}
}

func TestThrottled_SaysHowLongToWait(t *testing.T) {
	for _, tc := range []struct {
		wait  time.Duration
		after int
		msg   string
	}{
		{300 * time.Millisecond, 1, "try again in 1 second"},
		{4 * time.Second, 4, "try again in 4 seconds"},
		{15 * time.Minute, 900, "try again in 15 minutes"},
	} {
		e := &Throttled{Wait: tc.wait}
		if e.RetryAfter() != tc.after || e.Error() != "too many failed logins; "+tc.msg {
			t.Errorf("wait %s: %d, %q", tc.wait, e.RetryAfter(), e.Error())
		}
	}
}
