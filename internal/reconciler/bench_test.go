package reconciler

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
	"github.com/gitops-gateway/reconciler/pkg/git"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

func gitOptions() git.Options { return git.Options{} }

func routeIDOf(i int) string { return model.RouteID(fmt.Sprintf("svc%04d", i), "r") }

// servicesConfig declares n services, each with one route and an inline
// upstream: the design's 3,000-object workload for n = 1,000.
func servicesConfig(n int) string {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: svc%04d\n    upstream:\n      nodes:\n        - host: 10.0.%d.%d\n          port: 80\n          weight: 1\n    routes:\n      - name: r\n        uris: [/svc%04d]\n", i, i/250, i%250+1, i)
	}
	return b.String()
}

// BenchmarkCycleNoChange is one cycle of a target whose Git ref did not
// move and whose gateway (the emulator, over loopback HTTP, 1 ms of
// latency per request) holds 1,000 services with a route and an upstream
// each: one reference advertisement, the list requests, a diff, no write.
func BenchmarkCycleNoChange(b *testing.B) {
	var srv *gitServer
	h := newHarness(b, harnessOpts{
		emu:    []emulator.Option{emulator.WithLatency(time.Millisecond)},
		files:  map[string]string{"services.yaml": servicesConfig(1000)},
		source: httpSource(&srv, "", gitOptions()),
	})
	if c := h.once(); c.Counts.Applied != 2000 {
		b.Fatalf("initial sync: %+v", c.Counts)
	}
	b.ReportAllocs()
	for b.Loop() {
		c := h.target.Once(b.Context())
		<-h.cycles
		if c.Changes != 0 {
			b.Fatalf("changes: %+v", c.Items[:1])
		}
	}
}

// BenchmarkCycleDriftCorrection is one cycle that finds 50 routes edited by
// hand among the 1,000 services and corrects them.
func BenchmarkCycleDriftCorrection(b *testing.B) {
	var srv *gitServer
	h := newHarness(b, harnessOpts{
		emu:    []emulator.Option{emulator.WithLatency(time.Millisecond)},
		files:  map[string]string{"services.yaml": servicesConfig(1000)},
		source: httpSource(&srv, "", gitOptions()),
	})
	h.once()
	h.once()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		h.once() // in sync: the next edits are new drift, not a fight
		for i := range 50 {
			h.gw.editRoute(b, routeIDOf(i), "hand")
		}
		b.StartTimer()
		c := h.target.Once(b.Context())
		<-h.cycles
		if c.Counts.Applied != 50 {
			b.Fatalf("corrected %d: %+v %+v", c.Counts.Applied, c.Counts, c.Items[:min(2, len(c.Items))])
		}
	}
}
