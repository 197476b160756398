package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

// daemonConfig writes a daemon configuration file with one target "prod"
// whose sync section is sync (YAML, indented by six spaces), and returns
// its path.
func daemonConfig(t *testing.T, src, server, sync string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "token", testToken)
	writeFile(t, dir, "reconciler.yaml", `targets:
  - name: staging
    source: {url: `+src+`}
    gateway: {server: http://127.0.0.1:1, tokenFile: `+filepath.Join(dir, "token")+`}
    sync: {prune: true}
  - name: prod
    source: {url: `+src+`}
    gateway: {server: `+server+`, tokenFile: `+filepath.Join(dir, "token")+`}
    sync:
`+sync)
	return filepath.Join(dir, "reconciler.yaml")
}

// TestIgnoreRulesOnOneShotVerbs: --ignore, and --config with --target
// taking a daemon target's ignore rules, keep the fields they name out of
// diff and sync on both sides; a malformed rule is refused before any
// request.
func TestIgnoreRulesOnOneShotVerbs(t *testing.T) {
	g := newGateway(t)
	src := ordersDir(t, ordersYAML)
	if r := cli(t, g, shopKey, "sync", "--source", src); r.code != 0 {
		t.Fatalf("sync: exit %d\n%s", r.code, r.err)
	}
	// Service discovery (or a person) changes the nodes behind our back.
	sid := model.ServiceID("orders")
	rawPut(t, g, "/apisix/admin/upstreams/"+sid, `{"name":"orders","type":"roundrobin","scheme":"http","pass_host":"pass","nodes":[{"host":"10.99.0.1","port":8080,"weight":100,"priority":0}]}`)

	r := cli(t, g, shopKey, "diff", "--source", src, "-o", "json")
	var doc struct {
		Changes []struct {
			Key    string `json:"key"`
			Fields []struct {
				Path string `json:"path"`
			} `json:"fields"`
		} `json:"changes"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != 2 || len(doc.Changes) != 1 {
		t.Fatalf("without ignore rules: exit %d, %v\n%s\n%s", r.code, err, r.stdout, r.err)
	}
	for _, f := range doc.Changes[0].Fields {
		if !strings.HasPrefix(f.Path, "/upstream/nodes") {
			t.Fatalf("the drift is not only the nodes: %s", r.stdout)
		}
	}

	for _, args := range [][]string{
		{"--ignore", "upstream:*:/nodes"},
		{"--ignore", "route::/methods", "--ignore", "upstream:ord*:/nodes/*/host,/nodes/*/port"},
		{"--config", daemonConfig(t, src, g.srv.URL, "      prune: true\n      ignore:\n        - {kind: upstream, name: \"*\", paths: [/nodes]}\n"), "--target", "prod"},
	} {
		if r := cli(t, g, shopKey, append([]string{"diff", "--source", src}, args...)...); r.code != 0 {
			t.Errorf("diff %v: exit %d, want 0\n%s\n%s", args, r.code, r.stdout, r.err)
		}
		before := g.nonGET()
		if r := cli(t, g, shopKey, append([]string{"sync", "--source", src}, args...)...); r.code != 0 || g.nonGET() != before {
			t.Errorf("sync %v: exit %d, %d writes, want 0 and none\n%s", args, r.code, g.nonGET()-before, r.err)
		}
	}
	// The nodes were left as they were.
	if r := cli(t, g, shopKey, "diff", "--source", src); r.code != 2 {
		t.Errorf("the ignored nodes were rewritten: exit %d", r.code)
	}

	before := len(g.em.Requests())
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--ignore", "upstream:/nodes"}, "want KIND:NAMEGLOB:/POINTER"},
		{[]string{"--ignore", "upstreams:*:/nodes"}, `unknown kind "upstreams"`},
		{[]string{"--ignore", "upstream:*:nodes"}, "nodes"},
		{[]string{"--ignore", "upstream:[:/nodes"}, "syntax error in pattern"},
		{[]string{"--config", daemonConfig(t, src, g.srv.URL, "      prune: true\n")}, "--config needs --target"},
		{[]string{"--target", "prod"}, "--config, which is not given"},
		{[]string{"--config", daemonConfig(t, src, g.srv.URL, "      prune: true\n"), "--target", "dev"}, `no such target (it has staging, prod)`},
		{[]string{"--config", daemonConfig(t, src, g.srv.URL, "      ignore: [{kind: upstream, paths: [/nodes]}]\n"), "--target", "prod"}, "sync.prune: required"},
	} {
		for _, verb := range []string{"diff", "sync"} {
			r := cli(t, g, shopKey, append([]string{verb, "--source", src}, tc.args...)...)
			if r.code != 1 || !strings.Contains(r.err, tc.want) {
				t.Errorf("%s %v: exit %d, want 1 with %q\n%s", verb, tc.args, r.code, tc.want, r.err)
			}
		}
	}
	if n := len(g.em.Requests()) - before; n != 0 {
		t.Errorf("%d requests were sent with a malformed scope", n)
	}
}

// TestAdoptOnOneShotVerbs (D2's exception): an unowned object holding a
// desired ID is refused (OwnershipConflict) and left as it is, unless
// --adopt or the target's adopt: true, which take it over.
func TestAdoptOnOneShotVerbs(t *testing.T) {
	sid := model.ServiceID("orders")
	handMade := func(t *testing.T, g *gateway) {
		rawPut(t, g, "/apisix/admin/upstreams/"+sid, `{"nodes":{"10.8.8.8:80":1},"type":"roundrobin"}`)
		rawPut(t, g, "/apisix/admin/services/"+sid, `{"name":"hand-made","upstream_id":"`+sid+`"}`)
		g.takeWrites()
	}
	src := ordersDir(t, ordersYAML)
	tests := []struct {
		name string
		args func(g *gateway) []string
	}{
		{"flag", func(*gateway) []string { return []string{"--adopt"} }},
		{"config", func(g *gateway) []string {
			return []string{"--config", daemonConfig(t, src, g.srv.URL, "      prune: true\n      adopt: true\n"), "--target", "prod"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t)
			handMade(t, g)
			r := cli(t, g, shopKey, "sync", "--source", src)
			if r.code != 1 || !strings.Contains(r.err, "OwnershipConflict") {
				t.Fatalf("without adoption: exit %d, want 1 with OwnershipConflict\n%s", r.code, r.err)
			}
			for _, w := range g.takeWrites() {
				if strings.HasSuffix(w.Path, "/"+sid) {
					t.Fatalf("without adoption: %s %s overwrote the unowned object", w.Method, w.Path)
				}
			}
			d := cli(t, g, shopKey, append([]string{"diff", "--source", src}, tt.args(g)...)...)
			if !strings.Contains(d.err, "sync takes them over (--adopt)") {
				t.Errorf("diff does not say the collision will be adopted:\n%s", d.err)
			}
			r = cli(t, g, shopKey, append([]string{"sync", "--source", src}, tt.args(g)...)...)
			if r.code != 0 {
				t.Fatalf("with adoption: exit %d\n%s", r.code, r.err)
			}
			adopted := false
			for _, w := range g.takeWrites() {
				if w.Method == http.MethodPut && w.Path == "/apisix/admin/services/"+sid {
					labels, _ := w.Body["labels"].(map[string]any)
					adopted = labels[model.ManagedByLabel] == "reconciler"
				}
			}
			if !adopted {
				t.Error("the service was not rewritten with our label")
			}
			if r := cli(t, g, shopKey, "diff", "--source", src, "-o", "json"); r.code != 0 {
				t.Errorf("diff after adoption: exit %d\n%s", r.code, r.stdout)
			}
		})
	}
}
