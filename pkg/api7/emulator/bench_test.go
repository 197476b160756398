package emulator

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// Scale: a PUT and a page of 500 must cost the same at 1,000 and at 100,000
// objects (ordered indexes, no scan-and-sort per request). The handler is
// driven in process (no network) so the figures are the emulator's own.

var benchSizes = []int{1_000, 10_000, 100_000}

// preload fills a collection directly (as 100,000 PUTs would, but faster).
func preload(b *testing.B, e *Emulator, st *store, col string, n int, value func(i int) map[string]any) {
	b.Helper()
	now := time.Unix(1795915800, 0)
	for i := range n {
		id := fmt.Sprintf("r%07d", (i*7919)%n) // out of key order, so the two indexes differ
		st.put(col, id, value(i), 0, now)
	}
}

func benchRoute(i int) map[string]any {
	return map[string]any{
		"id": "r" + strconv.Itoa(i), "name": "route " + strconv.Itoa(i), "uris": []any{"/r/" + strconv.Itoa(i)},
		"methods": []any{"GET"}, "service_id": "s1", "labels": map[string]any{"managed-by": "reconciler"},
		"create_time": 1795915800, "update_time": 1795915800,
	}
}

func BenchmarkPut(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			e, err := New(WithAdminToken(adminKey))
			if err != nil {
				b.Fatal(err)
			}
			preload(b, e, e.gw, "services", 1, func(int) map[string]any {
				return map[string]any{"upstream": map[string]any{"nodes": map[string]any{"10.0.0.1:80": json1()}}}
			})
			e.gw.cols["services"].byKey.Delete("r0000000")
			e.gw.put("services", "s1", map[string]any{"id": "s1", "upstream": map[string]any{"nodes": map[string]any{"10.0.0.1:80": json1()}}}, 0, time.Now())
			preload(b, e, e.gw, "routes", n, benchRoute)
			body := []byte(`{"name":"bench","uris":["/bench"],"methods":["GET"],"service_id":"s1","labels":{"managed-by":"reconciler"}}`)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				// Alternate between replacing an existing route and creating a new one.
				id := fmt.Sprintf("r%07d", i%n)
				if i%2 == 1 {
					id = fmt.Sprintf("new%07d", i)
				}
				i++
				req := httptest.NewRequest(http.MethodPut, "/apisix/admin/routes/"+id, bytes.NewReader(body))
				req.Header.Set("X-API-KEY", adminKey)
				w := httptest.NewRecorder()
				e.ServeHTTP(w, req)
				if w.Code != 200 && w.Code != 201 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}

func BenchmarkListPage(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			e, err := New(WithAdminToken(adminKey), WithRequestLogSize(0))
			if err != nil {
				b.Fatal(err)
			}
			preload(b, e, e.gw, "routes", n, benchRoute)
			pages := n / 500
			get := func(page int) *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodGet, "/apisix/admin/routes?page="+strconv.Itoa(page)+"&page_size=500", nil)
				req.Header.Set("X-API-KEY", adminKey)
				w := httptest.NewRecorder()
				e.ServeHTTP(w, req)
				return w
			}
			// Warm up: each object is encoded once, on its first read.
			for p := 1; p <= pages; p++ {
				get(p)
			}
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				page := i%pages + 1
				i++
				w := get(page)
				if w.Code != 200 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}

func BenchmarkAPI7ListPage(b *testing.B) {
	n := 100_000
	e, err := New(WithBackend(BackendAPI7EE), WithToken("t", a7Token, RoleAdmin), WithRequestLogSize(0))
	if err != nil {
		b.Fatal(err)
	}
	preload(b, e, e.byGG["default"], "routes", n, benchRoute)
	get := func(page int) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/apisix/admin/routes?gateway_group_id=default&page="+strconv.Itoa(page)+"&page_size=500", nil)
		req.Header.Set("X-API-KEY", a7Token)
		w := httptest.NewRecorder()
		e.ServeHTTP(w, req)
		return w
	}
	for p := 1; p <= n/500; p++ {
		get(p)
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		page := i%(n/500) + 1
		i++
		w := get(page)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

func json1() any { return canon(1) }
