package model

import (
	"testing"

	yaml "sigs.k8s.io/yaml/goyaml.v3"
)

// BenchmarkParseOnly is the floor under BenchmarkLoad: parsing the same
// tree into YAML nodes, on one goroutine, and nothing else.
func BenchmarkParseOnly(b *testing.B) {
	fsys := genTree(10_000, 100)
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		for _, f := range fsys {
			var n yaml.Node
			if err := yaml.Unmarshal(f.Data, &n); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
}
