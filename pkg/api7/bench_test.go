package api7

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
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

// benchTarget is where a benchmark's Client sends its requests: an
// emulator in this process (client and emulator CPU together in
// cpu-ms/op), or in a child process (cpu-ms/op is the client's alone, and
// emulator-cpu-ms/op the child's), as a real gateway would be.
type benchTarget struct {
	name  string
	child bool
	bare  bool // no emulator: a handler that only waits and answers {}
}

var benchTargets = []benchTarget{{name: "in-process"}, {name: "emulator-child", child: true}}

// emulatorChildEnv makes the test binary serve an emulator (see
// TestEmulatorChild) instead of running tests.
const emulatorChildEnv = "API7_BENCH_EMULATOR_CHILD"

// TestEmulatorChild is the child process of the emulator-child benchmarks:
// it serves an emulator with the canary token (and the latency in the
// environment variable) on loopback, prints its URL, and stops when its
// standard input closes. It does nothing in a normal test run.
func TestEmulatorChild(t *testing.T) {
	latency, ok := os.LookupEnv(emulatorChildEnv)
	if !ok {
		return
	}
	d, err := time.ParseDuration(latency)
	if err != nil {
		t.Fatal(err)
	}
	em, err := emulator.New(emulator.WithAdminToken(canary), emulator.WithLatency(d), emulator.WithRequestLogSize(0))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(em)
	fmt.Println(srv.URL)
	_, _ = io.Copy(io.Discard, os.Stdin)
	em.Close()
	srv.Close()
}

// emulatorChild starts the test binary as an emulator with the given
// latency and returns its URL and a function that reads the CPU time it
// has used so far.
func emulatorChild(b *testing.B, latency time.Duration) (url string, cpu func() time.Duration) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestEmulatorChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), emulatorChildEnv+"="+latency.String())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("the emulator child printed no URL: %v", err)
	}
	pid := cmd.Process.Pid
	return strings.TrimSpace(line), func() time.Duration {
		// utime and stime, fields 14 and 15 of /proc/<pid>/stat, in clock
		// ticks of 10 ms (CLK_TCK 100 on Linux).
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			b.Skip("no /proc: the child's CPU time cannot be read")
		}
		fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
		utime, _ := strconv.ParseInt(fields[11], 10, 64)
		stime, _ := strconv.ParseInt(fields[12], 10, 64)
		return time.Duration(utime+stime) * 10 * time.Millisecond
	}
}

