package git

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkFetch10k measures a first (shallow) fetch and a poll that finds
// nothing new, on a repository of 10,000 files served by git http-backend
// on loopback, next to the git CLI doing the same on the same repository.
//
//	go test ./pkg/git -run '^$' -bench Fetch10k -benchtime 5x
func BenchmarkFetch10k(b *testing.B) {
	root := b.TempDir()
	repo := newTestRepo(b, root, "big")
	for d := range 100 {
		dir := filepath.Join(repo.work, "gateway", fmt.Sprintf("team%02d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range 100 {
			n := d*100 + f
			body := fmt.Sprintf("services:\n  - name: svc-%05d\n    upstream:\n      nodes:\n        - host: 10.0.%d.%d\n          port: 8080\n          weight: 1\n    routes:\n      - name: r-%05d\n        uris: [/svc/%05d]\n%s", n, d, f, n, n, noise(n, 120))
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("svc%05d.yaml", n)), []byte(body), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	repo.commit("10,000 files")
	srv := newHTTPServer(b, root, false)
	url := srv.repoURL(repo)
	ctx := context.Background()

	b.Run("go-git/first-fetch", func(b *testing.B) {
		caches := b.TempDir() // fresh for each run of the sub-benchmark
		b.ReportAllocs()
		i := 0
		var received int64
		defer func() { b.ReportMetric(float64(received)/float64(max(i, 1)), "bytes-received/op") }()
		reportCPU(b, func() {
			i++
			src, err := New(Options{URL: url, Path: "gateway", CacheDir: filepath.Join(caches, fmt.Sprint("first", i))})
			if err != nil {
				b.Fatal(err)
			}
			r, err := src.Fetch(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if n := r.Files.(*treeFS).Len(); n != 10_000 {
				b.Fatalf("%d files", n)
			}
			received += r.Stats.BytesReceived
		})
	})
	b.Run("go-git/no-change-poll", func(b *testing.B) {
		caches := b.TempDir() // fresh for each run of the sub-benchmark
		src, err := New(Options{URL: url, Path: "gateway", CacheDir: filepath.Join(caches, "poll")})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := src.Fetch(ctx); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		var received, n int64
		reportCPU(b, func() {
			r, err := src.Fetch(ctx)
			if err != nil || !r.Unchanged {
				b.Fatalf("poll: %v %v", r.Unchanged, err)
			}
			received += r.Stats.BytesReceived
			n++
		})
		b.ReportMetric(float64(received)/float64(n), "bytes-received/op")
	})
	b.Run("go-git/restart-warm-cache", func(b *testing.B) {
		caches := b.TempDir() // fresh for each run of the sub-benchmark
		// A new process on a warm cache: one advertisement, then the tree
		// is read from the cache.
		dir := filepath.Join(caches, "warm")
		if _, err := mustNew(b, url, dir).Fetch(ctx); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		reportCPU(b, func() {
			if _, err := mustNew(b, url, dir).Fetch(ctx); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("go-git/one-file-commit", func(b *testing.B) {
		caches := b.TempDir() // fresh for each run of the sub-benchmark
		src := mustNew(b, url, filepath.Join(caches, "incremental"))
		if _, err := src.Fetch(ctx); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		i := 0
		var bytes int64
		for b.Loop() {
			b.StopTimer()
			i++
			repo.commitFiles(fmt.Sprint("edit ", i), map[string]string{"gateway/team00/svc00000.yaml": fmt.Sprintf("edit: %d\n", i)})
			b.StartTimer()
			r, err := src.Fetch(ctx)
			if err != nil || r.Unchanged || r.Rewritten {
				b.Fatalf("incremental: %+v %v", r.Stats, err)
			}
			bytes += r.Stats.BytesReceived
		}
		b.ReportMetric(float64(bytes)/float64(i), "bytes-received/op")
	})
	b.Run("git-cli/clone-depth-1", func(b *testing.B) {
		caches := b.TempDir() // fresh for each run of the sub-benchmark
		i := 0
		reportCPU(b, func() {
			i++
			gitCLI(b, "", "clone", "-q", "--bare", "--depth", "1", "--single-branch", url, filepath.Join(caches, fmt.Sprint("cli", i)))
		})
	})
	b.Run("git-cli/clone-depth-1+archive", func(b *testing.B) {
		caches := b.TempDir() // fresh for each run of the sub-benchmark
		// The clone, then every file of the path read, as Fetch does.
		i := 0
		reportCPU(b, func() {
			i++
			dir := filepath.Join(caches, fmt.Sprint("cli-read", i))
			gitCLI(b, "", "clone", "-q", "--bare", "--depth", "1", "--single-branch", url, dir)
			gitCLI(b, dir, "archive", "-o", filepath.Join(dir, "out.tar"), "HEAD", "gateway")
		})
	})
	b.Run("git-cli/no-change-fetch", func(b *testing.B) {
		caches := b.TempDir() // fresh for each run of the sub-benchmark
		dir := filepath.Join(caches, "cli-poll")
		gitCLI(b, "", "clone", "-q", "--bare", "--depth", "1", "--single-branch", url, dir)
		reportCPU(b, func() {
			gitCLI(b, dir, "fetch", "-q", "--depth", "1", "origin", "main")
		})
	})
}

// cpuTime is the CPU time used so far by this process and its waited-for
// children (git http-backend and the git CLI): client and server together.
func cpuTime() time.Duration {
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	total := time.Duration(0)
	for _, r := range []syscall.Rusage{self, children} {
		total += time.Duration(r.Utime.Nano() + r.Stime.Nano())
	}
	return total
}

// reportCPU reports the CPU time per iteration of the loop it wraps.
func reportCPU(b *testing.B, loop func()) {
	b.Helper()
	start := cpuTime()
	n := 0
	for b.Loop() {
		n++
		loop()
	}
	b.ReportMetric(float64((cpuTime()-start).Milliseconds())/float64(n), "cpu-ms/op")
}

func mustNew(b *testing.B, url, dir string) *Source {
	b.Helper()
	s, err := New(Options{URL: url, Path: "gateway", CacheDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func gitCLI(b *testing.B, dir string, args ...string) {
	b.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("git %v: %v\n%s", args, err, out)
	}
}
