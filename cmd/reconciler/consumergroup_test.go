package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

// A consumer nested in a consumer group is written as the group's member
// (group_id), read back as such, and a hand edit that takes it out of the
// group is drift that a sync corrects.
func TestConsumerGroupMembershipIsSynced(t *testing.T) {
	g := newGateway(t)
	src := t.TempDir()
	writeFile(t, src, "config.yaml", "consumer_groups:\n  - name: gold\n    plugins:\n      response-rewrite: {headers: {set: {X-Tier: gold}}}\n    consumers:\n      - username: member\n")
	if r := cli(t, g, nil, "sync", "--source", src); r.code != 0 {
		t.Fatalf("sync: exit %d\n%s", r.code, r.err)
	}
	gid := model.ConsumerGroupID("gold")
	member := func() map[string]any {
		t.Helper()
		return getObject(t, g, "/apisix/admin/consumers/member")
	}
	if got := member()["group_id"]; got != gid {
		t.Fatalf("the consumer's group_id is %v, want %s", got, gid)
	}
	if r := cli(t, g, nil, "diff", "--source", src); r.code != 0 {
		t.Fatalf("diff after sync: exit %d\n%s", r.code, r.stdout)
	}

	// By hand: the consumer leaves its group, keeping our label.
	raw, _ := json.Marshal(map[string]any{"username": "member", "labels": member()["labels"]})
	if code := do(t, http.MethodPut, g.srv.URL+"/apisix/admin/consumers/member", testToken, string(raw)); code != http.StatusOK && code != http.StatusCreated {
		t.Fatalf("hand edit: %d", code)
	}
	r := cli(t, g, nil, "diff", "--source", src)
	if r.code != 2 || !strings.Contains(r.stdout, "group_id") {
		t.Fatalf("leaving the group is not seen: exit %d\n%s", r.code, r.stdout)
	}
	if r := cli(t, g, nil, "sync", "--source", src); r.code != 0 {
		t.Fatalf("sync: exit %d\n%s", r.code, r.err)
	}
	if got := member()["group_id"]; got != gid {
		t.Errorf("after the sync the consumer's group_id is %v, want %s", got, gid)
	}
}
