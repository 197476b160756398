// Package scalegen generates desired and live resources at scale for the
// benchmarks of pkg/diff and pkg/apply, so both measure the same shapes.
package scalegen

import (
	"fmt"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

// Services builds services services with routesPer routes each, in the shape
// the model and the client produce (desired) and the one a pre-3.14 server
// hands back (live: defaults filled, wire aliases).
func Services(services, routesPer int) (desired, live []model.Resource) {
	for i := range services {
		name := fmt.Sprintf("svc-%05d", i)
		sid := model.ServiceID(name)
		skey := model.Key{Kind: model.KindService, ID: sid}
		desired = append(desired, model.Resource{Key: skey, Name: name, Body: map[string]any{
			"name": name, "description": "generated", "labels": map[string]any{"team": "t", "tier": []any{"a", "b"}},
			"upstream": map[string]any{"nodes": []any{
				map[string]any{"host": "10.0.0.1", "port": 8080.0, "weight": 100.0},
				map[string]any{"host": "10.0.0.2", "port": 8080.0, "weight": 100.0},
			}},
		}})
		live = append(live, model.Resource{Key: skey, Name: name, Body: map[string]any{
			"name": name, "desc": "generated", "labels": map[string]any{"team": "t", "tier": `["a","b"]`},
			"upstream": map[string]any{"type": "roundrobin", "scheme": "http", "pass_host": "pass", "hash_on": "vars",
				"nodes": map[string]any{"10.0.0.1:8080": 100.0, "10.0.0.2:8080": 100.0}},
		}})
		for j := range routesPer {
			rname := fmt.Sprintf("route-%d", j)
			rkey := model.Key{Kind: model.KindRoute, ID: model.RouteID(name, rname)}
			uri := fmt.Sprintf("/%s/%d", name, j)
			desired = append(desired, model.Resource{Key: rkey, Name: rname, Parent: skey, Body: map[string]any{
				"name": rname, "uris": []any{uri}, "methods": []any{"GET", "POST"},
				"plugins": map[string]any{"key-auth": map[string]any{}, "proxy-rewrite": map[string]any{"uri": "/x"}},
			}})
			live = append(live, model.Resource{Key: rkey, Name: rname, Parent: skey, Body: map[string]any{
				"name": rname, "uri": uri, "methods": []any{"POST", "GET"}, "priority": 0.0, "status": 1.0,
				"service_id": sid, "create_time": 1795915830.0, "update_time": 1795915830.0,
				"plugins": map[string]any{"key-auth": map[string]any{"header": "apikey"}, "proxy-rewrite": map[string]any{"uri": "/x"}},
			}})
		}
	}
	return desired, live
}
