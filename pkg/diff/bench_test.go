package diff_test

import (
	"testing"

	"github.com/gitops-gateway/reconciler/internal/scalegen"
	"github.com/gitops-gateway/reconciler/pkg/diff"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// BenchmarkCompute30k normalises and compares 10,000 services and 20,000
// routes that are in sync (every object is normalised and compared in full).
func BenchmarkCompute30k(b *testing.B) {
	desired, live := scalegen.Services(10_000, 2)
	d, err := diff.New(diff.Options{Defaults: model.Defaults{Plugins: map[string]map[string]any{"key-auth": {"header": "apikey"}}}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if cs := d.Compute(desired, live); !cs.Empty() {
			b.Fatalf("not in sync: %d changes", len(cs.Changes))
		}
	}
}
