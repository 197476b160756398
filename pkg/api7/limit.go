package api7

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// gate is the Retry-After window shared by every request of a Client:
// nothing is sent before notBefore (Unix nanoseconds; read without a lock
// by every attempt).
type gate struct {
	notBefore atomic.Int64
}

// wait blocks until the window is over or ctx is done.
func (g *gate) wait(ctx context.Context) error {
	for {
		d := time.Until(time.Unix(0, g.notBefore.Load()))
		if d <= 0 {
			return ctx.Err()
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}

// close extends the window to t (never shortens it).
func (g *gate) close(t time.Time) {
	n := t.UnixNano()
	for {
		cur := g.notBefore.Load()
		if n <= cur || g.notBefore.CompareAndSwap(cur, n) {
			return
		}
	}
}

// limiter bounds the requests in flight. Its bound halves when the server
// throttles (at most once per round of requests: only a request sent after
// the last decrease can cause another) and grows by one per bound's worth of
// successes, up to max (additive increase, multiplicative decrease).
type limiter struct {
	mu           sync.Mutex
	max          int
	limit        float64
	inflight     int
	waiting      int // callers blocked in acquire
	lastDecrease time.Time
	wake         chan struct{}
}

func newLimiter(n int) *limiter {
	return &limiter{max: n, limit: float64(n), wake: make(chan struct{})}
}

// acquire waits for a slot and returns the time it was granted.
func (l *limiter) acquire(ctx context.Context) (time.Time, error) {
	waited := false
	for {
		l.mu.Lock()
		if waited {
			l.waiting--
		}
		if l.inflight < int(l.limit) {
			l.inflight++
			l.mu.Unlock()
			return time.Now(), nil
		}
		wake := l.wake
		l.waiting++
		waited = true
		l.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			l.mu.Lock()
			l.waiting--
			l.mu.Unlock()
			return time.Time{}, ctx.Err()
		}
	}
}

// release frees a slot taken at start; throttled says the answer was a 429,
// ok that it was a success.
func (l *limiter) release(start time.Time, throttled, ok bool) {
	l.mu.Lock()
	l.inflight--
	switch {
	case throttled && start.After(l.lastDecrease):
		l.limit = max(1, l.limit/2)
		l.lastDecrease = time.Now()
	case ok && l.limit < float64(l.max):
		l.limit = min(float64(l.max), l.limit+1/l.limit)
	}
	if l.waiting > 0 {
		// Wake the waiters to compete for the slot (and any the bound
		// grew by); no channel is made when nobody waits.
		close(l.wake)
		l.wake = make(chan struct{})
	}
	l.mu.Unlock()
}

// current returns the bound (for tests and logs).
func (l *limiter) current() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(l.limit)
}

// backoff returns the full-jitter wait before retry n (0-based).
func (p RetryPolicy) backoff(n int) time.Duration {
	step := p.BaseDelay << min(n, 20)
	if step > p.MaxDelay || step <= 0 {
		step = p.MaxDelay
	}
	return rand.N(step + 1) //nolint:gosec // jitter, not security
}

// retryAfter parses a Retry-After header (seconds or an HTTP date), capped
// at limit. Zero means none.
func retryAfter(h http.Header, now time.Time, limit time.Duration) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		d = time.Duration(secs * float64(time.Second))
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	if d <= 0 {
		return 0
	}
	return min(d, limit)
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
