package api7

import (
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

// Reliability row B2: every request the Client can emit goes to a path of
// a fixed shape whose variable segments are checked IDs. The oracle below is
// written independently of the Client's own checks.
var (
	urlSeg     = `[A-Za-z0-9._-]{1,64}`
	allowedURL = []*regexp.Regexp{
		regexp.MustCompile(`^/apisix/admin/(routes|services|upstreams|stream_routes|consumers|ssls|consumer_groups|global_rules|plugin_metadata)(/` + urlSeg + `)?$`),
		regexp.MustCompile(`^/apisix/admin/consumers/` + urlSeg + `/credentials(/` + urlSeg + `)?$`),
		regexp.MustCompile(`^/apisix/admin/services/` + urlSeg + `/upstreams(/` + urlSeg + `)?$`), // api7ee
		regexp.MustCompile(`^/apisix/admin/plugins/(list|[A-Za-z0-9_-]{1,64})$`),
		regexp.MustCompile(`^/apisix/admin/configs/validate$`),
		regexp.MustCompile(`^/api/(version|gateway_groups|schema/core)$`),
	}
	// schema_type: Defaults reads plugins/{name}?schema_type=consumer.
	allowedQuery = map[string]bool{"page": true, "page_size": true, "gateway_group_id": true, "search": true, "schema_type": true}
)

// checkURL holds one emitted URL to the B2 rules.
func checkURL(u *url.URL, token string) error {
	if u.User != nil || u.Fragment != "" {
		return fmt.Errorf("%s: user information or fragment", u.Redacted())
	}
	if u.RawPath != "" || u.EscapedPath() != u.Path {
		return fmt.Errorf("path %q needed escaping", u.Path)
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			return fmt.Errorf("path %q has a dot segment", u.Path)
		}
	}
	ok := false
	for _, re := range allowedURL {
		ok = ok || re.MatchString(u.Path)
	}
	if !ok {
		return fmt.Errorf("path %q is not of an allowed shape", u.Path)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fmt.Errorf("query %q: %v", u.RawQuery, err)
	}
	for k := range q {
		if !allowedQuery[k] {
			return fmt.Errorf("query parameter %q", k)
		}
	}
	if strings.Contains(u.String(), "api_key") || (token != "" && strings.Contains(u.String(), url.QueryEscape(token))) {
		return fmt.Errorf("URL %q carries a token", u.Path)
	}
	return nil
}

// fakeGateway answers every request in memory and records its URL: just
// enough of both backends for List, Defaults, Validate, Put and Delete to
// run. name is what the server reports as a consumer's username, a
// service's id and a plugin's name (untrusted input the Client builds paths
// from).
type fakeGateway struct {
	backend Backend
	version string
	name    string

	mu   sync.Mutex
	urls []*url.URL
}

func (g *fakeGateway) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		_ = req.Body.Close()
	}
	g.mu.Lock()
	u := *req.URL
	g.urls = append(g.urls, &u)
	g.mu.Unlock()
	name, _ := json.Marshal(g.name)
	owned := `"labels":{"managed-by":"reconciler"}`
	body := `{}`
	p := req.URL.Path
	switch {
	case p == "/api/version":
		body = `{"value":"3.9.14"}`
	case p == "/api/gateway_groups":
		body = `{"list":[{"id":"gg-1","name":"default"}],"total":1}`
	case p == "/api/schema/core", p == "/apisix/admin/plugin_metadata" && g.backend == BackendAPI7EE:
		body = `{"value":{}}`
	case p == "/apisix/admin/plugins/list":
		body = `["key-auth",` + string(name) + `]`
	case strings.HasPrefix(p, "/apisix/admin/plugins/"):
		body = `{"properties":{}}`
	case req.Method == http.MethodGet && g.backend == BackendAPISIX && p == "/apisix/admin/consumers":
		body = `{"list":[{"key":"/apisix/consumers/x","value":{"username":` + string(name) + `,` + owned + `}}],"total":1}`
	case req.Method == http.MethodGet && g.backend == BackendAPISIX && p == "/apisix/admin/services":
		body = `{"list":[{"key":"/apisix/services/x","value":{"id":` + string(name) + `,` + owned + `}}],"total":1}`
	case req.Method == http.MethodGet && g.backend == BackendAPI7EE && p == "/apisix/admin/consumers":
		body = `{"list":[{"username":` + string(name) + `,` + owned + `}],"total":1}`
	case req.Method == http.MethodGet && g.backend == BackendAPI7EE && p == "/apisix/admin/services":
		body = `{"list":[{"id":` + string(name) + `,` + owned + `}],"total":1}`
	case req.Method == http.MethodGet:
		body = `{"list":[],"total":0}`
	}
	h := http.Header{"Content-Type": {"application/json"}}
	if g.backend == BackendAPISIX {
		h.Set("Server", "APISIX/"+g.version)
	}
	return &http.Response{StatusCode: http.StatusOK, Header: h, Body: io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)), Request: req}, nil
}

