package apply_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/gitops-gateway/reconciler/pkg/apply"
	"github.com/gitops-gateway/reconciler/pkg/diff"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

func TestMain(m *testing.M) {
	// Reliability row D4 asks for at least 1,000 cases in CI: rapid runs
	// 100 unless -rapid.checks says otherwise.
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "rapid.checks" })
	if !given {
		if err := flag.Set("rapid.checks", "1000"); err != nil {
			panic(err)
		}
	}
	goleak.VerifyTestMain(m)
}

// Builders of resources in ADC's format.

func service(name string) model.Resource {
	return model.Resource{
		Key:  model.Key{Kind: model.KindService, ID: model.ServiceID(name)},
		Name: name,
		Body: map[string]any{"name": name, "upstream": map[string]any{"nodes": []any{map[string]any{"host": "10.0.0.1", "port": 80.0, "weight": 1.0}}}},
	}
}

func route(svc, name string) model.Resource {
	return model.Resource{
		Key:    model.Key{Kind: model.KindRoute, ID: model.RouteID(svc, name)},
		Name:   name,
		Parent: model.Key{Kind: model.KindService, ID: model.ServiceID(svc)},
		Body:   map[string]any{"name": name, "uris": []any{"/" + svc + "/" + name}},
	}
}

func upstream(svc, name string) model.Resource {
	return model.Resource{
		Key:    model.Key{Kind: model.KindUpstream, ID: model.UpstreamID(svc, name)},
		Name:   name,
		Parent: model.Key{Kind: model.KindService, ID: model.ServiceID(svc)},
		Body:   map[string]any{"name": name, "nodes": []any{map[string]any{"host": "10.0.0.9", "port": 80.0, "weight": 1.0}}},
	}
}

func consumer(name string) model.Resource {
	return model.Resource{Key: model.Key{Kind: model.KindConsumer, ID: name}, Name: name, Body: map[string]any{"username": name}}
}

func credential(user, name string) model.Resource {
	return model.Resource{
		Key:    model.Key{Kind: model.KindCredential, Consumer: user, ID: model.CredentialID(user, name)},
		Name:   name,
		Parent: model.Key{Kind: model.KindConsumer, ID: user},
		Body:   map[string]any{"name": name, "type": "key-auth", "config": map[string]any{"key": user + "-" + name}},
	}
}

func changed(r model.Resource, field string, v any) model.Resource {
	b := make(map[string]any, len(r.Body)+1)
	for k, e := range r.Body {
		b[k] = e
	}
	b[field] = v
	r.Body = b
	return r
}

// planFor computes the change set and the plan, with guards that let
// everything through unless pol says otherwise.
func planFor(desired, live []model.Resource, pol *apply.Policy) apply.Plan {
	p := apply.Policy{Prune: true, MaxDeletes: -1, MaxDeletePercent: 100}
	if pol != nil {
		p = *pol
	}
	return apply.NewPlan(apply.Input{
		Changes:         diff.Compute(desired, live),
		Desired:         len(desired),
		Live:            model.Inventory{Owned: live},
		ListingComplete: true,
	}, p)
}

func stepList(p apply.Plan) []string {
	var out []string
	for _, s := range p.Steps {
		line := fmt.Sprintf("%s %s/%s", s.Action, s.Resource.Key.Kind, s.Resource.Name)
		for _, a := range s.After {
			line += fmt.Sprintf(" after:%s", p.Steps[a].Resource.Name)
		}
		out = append(out, line)
	}
	return out
}

