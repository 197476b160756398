package apply_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/gitops-gateway/reconciler/internal/scalegen"
	"github.com/gitops-gateway/reconciler/pkg/apply"
	"github.com/gitops-gateway/reconciler/pkg/diff"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// BenchmarkNormaliseDiffPlan30k is the pure part of one reconcile at 30,000
// objects (10,000 services, 20,000 routes). "in-sync": every body on both
// sides normalised and compared, empty plan. "all-create": an empty
// gateway, 30,000 steps planned.
func BenchmarkNormaliseDiffPlan30k(b *testing.B) {
	desired, live := scalegen.Services(10_000, 2)
	d, err := diff.New(diff.Options{Defaults: model.Defaults{Plugins: map[string]map[string]any{"key-auth": {"header": "apikey"}}}})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		live []model.Resource
		want int
	}{
		{"in-sync", live, 0},
		{"all-create", nil, len(desired)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				cs := d.Compute(desired, bc.live)
				p := apply.NewPlan(apply.Input{Changes: cs, Desired: len(desired), Live: model.Inventory{Owned: bc.live}, ListingComplete: true}, apply.DefaultPolicy())
				if len(p.Steps) != bc.want {
					b.Fatalf("%d steps, want %d", len(p.Steps), bc.want)
				}
			}
			// CPU time is what a shared machine cannot inflate: wall time
			// is at least CPU time / GOMAXPROCS.
			b.ReportMetric((cpuTime()-cpu).Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}

// latencyGateway answers every call after a fixed delay, two delays for a
// service (APISIX's layout: its upstream, then itself), and keeps nothing.
type latencyGateway struct{ latency time.Duration }

func (g latencyGateway) Put(ctx context.Context, r model.Resource) error {
	d := g.latency
	if r.Key.Kind == model.KindService {
		d *= 2
	}
	t := time.NewTimer(d) // the simulated round trip, not synchronisation
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g latencyGateway) Delete(ctx context.Context, r model.Resource) error { return g.Put(ctx, r) }

// BenchmarkExecute1000Services measures the executor alone: 1,000 services
// (two requests each) and their 1,000 routes against a gateway that only
// waits 2 ms per request, for several concurrencies, next to the bound
// requests × latency / concurrency. Per-object scheduling keeps the pipe
// full: the routes of early services go while later services are written.
func BenchmarkExecute1000Services(b *testing.B) {
	const latency = 2 * time.Millisecond
	var desired []model.Resource
	for i := range 1000 {
		s := service(fmt.Sprintf("svc-%04d", i))
		desired = append(desired, s, route(s.Name, "r0"))
	}
	plan := apply.NewPlan(apply.Input{Changes: diff.Compute(desired, nil), Desired: len(desired), ListingComplete: true}, apply.DefaultPolicy())
	requests := 3000
	for _, conc := range []int{8, 16, 32, 64} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			e := &apply.Executor{Gateway: latencyGateway{latency: latency}, Concurrency: conc}
			for b.Loop() {
				if _, err := e.Execute(context.Background(), plan); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(time.Duration(requests)*latency/time.Duration(conc))/1e9, "bound-s/op")
		})
	}
}

// cpuTime is the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
