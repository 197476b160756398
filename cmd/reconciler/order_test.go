package main

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
)

// TestMovesWriteBeforeDeleting checks the order of pkg/apply (writes first,
// then the prune, except a delete that frees an auth key) against the
// emulator, on both backends, for every change that moves a resource to a new ID or a new
// parent: each converges in one sync with no 400 from the gateway (neither
// "still using it now" nor "duplicate key"), every plain delete comes after
// the last write, and the next diff is empty.
func TestMovesWriteBeforeDeleting(t *testing.T) {
	cert, err := os.ReadFile("testdata/tls/sample-tls.crt")
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile("testdata/tls/sample-tls.key")
	if err != nil {
		t.Fatal(err)
	}
	ssl := func(snis string) string {
		return "ssls:\n  - snis: [" + snis + "]\n    certificates:\n      - certificate: " + jsonQuote(string(cert)) + "\n        key: " + jsonQuote(string(key)) + "\n"
	}
	svc := func(name, routes string) string {
		s := "  - name: " + name + "\n    upstream:\n      nodes:\n        - {host: 10.0.0.1, port: 80, weight: 1}\n"
		if routes != "" {
			s += "    routes:\n" + routes
		}
		return s
	}
	const route = "      - {name: list, uris: [/list], methods: [GET]}\n"
	consumer := func(name, cred string) string {
		return "consumers:\n  - username: " + name + "\n    plugins:\n      key-auth: {key: consumer-key-1}\n    credentials:\n      - name: " + cred + "\n        type: basic-auth\n        config: {username: " + name + "-basic, password: pw-1234}\n"
	}
	group := func(name string) string {
		return "consumer_groups:\n  - name: " + name + "\n    plugins:\n      limit-count: {count: 10, time_window: 60, key: remote_addr}\n    consumers:\n      - username: member\n"
	}
	extra := func(up, ref string) string {
		return "services:\n  - name: shop\n    upstream:\n      nodes:\n        - {host: 10.0.0.1, port: 80, weight: 1}\n" +
			"    upstreams:\n      - {id: " + up + ", name: " + up + ", nodes: [{host: 10.0.0.2, port: 80, weight: 1}]}\n" +
			"    routes:\n      - name: split\n        uris: [/split]\n        plugins:\n          traffic-split:\n            rules:\n              - weighted_upstreams:\n                  - {upstream_id: " + ref + ", weight: 1}\n"
	}
	tests := []struct {
		name          string
		before, after string
		// early deletes may run before writes (they free an auth key).
		early int
		// update is set for a change that moves without deleting.
		update bool
	}{
		{"SSL whose SNIs changed", ssl("a.sample-tls.test"), ssl("a.sample-tls.test, b.sample-tls.test"), 0, false},
		{"route moved to another service", "services:\n" + svc("a", route) + svc("b", ""), "services:\n" + svc("a", "") + svc("b", route), 0, false},
		{"service renamed with its routes", "services:\n" + svc("old", route), "services:\n" + svc("new", route), 0, false},
		{"consumer renamed, keeping its keys", consumer("alice", "main"), consumer("alicia", "main"), 2, false},
		{"credential renamed, keeping its key", consumer("alice", "main"), consumer("alice", "primary"), 1, false},
		{"consumer moved to a renamed group", group("gold"), group("platinum"), 0, false},
		{"key moved from a consumer to its credential",
			"consumers:\n  - username: alice\n    plugins:\n      key-auth: {key: moving-key-1}\n",
			"consumers:\n  - username: alice\n    credentials:\n      - {name: main, type: key-auth, config: {key: moving-key-1}}\n", 0, true},
		{"key moved from one consumer to another",
			"consumers:\n  - username: alice\n    plugins:\n      key-auth: {key: moving-key-2}\n  - username: bob\n",
			"consumers:\n  - username: alice\n  - username: bob\n    plugins:\n      key-auth: {key: moving-key-2}\n", 0, true},
		{"extra upstream renamed, a plugin following it", extra("canary-1", "canary-1"), extra("canary-2", "canary-2"), 0, false},
	}
	for _, backend := range []emulator.Backend{emulator.BackendAPISIX, emulator.BackendAPI7EE} {
		for _, tt := range tests {
			t.Run(string(backend)+"/"+tt.name, func(t *testing.T) {
				if backend == emulator.BackendAPI7EE && strings.Contains(tt.before, "consumer_groups") {
					t.Skip("API7 Enterprise's runtime API has no consumer groups")
				}
				g := newGateway(t, emulator.WithBackend(backend), emulator.WithPlugins("key-auth", "basic-auth", "limit-count", "traffic-split"))
				src := t.TempDir()
				cli := func(t tb, g *gateway, env map[string]string, args ...string) result {
					return cli(t, g, env, append(args, "--backend", string(backend))...)
				}
				writeFile(t, src, "config.yaml", tt.before)
				if r := cli(t, g, nil, "sync", "--source", src); r.code != 0 {
					t.Fatalf("first sync: exit %d\n%s", r.code, r.err)
				}
				writeFile(t, src, "config.yaml", tt.after)
				if r := cli(t, g, nil, "diff", "--source", src); r.code != 2 {
					t.Fatalf("the change is not seen: exit %d\n%s", r.code, r.stdout)
				}
				start := len(g.em.Requests())
				if r := cli(t, g, nil, "sync", "--source", src, "--max-delete-percent", "100"); r.code != 0 {
					t.Fatalf("sync of the change: exit %d\n%s\n%s", r.code, r.stdout, r.err)
				}
				reqs := g.em.Requests()[start:]
				lastWrite, deletes := -1, 0
				for i, r := range reqs {
					if r.Method == http.MethodPut {
						lastWrite = i
					}
					if r.Method != http.MethodGet && r.Status >= 400 {
						t.Errorf("%s %s answered %d", r.Method, r.Path, r.Status)
					}
				}
				early := 0
				for i, r := range reqs {
					if r.Method != http.MethodDelete {
						continue
					}
					deletes++
					if i < lastWrite {
						early++
					}
				}
				if deletes == 0 && !tt.update {
					t.Error("nothing was deleted: the case does not move anything")
				}
				if early != tt.early {
					t.Errorf("%d deletes ran before the last write, want %d", early, tt.early)
				}
				if r := cli(t, g, nil, "diff", "--source", src); r.code != 0 {
					t.Errorf("diff after the sync: exit %d\n%s", r.code, r.stdout)
				}
			})
		}
	}
}