func TestPlanOrder(t *testing.T) {
	trafficSplit := changed(route("shop", "canary-route"), "plugins", map[string]any{
		"traffic-split": map[string]any{"rules": []any{map[string]any{"weighted_upstreams": []any{
			map[string]any{"upstream_id": model.UpstreamID("shop", "canary"), "weight": 1.0},
		}}}},
	})
	tests := []struct {
		name          string
		desired, live []model.Resource
		want          []string
	}{
		{
			name:    "a route waits for its own service's create only",
			desired: []model.Resource{service("shop"), route("shop", "list"), service("blog"), route("blog", "post")},
			live:    []model.Resource{changed(service("blog"), "description", "old")},
			want: []string{
				"update service/blog",
				"create service/shop",
				"create route/post",
				"create route/list after:shop",
			},
		},
		{
			name:    "an extra upstream and a route that names it wait for the creates",
			desired: []model.Resource{service("shop"), upstream("shop", "canary"), trafficSplit},
			want: []string{
				"create service/shop",
				"create upstream/canary after:shop",
				"create route/canary-route after:shop after:canary",
			},
		},
		{
			name:    "credentials after their consumer",
			desired: []model.Resource{credential("alice", "main"), consumer("alice")},
			want:    []string{"create consumer/alice", "create consumer_credential/main after:alice"},
		},
		{
			name: "deletes go dependents first",
			live: []model.Resource{
				service("shop"), route("shop", "list"), upstream("shop", "canary"), trafficSplit,
				consumer("alice"), credential("alice", "main"),
			},
			desired: []model.Resource{consumer("bob")},
			want: []string{
				"create consumer/bob",
				"delete route/canary-route",
				"delete route/list",
				"delete upstream/canary after:canary-route",
				"delete service/shop after:canary-route after:list after:canary",
				"delete consumer_credential/main",
				"delete consumer/alice after:main",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := planFor(tt.desired, tt.live, nil)
			if diff := cmp.Diff(tt.want, stepList(p)); diff != "" {
				t.Errorf("plan (-want +got):\n%s\n%s", diff, p.Text())
			}
		})
	}
}

