package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
)

// Reliability A4: with a viewer (GET-only) key, diff and sync --dry-run
// read the gateway and plan, and send no request but GETs.
func TestA4ViewerKeyPlansWithGETsOnly(t *testing.T) {
	const viewer = "viewer-canary-77aa01"
	g := newGateway(t, emulator.WithViewerToken(viewer))
	src := ordersDir(t, ordersYAML)
	if r := cli(t, g, shopKey, "sync", "--source", src); r.code != 0 {
		t.Fatalf("sync with the admin key: exit %d\n%s", r.code, r.err)
	}
	// Something to plan: a description changed in Git.
	edited := ordersDir(t, strings.Replace(ordersYAML, "order management backend", "orders, edited", 1))
	before := len(g.em.Requests())
	for _, args := range [][]string{
		{"diff", "--source", edited, "--token", viewer},
		{"diff", "--source", src, "--token", viewer, "-o", "json"},
		{"sync", "--dry-run", "--source", edited, "--token", viewer},
	} {
		r := cli(t, g, shopKey, args...)
		if r.code == 1 {
			t.Errorf("%v: exit 1\n%s", args, r.err)
		}
	}
	reqs := g.em.Requests()[before:]
	if len(reqs) == 0 {
		t.Fatal("nothing was read")
	}
	for _, rq := range reqs {
		if rq.Method != http.MethodGet || rq.Token != emulator.TokenNameViewer {
			t.Errorf("%s %s with token %q", rq.Method, rq.Path, rq.Token)
		}
	}
}
