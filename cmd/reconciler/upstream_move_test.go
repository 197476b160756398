package main

import (
	"net/http"
	"testing"

	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// TestExtraUpstreamMovedToAnotherService: an extra upstream with an
// explicit id moved to another service keeps its key. On API7 Enterprise it
// lives under its service, so the move is a write under the new service and
// a delete of the copy under the old one, after the writes (the route whose
// traffic-split names it moves first); on APISIX it is one update of the
// top-level upstream. Either way one sync converges with no 4xx, the old
// copy is gone, and the next diff is empty.
func TestExtraUpstreamMovedToAnotherService(t *testing.T) {
	svc := func(name, extra string) string {
		s := "  - name: " + name + "\n    upstream:\n      nodes:\n        - {host: 10.0.0.1, port: 80, weight: 1}\n"
		if extra != "" {
			s += "    upstreams:\n      - {id: canary, name: canary, nodes: [{host: 10.0.0.2, port: 80, weight: 1}]}\n" +
				"    routes:\n      - name: split\n        uris: [/split]\n        plugins:\n          traffic-split:\n            rules:\n              - weighted_upstreams:\n                  - {upstream_id: canary, weight: 1}\n"
		}
		return s
	}
	before := "services:\n" + svc("shop", "x") + svc("other", "")
	after := "services:\n" + svc("shop", "") + svc("other", "x")
	for _, backend := range []emulator.Backend{emulator.BackendAPISIX, emulator.BackendAPI7EE} {
		t.Run(string(backend), func(t *testing.T) {
			g := newGateway(t, emulator.WithBackend(backend), emulator.WithPlugins("traffic-split"))
			src := t.TempDir()
			run := func(args ...string) result {
				return cli(t, g, nil, append(args, "--source", src, "--backend", string(backend))...)
			}
			gg, _ := g.em.GatewayGroupID("default")
			upstreams := func(service string) int {
				if backend == emulator.BackendAPISIX {
					return g.em.Count(gg, "upstreams")
				}
				return g.em.Count(gg, "services/"+model.ServiceID(service)+"/upstreams")
			}
			writeFile(t, src, "config.yaml", before)
			if r := run("sync"); r.code != 0 {
				t.Fatalf("first sync: exit %d\n%s", r.code, r.err)
			}
			shop, other := upstreams("shop"), upstreams("other")
			writeFile(t, src, "config.yaml", after)
			if r := run("diff"); r.code != 2 {
				t.Fatalf("the move is not seen: exit %d\n%s", r.code, r.stdout)
			}
			start := len(g.em.Requests())
			if r := run("sync", "--max-delete-percent", "100"); r.code != 0 {
				t.Fatalf("sync of the move: exit %d\n%s\n%s", r.code, r.stdout, r.err)
			}
			lastWrite := -1
			reqs := g.em.Requests()[start:]
			for i, r := range reqs {
				if r.Method == http.MethodPut {
					lastWrite = i
				}
				if r.Method != http.MethodGet && r.Status >= 400 {
					t.Errorf("%s %s answered %d", r.Method, r.Path, r.Status)
				}
			}
			for i, r := range reqs {
				if r.Method == http.MethodDelete && i < lastWrite {
					t.Errorf("%s %s ran before the last write", r.Method, r.Path)
				}
			}
			if backend == emulator.BackendAPISIX {
				if n := upstreams(""); n != shop {
					t.Errorf("%d upstreams after the move, %d before", n, shop)
				}
			} else {
				if n := upstreams("shop"); n != shop-1 {
					t.Errorf("the old service holds %d upstreams after the move, %d before: its copy is left", n, shop)
				}
				if n := upstreams("other"); n != other+1 {
					t.Errorf("the new service holds %d upstreams after the move, %d before", n, other)
				}
			}
			if r := run("diff"); r.code != 0 {
				t.Errorf("diff after the sync: exit %d\n%s", r.code, r.stdout)
			}
		})
	}
}