// emittedURLs drives every operation of a Client over fake gateways of
// both backends, with id, consumer and parent as a resource's key parts and
// serverName as what the server reports, and returns the URLs sent.
func emittedURLs(t testing.TB, id, consumer, parent, serverName string) ([]*url.URL, []string) {
	t.Helper()
	var (
		all    []*url.URL
		tokens []string
	)
	for _, gw := range []struct {
		backend Backend
		version string
		token   string
	}{
		{BackendAPISIX, "3.13.0", canary}, // Defaults reads plugin schemas
		{BackendAPISIX, "3.18.0", canary}, // Validate posts configs/validate
		{BackendAPI7EE, "", "a7ee-" + canary},
		{BackendAPI7EE, "", "a7adm-" + canary},
	} {
		fake := &fakeGateway{backend: gw.backend, version: gw.version, name: serverName}
		c, err := New(Config{Backend: gw.backend, Server: "https://gateway.test:9180", Token: model.NewSecret(gw.token),
			Retry: RetryPolicy{MaxRetries: -1}})
		if err != nil {
			t.Fatal(err)
		}
		c.rt = fake
		ctx := context.Background()
		_, _ = c.Version(ctx)
		_, _ = c.Defaults(ctx)
		_, _ = c.List(ctx)
		var rs []model.Resource
		for _, kind := range model.Kinds() {
			r := model.Resource{Key: model.Key{Kind: kind, ID: id}, Parent: model.Key{Kind: model.KindService, ID: parent},
				Body: map[string]any{"name": "n", "uris": []any{"/"}, "type": "key-auth",
					"certificates": []any{map[string]any{"certificate": "c", "key": "k"}}}}
			if kind == model.KindCredential {
				r.Key.Consumer = consumer
				r.Parent = model.Key{Kind: model.KindConsumer, ID: consumer}
			}
			rs = append(rs, r)
			_ = c.Put(ctx, r)
			_ = c.PutChange(ctx, r, []string{"/upstream/nodes"})
			_ = c.Delete(ctx, r)
		}
		_ = c.Validate(ctx, rs)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		fake.mu.Lock()
		all = append(all, fake.urls...)
		for range fake.urls {
			tokens = append(tokens, gw.token)
		}
		fake.mu.Unlock()
	}
	return all, tokens
}

// FuzzResourceURL (reliability B2): whatever the IDs in a resource's key
// and parent, and whatever names the server reports, every request path the
// Client emits matches /apisix/admin/<collection>[/<id>] (or the credential,
// api7ee upstream and fixed endpoints), holds no "." or ".." segment and
// needs no escaping, and no URL carries a token or an api_key.
func FuzzResourceURL(f *testing.F) {
	long := strings.Repeat("a", 65)
	for _, s := range []string{
		"abc", "d24b3c2a43210c591420015de31a163713a39f74", "key-auth", "a.b_c-d",
		"../consumers/admin", "..", ".", "a/b", "%2e%2e", "%2F", long, "a\x00b", "a\u202eb", "0", "", " ", "a?b", "a#b",
		"a;b", "\\", "é",
	} {
		f.Add(s, "jack", "svc", "owned")
		f.Add("r1", s, s, s)
	}
	f.Fuzz(func(t *testing.T, id, consumer, parent, serverName string) {
		urls, tokens := emittedURLs(t, id, consumer, parent, serverName)
		if len(urls) == 0 {
			t.Fatal("nothing was sent")
		}
		for i, u := range urls {
			if err := checkURL(u, tokens[i]); err != nil {
				t.Fatalf("id %q consumer %q parent %q server name %q: %v", id, consumer, parent, serverName, err)
			}
		}
	})
}

// TestResourceURLsReachTheServer: the fake gateway does see the writes of
// valid keys (the fuzz target above checks what is sent; this keeps it from
// passing because nothing is).
func TestResourceURLsReachTheServer(t *testing.T) {
	urls, _ := emittedURLs(t, "r1", "jack", "svc", "owned")
	seen := map[string]bool{}
	for _, u := range urls {
		seen[u.Path] = true
	}
	for _, p := range []string{
		"/apisix/admin/routes/r1", "/apisix/admin/consumers/jack/credentials/r1", "/apisix/admin/services/svc/upstreams/r1",
		"/apisix/admin/upstreams/r1", "/apisix/admin/consumers/owned/credentials", "/apisix/admin/services/owned/upstreams",
		"/apisix/admin/plugins/owned", "/apisix/admin/configs/validate", "/api/gateway_groups",
	} {
		if !seen[p] {
			t.Errorf("no request to %s", p)
		}
	}
	for _, u := range urls {
		if err := checkURL(u, canary); err != nil {
			t.Error(err)
		}
	}
}

// TestNoPathJoin is the lint of row B2: the package builds request paths
// by concatenating checked segments, never with url.JoinPath, path.Join or
// filepath.Join, which would clean "..", and never imports "path".
func TestNoPathJoin(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range file.Imports {
			if imp.Path.Value == `"path"` {
				t.Errorf("%s imports path", name)
			}
		}
		ast.Inspect(file, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			pkg, _ := sel.X.(*ast.Ident)
			switch {
			case sel.Sel.Name == "JoinPath":
				t.Errorf("%s: JoinPath", fset.Position(sel.Pos()))
			case pkg != nil && pkg.Name == "filepath" && sel.Sel.Name == "Join":
				t.Errorf("%s: filepath.Join", fset.Position(sel.Pos()))
			}
			return true
		})
	}
}
