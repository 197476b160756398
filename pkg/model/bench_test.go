package model

import (
	"fmt"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
)

// genTree generates services services with two routes each, split over
// files of perFile services, in the shape of a real configuration.
func genTree(services, perFile int) fstest.MapFS {
	fsys := fstest.MapFS{}
	var b strings.Builder
	flush := func(i int) {
		if b.Len() > 0 {
			fsys[fmt.Sprintf("services/part-%04d.yaml", i/perFile)] = &fstest.MapFile{Data: []byte(b.String())}
			b.Reset()
		}
	}
	for i := range services {
		if i%perFile == 0 {
			flush(i - 1)
			b.WriteString("services:\n")
		}
		fmt.Fprintf(&b, `  - name: svc-%05d
    description: generated service %d
    labels: {team: team-%d, tier: gold}
    hosts: [svc-%05d.example.com]
    upstream:
      type: roundrobin
      scheme: http
      nodes:
        - {host: 10.%d.%d.1, port: 8080, weight: 100}
        - {host: 10.%d.%d.2, port: 8080, weight: 100}
      timeout: {connect: 3, send: 10, read: 10}
    routes:
      - name: read
        uris: [/api/v1/items, /api/v1/items/*]
        methods: [GET, HEAD]
        plugins:
          key-auth: {}
          proxy-rewrite: {regex_uri: ["^/api/(.*)", "/$1"]}
      - name: write
        uris: [/api/v1/items]
        methods: [POST, PUT]
        priority: 1
        plugins:
          key-auth: {}
          cors: {allow_origins: "https://portal.example.com"}
`, i, i, i%50, i, i/256, i%256, i/256, i%256)
	}
	flush(services - 1)
	return fsys
}

// BenchmarkLoad loads 10,000 services with 2 routes each (30,000
// resources) from 100 files. Target: ≤ 1 s and ≤ 300 MiB.
func BenchmarkLoad(b *testing.B) {
	fsys := genTree(10_000, 100)
	var size int
	for _, f := range fsys {
		size += len(f.Data)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	var peak uint64
	cpu0 := cpuTime()
	for b.Loop() {
		rs, err := Load(fsys, LoadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if len(rs) != 30_000 {
			b.Fatalf("loaded %d resources, want 30000", len(rs))
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}
	b.ReportMetric(float64(peak)/(1<<20), "heap-inuse-MiB")
	// CPU time is steadier than wall time on a shared machine.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
}

// cpuTime is the process's user and system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
