package clock

import (
	"testing"
	"time"
)

func TestFake(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	a := f.NewTimer(time.Second)
	b := f.NewTimer(3 * time.Second)
	c := f.NewTimer(2 * time.Second)
	if !f.BlockUntil(3, nil) || f.Waiters() != 3 {
		t.Fatalf("waiters = %d", f.Waiters())
	}
	if d, ok := f.Next(); !ok || d != time.Second {
		t.Errorf("next = %s %v", d, ok)
	}
	if !c.Stop() || c.Stop() {
		t.Error("Stop reports wrongly")
	}
	f.Advance(time.Second)
	select {
	case now := <-a.C():
		if !now.Equal(start.Add(time.Second)) {
			t.Errorf("fired at %s", now)
		}
	default:
		t.Fatal("a did not fire")
	}
	select {
	case <-b.C():
		t.Fatal("b fired early")
	default:
	}
	f.Advance(5 * time.Second)
	<-b.C()
	if f.Waiters() != 0 || !f.Now().Equal(start.Add(6*time.Second)) {
		t.Errorf("waiters %d, now %s", f.Waiters(), f.Now())
	}
	if _, ok := f.Next(); ok {
		t.Error("a pending timer remains")
	}
	if z := f.NewTimer(0); len(z.C()) != 1 {
		t.Error("a zero timer did not fire at once")
	}
	done := make(chan struct{})
	close(done)
	if f.BlockUntil(1, done) {
		t.Error("BlockUntil reports timers that are not there")
	}
}
