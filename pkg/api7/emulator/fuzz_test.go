package emulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzAdminAPI sends arbitrary methods, paths and bodies to both flavours.
// Whatever arrives, the handler must answer (no panic), with JSON where it
// says JSON, and the store's two indexes must stay in step.
func FuzzAdminAPI(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "conformance", "apisix-3.18", "scenarios", "*.json"))
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var sc scenario
		if err := json.Unmarshal(raw, &sc); err != nil {
			f.Fatal(err)
		}
		for _, st := range sc.Steps {
			body := []byte(st.Body)
			if st.RawBody != nil {
				body = []byte(*st.RawBody)
			}
			if strings.Contains(string(body), "${") || strings.Contains(st.Path, "${") {
				continue
			}
			f.Add(st.Method, st.Path, body, false)
		}
	}
	f.Add("PUT", "/apisix/admin/services/s1?gateway_group_id=default", []byte(`{"name":"s","upstream":{"nodes":[{"host":"a","port":1,"weight":1}]}}`), true)
	f.Add("PATCH", "/apisix/admin/routes/r/a/b/c", []byte(`[1,{"x":null}]`), false)

	apisix, err := New(WithAdminToken(adminKey), WithStreamMode(), WithPlugins(DefaultPlugins()...))
	if err != nil {
		f.Fatal(err)
	}
	api7, err := New(WithBackend(BackendAPI7EE), WithToken("t", a7Admin, RoleAdmin))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, path string, body []byte, toAPI7 bool) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") {
			return
		}
		if _, err := url.ParseRequestURI("http://emulator" + path); err != nil {
			return // not a request a client could send
		}
		switch method {
		case "GET", "PUT", "POST", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE":
		default:
			return
		}
		req := httptest.NewRequest(method, "http://emulator"+path, bytes.NewReader(body))
		em := apisix
		req.Header.Set("X-API-KEY", adminKey)
		if toAPI7 {
			em = api7
			req.Header.Set("X-API-KEY", a7Admin)
		}
		w := httptest.NewRecorder()
		em.ServeHTTP(w, req)
		if w.Code < 200 || w.Code > 599 {
			t.Fatalf("%s %s: status %d", method, path, w.Code)
		}
		if w.Header().Get("Content-Type") == "application/json" && w.Body.Len() > 0 && method != "HEAD" {
			var v any
			if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil && !isPlainAnswer(w.Body.String()) {
				t.Fatalf("%s %s: %d with a body that is not JSON: %q", method, path, w.Code, w.Body.String())
			}
		}
		em.dataMu.Lock()
		defer em.dataMu.Unlock()
		stores := []*store{em.gw}
		for _, s := range em.byGG {
			stores = append(stores, s)
		}
		for _, s := range stores {
			for name, c := range s.cols {
				if c.byKey.Len() != c.byCreated.Len() {
					t.Fatalf("collection %s: %d by key, %d by createdIndex", name, c.byKey.Len(), c.byCreated.Len())
				}
			}
		}
	})
}

// isPlainAnswer reports the plain-text answers APISIX sends as JSON.
func isPlainAnswer(s string) bool {
	return s == "page_size must be between 10 and 500" || s == "invalid subsystem passed" || s == "done"
}

func TestFuzzSeedsAnswer(t *testing.T) {
	// The fuzz target's checks run on its seeds in every `go test`; this
	// keeps one direct case visible: a PUT with a body of JSON null is
	// nginx's HTML 500, not a panic.
	em, err := New(WithAdminToken(adminKey))
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("PUT", "/apisix/admin/routes/x", strings.NewReader("null"))
	req.Header.Set("X-API-KEY", adminKey)
	w := httptest.NewRecorder()
	em.ServeHTTP(w, req)
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "<center>nginx</center>") {
		t.Errorf("%d %q", w.Code, w.Body.String())
	}
}