// TestPerObjectScheduling: while the create of one service hangs, routes of
// another service go ahead; the hanging service's own route waits.
func TestPerObjectScheduling(t *testing.T) {
	desired := []model.Resource{service("slow"), route("slow", "r"), service("fast"), route("fast", "a"), route("fast", "b")}
	f := newFake()
	release := make(chan struct{})
	fastRoutesDone := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	routesSeen := 0
	released := false
	f.before = func(c call) {
		if c.key == service("slow").Key {
			<-release
			return
		}
		if c.key.Kind == model.KindRoute {
			mu.Lock()
			if c.key == route("slow", "r").Key && !released {
				t.Error("the route of the hanging service started before its service existed")
			}
			routesSeen++
			if routesSeen == 2 {
				once.Do(func() { close(fastRoutesDone) })
			}
			mu.Unlock()
		}
	}
	go func() {
		select {
		case <-fastRoutesDone:
		case <-time.After(10 * time.Second):
			t.Error("the fast service's routes never started while the slow service hung")
		}
		mu.Lock()
		released = true
		mu.Unlock()
		close(release)
	}()
	e := &apply.Executor{Gateway: f, Concurrency: 4}
	res, err := e.Execute(context.Background(), planFor(desired, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts != (apply.Counts{Applied: 5}) {
		t.Errorf("counts = %+v", res.Counts)
	}
	calls := f.callList()
	if last := calls[len(calls)-1].key; last != route("slow", "r").Key {
		t.Errorf("last call = %s, want the slow service's route", last)
	}
}

// TestConcurrencyBound: the executor keeps exactly Concurrency requests in
// flight when it can, and never more.
func TestConcurrencyBound(t *testing.T) {
	const conc = 5
	var desired []model.Resource
	for i := range 40 {
		desired = append(desired, consumer(fmt.Sprintf("user-%02d", i)))
	}
	f := newFake()
	// The first conc requests wait for each other: if fewer than conc were
	// ever in flight together, the barrier would time out.
	var mu sync.Mutex
	arrived := 0
	full := make(chan struct{})
	f.before = func(call) {
		mu.Lock()
		arrived++
		if arrived == conc {
			close(full)
		}
		mu.Unlock()
		select {
		case <-full:
		case <-time.After(10 * time.Second):
			t.Error("fewer than Concurrency requests were in flight together")
		}
	}
	e := &apply.Executor{Gateway: f, Concurrency: conc}
	res, err := e.Execute(context.Background(), planFor(desired, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if f.maxInflight != conc {
		t.Errorf("peak in flight = %d, want %d", f.maxInflight, conc)
	}
	if res.Calls != 40 || res.Counts.Applied != 40 {
		t.Errorf("requests = %d, counts = %+v", res.Calls, res.Counts)
	}
}

// TestFailureIsolation (F6, D3): one rejected route fails alone; what
// depends on a failed service is skipped; nothing is deleted.
func TestFailureIsolation(t *testing.T) {
	desired := []model.Resource{service("a"), route("a", "bad"), route("a", "good"), service("b"), route("b", "x")}
	live := []model.Resource{service("old"), route("old", "r")}
	f := newFake(live...)
	f.strict = true
	f.fail[route("a", "bad").Key] = &gatewayError{status: 400, message: "failed to check the configuration of plugin limit-count err: property \"count\" is required"}
	f.fail[service("b").Key] = &gatewayError{status: 400, message: "invalid configuration"}

	var seen []apply.Outcome
	e := &apply.Executor{Gateway: f, Observer: apply.Observer{Outcome: func(o apply.Outcome) { seen = append(seen, o) }}}
	res, err := e.Execute(context.Background(), planFor(desired, live, nil))
	if err == nil {
		t.Fatal("Execute succeeded despite failures")
	}
	status := map[string]apply.Status{}
	for _, o := range res.Outcomes {
		status[o.Name] = o.Status
	}
	want := map[string]apply.Status{
		"a": apply.StatusApplied, "good": apply.StatusApplied,
		"bad": apply.StatusFailed, "b": apply.StatusFailed, "x": apply.StatusSkipped,
		"old": apply.StatusSkipped, "r": apply.StatusSkipped,
	}
	if d := cmp.Diff(want, status); d != "" {
		t.Errorf("outcomes (-want +got):\n%s", d)
	}
	for _, c := range f.callList() {
		if c.method == "DELETE" {
			t.Errorf("delete %s sent although a write failed", c.key)
		}
		if c.key == route("b", "x").Key {
			t.Error("the route of the failed service was sent")
		}
	}
	if len(seen) != len(res.Outcomes) {
		t.Errorf("observer saw %d outcomes, want %d", len(seen), len(res.Outcomes))
	}
	for _, o := range res.Outcomes {
		switch o.Name {
		case "bad":
			if !strings.Contains(o.Err.Error(), `property "count" is required`) {
				t.Errorf("failure lost the Admin API's message: %v", o.Err)
			}
		case "x":
			var dep *apply.DependencyError
			if !errors.As(o.Err, &dep) || dep.Dependency != service("b").Key {
				t.Errorf("skip reason = %v", o.Err)
			}
		case "old", "r":
			if !errors.Is(o.Err, apply.ErrPruneHeld) {
				t.Errorf("delete skip reason = %v", o.Err)
			}
		}
	}
	if msg := err.Error(); !strings.Contains(msg, "bad") || !strings.Contains(msg, "invalid configuration") {
		t.Errorf("error does not list each failure: %v", err)
	}
	if f.refErrors != 0 {
		t.Errorf("%d reference-order errors", f.refErrors)
	}
}

// TestPruneOrder (D3): when every write succeeds, deletes run dependents
// first, so a strict gateway never answers "still using it now".
func TestPruneOrder(t *testing.T) {
	live := []model.Resource{service("s"), route("s", "r1"), route("s", "r2"), upstream("s", "u"), consumer("c"), credential("c", "k")}
	f := newFake(live...)
	f.strict = true
	e := &apply.Executor{Gateway: f, Concurrency: 8}
	res, err := e.Execute(context.Background(), planFor([]model.Resource{consumer("other")}, live, nil))
	if err != nil {
		t.Fatal(err)
	}
	if f.refErrors != 0 || res.Counts.Applied != 7 {
		t.Errorf("reference errors = %d, counts = %+v", f.refErrors, res.Counts)
	}
	if len(f.objects) != 1 {
		t.Errorf("left on the gateway: %v", f.objects)
	}
}

// TestStillReferencedRetried: the "still using it now" 400 is retried
// briefly; a delete that keeps failing fails after the last attempt.
func TestStillReferencedRetried(t *testing.T) {
	live := []model.Resource{service("s"), service("t")}
	f := newFake(live...)
	f.stillRef[service("s").Key] = 2
	f.stillRef[service("t").Key] = 100
	e := &apply.Executor{Gateway: f, Retry: apply.Retry{Attempts: 4, Delay: time.Millisecond}}
	res, err := e.Execute(context.Background(), planFor([]model.Resource{consumer("x")}, live, nil))
	if err == nil {
		t.Fatal("want the permanently referenced delete to fail")
	}
	for _, o := range res.Outcomes {
		switch o.Name {
		case "s":
			if o.Status != apply.StatusApplied || o.Attempts != 3 {
				t.Errorf("s: %s after %d attempts", o.Status, o.Attempts)
			}
		case "t":
			if o.Status != apply.StatusFailed || o.Attempts != 4 {
				t.Errorf("t: %s after %d attempts", o.Status, o.Attempts)
			}
		}
	}
	if res.Calls != 1+3+4 {
		t.Errorf("requests = %d", res.Calls)
	}
}

// TestGuards (D1, D2): each guard, what it stops and what goes on.
func TestGuards(t *testing.T) {
	var live []model.Resource
	for i := range 10 {
		live = append(live, consumer(fmt.Sprintf("c%d", i)))
	}
	keep := func(n int) []model.Resource { return append([]model.Resource(nil), live[:n]...) }
	newOne := consumer("new")
	tests := []struct {
		name       string
		desired    []model.Resource
		unowned    []model.Key
		incomplete bool
		pol        apply.Policy
		wantReason apply.Reason
		wantIs     error // nil: Execute succeeds
		wantPuts   int
		wantDels   int
	}{
		{"within the budget", append(keep(9), newOne), nil, false, apply.DefaultPolicy(), "", nil, 1, 1},
		{"prune disabled holds deletes, writes go", append(keep(5), newOne), nil, false,
			apply.Policy{MaxDeletes: -1, MaxDeletePercent: 100}, apply.ReasonPruneDisabled, nil, 1, 0},
		{"max deletes", append(keep(5), newOne), nil, false,
			apply.Policy{Prune: true, MaxDeletes: 4, MaxDeletePercent: 100}, apply.ReasonMaxDeletes, apply.ErrDeletionGuard, 1, 0},
		{"max delete percent", append(keep(7), newOne), nil, false,
			apply.Policy{Prune: true, MaxDeletes: 50, MaxDeletePercent: 25}, apply.ReasonMaxDeletePercent, apply.ErrDeletionGuard, 1, 0},
		{"empty desired", nil, nil, false, apply.Policy{Prune: true, MaxDeletes: -1, MaxDeletePercent: 100},
			apply.ReasonEmptyDesired, apply.ErrDeletionGuard, 0, 0},
		{"empty desired allowed", nil, nil, false, apply.Policy{Prune: true, MaxDeletes: -1, MaxDeletePercent: 100, AllowEmpty: true},
			"", nil, 0, 10},
		{"incomplete listing", append(keep(9), newOne), nil, true, apply.DefaultPolicy(),
			apply.ReasonIncompleteListing, apply.ErrRefused, 0, 0},
		{"ownership conflict", append(keep(10), newOne, consumer("other")), []model.Key{newOne.Key}, false, apply.DefaultPolicy(),
			apply.ReasonOwnershipConflict, apply.ErrOwnershipConflict, 1, 0},
		{"ownership conflict adopted", append(keep(10), newOne), []model.Key{newOne.Key}, false,
			apply.Policy{Prune: true, MaxDeletes: 50, MaxDeletePercent: 25, Adopt: true}, "", nil, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := apply.NewPlan(apply.Input{
				Changes:         diff.Compute(tt.desired, live),
				Desired:         len(tt.desired),
				Live:            model.Inventory{Owned: live, Unowned: tt.unowned},
				ListingComplete: !tt.incomplete,
			}, tt.pol)
			f := newFake(live...)
			var refused []apply.Reason
			e := &apply.Executor{Gateway: f, Observer: apply.Observer{Refusal: func(r *apply.RefusalError) { refused = append(refused, r.Reason) }}}
			res, err := e.Execute(context.Background(), p)
			switch {
			case tt.wantIs == nil && err != nil:
				t.Fatalf("Execute: %v", err)
			case tt.wantIs != nil && !errors.Is(err, tt.wantIs):
				t.Fatalf("err = %v, want %v", err, tt.wantIs)
			}
			if tt.wantReason == "" {
				if len(refused) != 0 {
					t.Errorf("refusals = %v", refused)
				}
			} else if !slices.Equal(refused, []apply.Reason{tt.wantReason}) {
				t.Errorf("refusals = %v, want [%s]", refused, tt.wantReason)
			}
			puts, dels := 0, 0
			for _, c := range f.callList() {
				if c.method == "PUT" {
					puts++
				} else {
					dels++
				}
			}
			if puts != tt.wantPuts || dels != tt.wantDels {
				t.Errorf("puts = %d, deletes = %d; want %d, %d\n%s", puts, dels, tt.wantPuts, tt.wantDels, p.Text())
			}
			if len(res.Outcomes) != len(p.Steps) {
				t.Errorf("%d outcomes for %d steps", len(res.Outcomes), len(p.Steps))
			}
		})
	}
}

func TestOwnershipConflictNeverWrites(t *testing.T) {
	svc := service("taken")
	p := apply.NewPlan(apply.Input{
		Changes:         diff.Compute([]model.Resource{svc, route("taken", "r")}, nil),
		Desired:         2,
		Live:            model.Inventory{Unowned: []model.Key{svc.Key}},
		ListingComplete: true,
	}, apply.DefaultPolicy())
	f := newFake()
	res, err := (&apply.Executor{Gateway: f}).Execute(context.Background(), p)
	if !errors.Is(err, apply.ErrOwnershipConflict) {
		t.Fatalf("err = %v", err)
	}
	if calls := f.callList(); len(calls) != 0 {
		t.Errorf("calls = %v, want none", calls)
	}
	if res.Counts != (apply.Counts{Failed: 1, Skipped: 1}) {
		t.Errorf("counts = %+v", res.Counts)
	}
}

func TestPreflightValidation(t *testing.T) {
	desired := []model.Resource{service("a"), route("a", "bad"), route("a", "good")}
	t.Run("rejected resources fail alone", func(t *testing.T) {
		v := &validatingGateway{fakeGateway: newFake(), err: invalidError{route("a", "bad").Key: errors.New(`property "uris" validation failed`)}}
		res, err := (&apply.Executor{Gateway: v}).Execute(context.Background(), planFor(desired, nil, nil))
		if err == nil || !strings.Contains(err.Error(), `property "uris" validation failed`) {
			t.Fatalf("err = %v", err)
		}
		if res.Counts != (apply.Counts{Applied: 2, Failed: 1}) {
			t.Errorf("counts = %+v", res.Counts)
		}
		for _, c := range v.callList() {
			if c.key == route("a", "bad").Key {
				t.Error("the rejected route was sent")
			}
		}
		if len(v.validated) != 1 || len(v.validated[0]) != 3 {
			t.Errorf("validated = %v", v.validated)
		}
	})
	t.Run("a failed validation stops everything", func(t *testing.T) {
		v := &validatingGateway{fakeGateway: newFake(), err: errBoom}
		_, err := (&apply.Executor{Gateway: v}).Execute(context.Background(), planFor(desired, nil, nil))
		if !errors.Is(err, apply.ErrPreflight) || !errors.Is(err, errBoom) {
			t.Fatalf("err = %v", err)
		}
		if calls := v.callList(); len(calls) != 0 {
			t.Errorf("calls after a failed pre-flight: %v", calls)
		}
	})
	t.Run("local validation", func(t *testing.T) {
		orphan := route("missing-service", "r")
		p := planFor([]model.Resource{orphan, consumer("ok")}, nil, nil)
		f := newFake()
		res, err := (&apply.Executor{Gateway: f}).Execute(context.Background(), p)
		if !errors.Is(err, apply.ErrInvalid) {
			t.Fatalf("err = %v", err)
		}
		if res.Counts != (apply.Counts{Applied: 1, Failed: 1}) || len(f.callList()) != 1 {
			t.Errorf("counts = %+v, calls = %v", res.Counts, f.callList())
		}
	})
}

func TestCancelledRunSkipsTheRest(t *testing.T) {
	var desired []model.Resource
	for i := range 20 {
		desired = append(desired, consumer(fmt.Sprintf("u%02d", i)))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFake()
	var mu sync.Mutex
	n := 0
	f.before = func(call) {
		mu.Lock()
		defer mu.Unlock()
		if n++; n == 3 {
			cancel()
		}
	}
	res, err := (&apply.Executor{Gateway: f, Concurrency: 1}).Execute(ctx, planFor(desired, nil, nil))
	if err == nil {
		t.Fatal("want an error after cancellation")
	}
	if res.Counts.Applied != 2 || res.Counts.Applied+res.Counts.Failed+res.Counts.Skipped != 20 {
		t.Errorf("counts = %+v", res.Counts)
	}
	if len(f.callList()) != 3 {
		t.Errorf("%d calls after cancellation at the third", len(f.callList()))
	}
}

func TestDependencyCycleFails(t *testing.T) {
	// Two services that name each other's inline upstream: a cycle no order
	// can satisfy.
	a, b := service("a"), service("b")
	a = changed(a, "plugins", map[string]any{"traffic-split": map[string]any{"upstream_id": b.Key.ID}})
	b = changed(b, "plugins", map[string]any{"traffic-split": map[string]any{"upstream_id": a.Key.ID}})
	f := newFake()
	res, err := (&apply.Executor{Gateway: f}).Execute(context.Background(), planFor([]model.Resource{a, b}, nil, nil))
	if !errors.Is(err, apply.ErrCycle) {
		t.Fatalf("err = %v", err)
	}
	if res.Counts.Failed != 2 || len(f.callList()) != 0 {
		t.Errorf("counts = %+v, calls = %v", res.Counts, f.callList())
	}
}

func TestPlanText(t *testing.T) {
	live := []model.Resource{service("old"), route("old", "r")}
	p := planFor([]model.Resource{service("s"), route("s", "r")}, live, &apply.Policy{MaxDeletes: -1, MaxDeletePercent: 100})
	got := string(p.Text())
	for _, want := range []string{
		"Plan: 2 writes, then 2 deletes.",
		"Refused: PruneDisabled: pruning is off: 2 deletes held back",
		"1. create service/" + service("s").Key.ID + ` "s"`,
		`create route/` + route("s", "r").Key.ID + ` "r" after 1`,
		"Deletes (held back, will not run):",
		`4. delete service/` + service("old").Key.ID + ` "old" after 3`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("plan text lacks %q:\n%s", want, got)
		}
	}
}

func TestUpdatesTellAChangeWriterWhatChanged(t *testing.T) {
	live := []model.Resource{service("s"), consumer("c")}
	svc := changed(service("s"), "upstream", map[string]any{"nodes": []any{map[string]any{"host": "10.0.0.2", "port": 80.0, "weight": 1.0}}})
	p := planFor([]model.Resource{svc, consumer("c"), consumer("new")}, live, nil)
	g := &partialGateway{fakeGateway: newFake(live...), changes: map[model.Key][]string{}}
	if _, err := (&apply.Executor{Gateway: g}).Execute(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	want := map[model.Key][]string{svc.Key: {"/upstream/nodes/0/host"}}
	if d := cmp.Diff(want, g.changes); d != "" {
		t.Errorf("PutChange calls (-want +got):\n%s", d)
	}
	if n := len(g.callList()); n != 2 {
		t.Errorf("%d calls, want the update and the create", n)
	}
}

// TestRenamedCredentialKeepsItsKey: renaming a credential gives it a new ID
// with the same key; the gateway refuses a key held twice, so the old
// credential goes first, and nothing else is deleted before the writes.
func TestRenamedCredentialKeepsItsKey(t *testing.T) {
	old := credential("alice", "main")
	renamed := credential("alice", "primary")
	renamed.Body = changed(renamed, "config", map[string]any{"key": "alice-main"}).Body
	live := []model.Resource{consumer("alice"), old, consumer("gone")}
	f := newFake(live...)
	f.strict = true
	p := planFor([]model.Resource{consumer("alice"), renamed, consumer("new")}, live, nil)
	var early []string
	for _, s := range p.Steps {
		if s.Early {
			early = append(early, s.Resource.Name)
		}
	}
	if !slices.Equal(early, []string{"main"}) {
		t.Fatalf("early deletes = %v, want [main]\n%s", early, p.Text())
	}
	res, err := (&apply.Executor{Gateway: f}).Execute(context.Background(), p)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if res.Counts != (apply.Counts{Applied: 4}) {
		t.Errorf("counts = %+v", res.Counts)
	}
	calls := f.callList()
	pos := func(k model.Key) int { return slices.IndexFunc(calls, func(c call) bool { return c.key == k }) }
	if pos(old.Key) > pos(renamed.Key) {
		t.Errorf("the renamed credential was written before the old one was deleted: %v", calls)
	}
	if pos(consumer("gone").Key) < pos(consumer("new").Key) {
		t.Errorf("an unrelated delete went before the writes: %v", calls)
	}
	if !strings.Contains(string(p.Text()), "frees an auth key") {
		t.Errorf("the plan does not say why the delete goes early:\n%s", p.Text())
	}

	// If a write fails, the early delete has still run (the write needs
	// it), but the prune does not.
	f2 := newFake(live...)
	f2.strict = true
	f2.fail[consumer("new").Key] = &gatewayError{status: 400, message: "rejected"}
	res, _ = (&apply.Executor{Gateway: f2}).Execute(context.Background(), planFor([]model.Resource{consumer("alice"), renamed, consumer("new")}, live, nil))
	for _, o := range res.Outcomes {
		if o.Key == consumer("gone").Key && o.Status != apply.StatusSkipped {
			t.Errorf("prune ran after a failed write: %s", o.Status)
		}
	}
}

// TestKeyMovedByUpdateGoesFirst: a key that moves from a consumer's plugins
// to a credential (or to another consumer) is dropped by an update before
// the write that takes it, since the gateway refuses a key held twice.
// Two updates that swap keys get no edge (it would be a cycle).
func TestKeyMovedByUpdateGoesFirst(t *testing.T) {
	withKey := func(r model.Resource, key string) model.Resource {
		return changed(r, "plugins", map[string]any{"key-auth": map[string]any{"key": key}})
	}
	cred := credential("alice", "main")
	cred.Body = changed(cred, "config", map[string]any{"key": "k1"}).Body
	tests := []struct {
		name          string
		desired, live []model.Resource
		want          []string
	}{
		{"consumer to its credential",
			[]model.Resource{consumer("alice"), cred},
			[]model.Resource{withKey(consumer("alice"), "k1")},
			[]string{"update consumer/alice", "create consumer_credential/main after:alice"}},
		{"consumer to consumer",
			[]model.Resource{consumer("alice"), withKey(consumer("bob"), "k1")},
			[]model.Resource{withKey(consumer("alice"), "k1"), consumer("bob")},
			[]string{"update consumer/alice", "update consumer/bob after:alice"}},
		{"swap",
			[]model.Resource{withKey(consumer("alice"), "k2"), withKey(consumer("bob"), "k1")},
			[]model.Resource{withKey(consumer("alice"), "k1"), withKey(consumer("bob"), "k2")},
			[]string{"update consumer/alice after:bob", "update consumer/bob"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := planFor(tt.desired, tt.live, nil)
			if got := stepList(p); !slices.Equal(got, tt.want) {
				t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
