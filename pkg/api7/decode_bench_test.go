package api7

import (
	"encoding/json"
	"fmt"
	"testing"
)

func routeListBody(n int) []byte {
	items := make([]any, n)
	for i := range items {
		id := fmt.Sprintf("%040d", i)
		items[i] = map[string]any{"key": "/apisix/routes/" + id, "createdIndex": i, "modifiedIndex": i, "value": map[string]any{
			"id": id, "name": fmt.Sprintf("route-%d", i), "uris": []any{fmt.Sprintf("/svc/%d", i)}, "methods": []any{"GET"},
			"labels": map[string]any{ManagedByLabel: "reconciler"}, "service_id": "d24b3c2a43210c591420015de31a163713a39f74",
			"status": 1, "create_time": 1795915830, "update_time": 1795915830,
		}}
	}
	b, _ := json.Marshal(map[string]any{"list": items, "total": n})
	return b
}

// BenchmarkDecodeList decodes one unpaged list of 20,000 routes.
func BenchmarkDecodeList(b *testing.B) {
	body := routeListBody(20_000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		items, total, err := decodeAPISIXList(body)
		if err != nil || total != 20_000 || len(items) != total {
			b.Fatal(err)
		}
	}
}