// benchClient returns a Client for the target, with its emulator's CPU
// clock (nil in process) and the emulator itself (nil in a child).
func benchClient(b *testing.B, target benchTarget, cfg Config, latency time.Duration) (*Client, func() time.Duration, *emulator.Emulator) {
	b.Helper()
	if target.bare {
		srv := newServer(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			t := time.NewTimer(latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
			}
			w.Header().Set("Server", "APISIX/3.18.0")
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{}`)
		}))
		cfg.Server = srv.URL
		cfg.Token = model.NewSecret(canary)
		c, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = c.Close() })
		return c, nil, nil
	}
	if !target.child {
		f := benchFixture(b, cfg, emulator.WithLatency(latency))
		return f.client, nil, f.em
	}
	url, cpu := emulatorChild(b, latency)
	cfg.Server = url
	cfg.Token = model.NewSecret(canary)
	c, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c, cpu, nil
}

// BenchmarkList lists 30,000 owned objects (10,000 services with their
// upstreams, 20,000 routes) from the emulator, unpaged (as on APISIX) and
// in pages of 500.
func BenchmarkList(b *testing.B) {
	for _, target := range benchTargets {
		for _, bc := range []struct {
			name string
			page int
		}{{"unpaged", 0}, {"paged500", 500}} {
			b.Run(target.name+"/"+bc.name, func(b *testing.B) {
				c, emuCPU, _ := benchClient(b, target, Config{PageSize: bc.page, Concurrency: 16}, 0)
				ctx := context.Background()
				svcs, routes := benchSet(10_000, 2)
				if failed := putConcurrently(ctx, c, svcs, 16); len(failed) > 0 {
					b.Fatalf("%d puts failed", len(failed))
				}
				if failed := putConcurrently(ctx, c, routes, 16); len(failed) > 0 {
					b.Fatalf("%d puts failed", len(failed))
				}
				// One listing first: the emulator encodes each object on its
				// first read, once; a gateway's read cost is not the client's.
				if _, err := c.List(ctx); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				cpu0 := cpuTime(b)
				var emu0 time.Duration
				if emuCPU != nil {
					emu0 = emuCPU()
				}
				for b.Loop() {
					inv, err := c.List(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if len(inv.Owned) != 30_000 {
						b.Fatalf("%d owned", len(inv.Owned))
					}
				}
				// In process: client and emulator together.
				b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
				if emuCPU != nil {
					b.ReportMetric(float64(emuCPU()-emu0)/float64(b.N)/1e6, "emulator-cpu-ms/op")
				}
			})
		}
	}
}

// BenchmarkPut writes 3,000 objects (1,000 services with their upstream
// and one route: 3,000 requests) at concurrency 16 against 2 ms of
// emulator latency per request. The bound is concurrency / latency =
// 8,000 requests/s.
//
// The bare-server variant answers every request with {} after the
// latency, doing nothing else: what is left of the gap to the bound there is
// the client's and Go's HTTP stack's.
func BenchmarkPut(b *testing.B) {
	for _, target := range append(benchTargets, benchTarget{name: "bare-server", bare: true}) {
		b.Run(target.name, func(b *testing.B) {
			var requests, busy atomic.Int64
			c, emuCPU, em := benchClient(b, target, Config{Concurrency: 16, Hooks: Hooks{Request: func(ri RequestInfo) {
				requests.Add(1)
				busy.Add(int64(ri.Duration))
			}}}, 2*time.Millisecond)
			ctx := context.Background()
			svcs, routes := benchSet(1_000, 1)
			if _, err := c.Version(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			var elapsed time.Duration
			requests.Store(0)
			busy.Store(0)
			cpu0 := cpuTime(b)
			var emu0 time.Duration
			if emuCPU != nil {
				emu0 = emuCPU()
			}
			for b.Loop() {
				start := time.Now()
				if failed := putConcurrently(ctx, c, svcs, 16); len(failed) > 0 {
					b.Fatalf("%d puts failed", len(failed))
				}
				if failed := putConcurrently(ctx, c, routes, 16); len(failed) > 0 {
					b.Fatalf("%d puts failed", len(failed))
				}
				elapsed += time.Since(start)
			}
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
			if emuCPU != nil {
				b.ReportMetric(float64(emuCPU()-emu0)/float64(b.N)/1e6, "emulator-cpu-ms/op")
			}
			b.ReportMetric(float64(requests.Load())/elapsed.Seconds(), "req/s")
			b.ReportMetric(float64(requests.Load())/float64(b.N), "req/op")
			b.ReportMetric(float64(busy.Load())/float64(requests.Load())/1e6, "ms/req")
			if em != nil {
				b.ReportMetric(float64(em.MaxInFlight()), "max-in-flight")
			}
		})
	}
}

// BenchmarkPutNetHTTPFloor is the floor under BenchmarkPut/bare-server:
// Go's own http.Client sending 3,000 PUTs of a pre-encoded 300-byte body at
// concurrency 16 to the same kind of server (it waits 2 ms and answers {}).
// What BenchmarkPut loses beyond it is the Client's.
func BenchmarkPutNetHTTPFloor(b *testing.B) {
	const latency, concurrency, requests = 2 * time.Millisecond, 16, 3000
	srv := newServer(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		t := time.NewTimer(latency)
		<-t.C
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	}))
	tr := &http.Transport{MaxIdleConnsPerHost: 2 * concurrency}
	b.Cleanup(tr.CloseIdleConnections)
	body := bytes.Repeat([]byte("x"), 300)
	var elapsed time.Duration
	for b.Loop() {
		start := time.Now()
		var (
			next atomic.Int64
			wg   sync.WaitGroup
		)
		for range concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= requests {
					req, err := http.NewRequest(http.MethodPut, srv.URL+"/apisix/admin/routes/r", bytes.NewReader(body))
					if err != nil {
						b.Error(err)
						return
					}
					resp, err := tr.RoundTrip(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				}
			}()
		}
		wg.Wait()
		elapsed += time.Since(start)
	}
	b.ReportMetric(float64(requests*b.N)/elapsed.Seconds(), "req/s")
}
