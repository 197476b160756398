package reconciler

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/gitops-gateway/reconciler/internal/reconciler/clock"
)

// Daemon runs the loops of several targets.
type Daemon struct {
	targets []*Target
	byName  map[string]*Target
	clock   clock.Clock
	log     *zap.Logger
}

// NewDaemon groups targets; their names must be unique.
func NewDaemon(targets []*Target, clk clock.Clock, log *zap.Logger) (*Daemon, error) {
	if clk == nil {
		clk = clock.Real{}
	}
	if log == nil {
		log = zap.NewNop()
	}
	d := &Daemon{targets: targets, byName: make(map[string]*Target, len(targets)), clock: clk, log: log}
	for _, t := range targets {
		if _, dup := d.byName[t.Name()]; dup {
			return nil, fmt.Errorf("two targets are named %q", t.Name())
		}
		d.byName[t.Name()] = t
	}
	return d, nil
}

// Run runs every target's loop until ctx is done, then waits for the cycles
// in progress: their requests may finish until drain has passed, and are
// cancelled then. It reports whether everything stopped within drain.
func (d *Daemon) Run(ctx context.Context, drain time.Duration) bool {
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	var wg sync.WaitGroup
	for _, t := range d.targets {
		wg.Go(func() { t.Run(ctx, work) })
	}
	<-ctx.Done()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	timer := d.clock.NewTimer(drain)
	defer timer.Stop()
	select {
	case <-done:
		return true
	case <-timer.C():
		d.log.Warn("requests still in flight after the shutdown bound: cancelling them", zap.Duration("duration", drain))
		cancelWork()
		<-done
		return false
	}
}

// RunOnce runs one cycle of every target at once and returns them in the
// targets' order.
func (d *Daemon) RunOnce(ctx context.Context) []Cycle {
	out := make([]Cycle, len(d.targets))
	var wg sync.WaitGroup
	for i, t := range d.targets {
		wg.Go(func() { out[i] = t.Once(ctx) })
	}
	wg.Wait()
	return out
}

// Targets returns the targets in configuration order.
func (d *Daemon) Targets() []*Target { return d.targets }

// Statuses returns every target's status, in configuration order.
func (d *Daemon) Statuses() []Status {
	out := make([]Status, len(d.targets))
	for i, t := range d.targets {
		out[i] = t.Status()
	}
	return out
}

// Trigger asks the named target for an early cycle; false when there is no
// such target.
func (d *Daemon) Trigger(name string) bool {
	t, ok := d.byName[name]
	if ok {
		t.Trigger()
	}
	return ok
}

// Has reports whether a target of that name exists.
func (d *Daemon) Has(name string) bool {
	_, ok := d.byName[name]
	return ok
}

// Ready reports whether every target has compared its gateway with a
// desired state at least once, and names those that have not.
func (d *Daemon) Ready() (bool, []string) {
	var waiting []string
	for _, t := range d.targets {
		if !t.Status().Observed {
			waiting = append(waiting, t.Name())
		}
	}
	return len(waiting) == 0, waiting
}
