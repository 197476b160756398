package main

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
)

// BenchmarkSync1000Services is design.md §13's workload: 1,000 services,
// each with one route and an inline upstream (3,000 objects on APISIX),
// against the emulator with 2 ms of latency per request, through the whole
// command (load, list, diff, plan, pre-flight, apply). For each
// concurrency it reports the wall time of a sync into an empty gateway, of
// a diff with no change and of deleting everything, the requests sent, and
// the bound requests × latency / concurrency.
func BenchmarkSync1000Services(b *testing.B) {
	const latency = 2 * time.Millisecond
	src := fleet{services: 1000, routes: 1000}.dir(b)
	empty := b.TempDir()
	writeFile(b, empty, "empty.yaml", "services: []\n")
	for _, conc := range []int{8, 16, 32, 64} {
		g := newQuietGateway(b, emulator.WithLatency(latency), emulator.WithRequestLogSize(1))
		c := fmt.Sprint(conc)
		measure := func(b *testing.B, seed func(), args ...string) {
			b.Helper()
			var requests int
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				g.em.Reset()
				if seed != nil {
					seed()
				}
				before := g.em.Counters().Requests
				c0 := cpuTime()
				b.StartTimer()
				if r := cli(b, g, nil, append(args, "--concurrency", c)...); r.code != 0 {
					b.Fatalf("exit %d\n%s", r.code, r.err)
				}
				b.StopTimer()
				cpu += cpuTime() - c0
				requests = g.em.Counters().Requests - before
				b.StartTimer()
			}
			// The emulator runs in this process: CPU time is the
			// reconciler's and the emulator's together.
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
			b.ReportMetric(float64(requests), "requests/op")
			b.ReportMetric(float64(time.Duration(requests)*latency/time.Duration(conc))/1e9, "bound-s/op")
		}
		seed := func() {
			if r := cli(b, g, nil, "sync", "--source", src, "--concurrency", "64"); r.code != 0 {
				b.Fatalf("seed: exit %d\n%s", r.code, r.err)
			}
		}
		b.Run("create/concurrency="+c, func(b *testing.B) { measure(b, nil, "sync", "--source", src) })
		b.Run("nochange-diff/concurrency="+c, func(b *testing.B) { measure(b, seed, "diff", "--source", src) })
		b.Run("delete-all/concurrency="+c, func(b *testing.B) {
			measure(b, seed, "sync", "--source", empty, "--allow-empty", "--max-deletes", "-1", "--max-delete-percent", "100")
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
