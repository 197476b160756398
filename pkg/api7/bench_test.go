package api7

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// benchSet is services services, each with an inline upstream and
// routesPer routes.
func benchSet(services, routesPer int) (svcs, routes []model.Resource) {
	for i := range services {
		name := fmt.Sprintf("svc-%05d", i)
		sk := model.Key{Kind: model.KindService, ID: model.ServiceID(name)}
		svcs = append(svcs, model.Resource{Key: sk, Name: name, Body: map[string]any{
			"name":     name,
			"labels":   map[string]any{"team": "bench"},
			"upstream": map[string]any{"nodes": []any{map[string]any{"host": "10.0.0.1", "port": 8080.0, "weight": 100.0}}},
		}})
		for j := range routesPer {
			rn := fmt.Sprintf("route-%d", j)
			routes = append(routes, model.Resource{Key: model.Key{Kind: model.KindRoute, ID: model.RouteID(name, rn)}, Name: rn, Parent: sk,
				Body: map[string]any{"name": rn, "uris": []any{fmt.Sprintf("/%s/%d", name, j)}, "methods": []any{"GET"}}})
		}
	}
	return svcs, routes
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchFixture(b *testing.B, cfg Config, opts ...emulator.Option) *fixture {
	b.Helper()
	cfg.Logger = nil
	f := newFixture(b, cfg, opts...)
	return f
}

// BenchmarkList lists 30,000 owned objects (10,000 services with their
// upstreams, 20,000 routes) from the emulator, unpaged (as on APISIX) and
// in pages of 500.
func BenchmarkList(b *testing.B) {
	for _, bc := range []struct {
		name string
		page int
	}{{"unpaged", 0}, {"paged500", 500}} {
		b.Run(bc.name, func(b *testing.B) {
			f := benchFixture(b, Config{PageSize: bc.page, Concurrency: 16})
			ctx := context.Background()
			svcs, routes := benchSet(10_000, 2)
			if failed := putConcurrently(ctx, f.client, svcs, 16); len(failed) > 0 {
				b.Fatalf("%d puts failed", len(failed))
			}
			if failed := putConcurrently(ctx, f.client, routes, 16); len(failed) > 0 {
				b.Fatalf("%d puts failed", len(failed))
			}
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			for b.Loop() {
				inv, err := f.client.List(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if len(inv.Owned) != 30_000 {
					b.Fatalf("%d owned", len(inv.Owned))
				}
			}
			// Client and emulator together, in this process.
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
		})
	}
}

// BenchmarkPut writes 3,000 objects (1,000 services with their upstream
// and one route: 3,000 requests) at concurrency 16 against 2 ms of
// emulator latency per request. The bound is concurrency / latency =
// 8,000 requests/s.
func BenchmarkPut(b *testing.B) {
	var requests, busy atomic.Int64
	f := benchFixture(b, Config{Concurrency: 16, Hooks: Hooks{Request: func(ri RequestInfo) {
		requests.Add(1)
		busy.Add(int64(ri.Duration))
	}}},
		emulator.WithLatency(2*time.Millisecond))
	ctx := context.Background()
	svcs, routes := benchSet(1_000, 1)
	if _, err := f.client.Version(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var elapsed time.Duration
	requests.Store(0)
	busy.Store(0)
	cpu0 := cpuTime(b)
	for b.Loop() {
		start := time.Now()
		if failed := putConcurrently(ctx, f.client, svcs, 16); len(failed) > 0 {
			b.Fatalf("%d puts failed", len(failed))
		}
		if failed := putConcurrently(ctx, f.client, routes, 16); len(failed) > 0 {
			b.Fatalf("%d puts failed", len(failed))
		}
		elapsed += time.Since(start)
	}
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
	b.ReportMetric(float64(requests.Load())/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(requests.Load())/float64(b.N), "req/op")
	b.ReportMetric(float64(busy.Load())/float64(requests.Load())/1e6, "ms/req")
	b.ReportMetric(float64(f.em.MaxInFlight()), "max-in-flight")
}
