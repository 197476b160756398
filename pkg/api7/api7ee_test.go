package api7

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// api7Resources is the corpus file plus the extra kinds API7 has (no
// consumer groups).
func api7Resources(t *testing.T) []model.Resource {
	var out []model.Resource
	for _, r := range append(adcResources(t, "testdata/apisix-3.18/inventory-tls-create.yaml"), extraResources()...) {
		if r.Key.Kind != model.KindConsumerGroup && r.Parent.Kind != model.KindConsumerGroup {
			out = append(out, r)
		}
	}
	sortResources(out)
	return out
}

func TestRoundTripAPI7(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		group     string
		transport TokenTransport
	}{
		{"default group, header", Config{}, "default", TokenHeader},
		{"named group, cookie, paged by 10", Config{GatewayGroup: "prod", TokenTransport: TokenCookie, PageSize: 10}, "prod", TokenCookie},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.cfg, emulator.WithBackend(emulator.BackendAPI7EE), emulator.WithGatewayGroups("default", "prod"))
			ctx := ctxFor(t, 30*time.Second)
			desired := api7Resources(t)
			putAll(t, ctx, f.client, desired)
			inv, err := f.client.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			d, err := f.client.Defaults(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(wantLive(t, desired, d), gotLive(t, inv)); diff != "" {
				t.Errorf("put → list is not the identity (-want +got):\n%s", diff)
			}
			if len(inv.Unowned) != 0 {
				t.Errorf("unowned: %v", inv.Unowned)
			}
			ggID, _ := f.em.GatewayGroupID(tt.group)
			for _, r := range f.em.Requests() {
				if strings.HasPrefix(r.Path, "/apisix/admin/") && !strings.Contains(r.Path, "gateway_group_id="+ggID) {
					t.Errorf("%s %s lacks gateway_group_id=%s", r.Method, r.Path, ggID)
				}
				if r.TokenVia != string(tt.transport) {
					t.Errorf("%s %s: token sent by %q, want %s", r.Method, r.Path, r.TokenVia, tt.transport)
				}
			}
			other := "default"
			if tt.group == "default" {
				other = "prod"
			}
			otherID, _ := f.em.GatewayGroupID(other)
			if n := f.em.Count(otherID, "services"); n != 0 {
				t.Errorf("%d services landed in gateway group %s", n, other)
			}

			// Deleting a service takes its routes, stream routes and extra
			// upstreams; their own deletes then find nothing, which is fine.
			for _, r := range inv.Owned {
				if r.Key.Kind == model.KindService || r.Key.Kind == model.KindConsumer {
					if err := f.client.Delete(ctx, r); err != nil {
						t.Fatalf("delete %s: %v", r.Key, err)
					}
				}
			}
			for _, r := range inv.Owned {
				if err := f.client.Delete(ctx, r); err != nil {
					t.Fatalf("delete %s after the cascade: %v", r.Key, err)
				}
			}
			empty, err := f.client.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(empty.Owned)+len(empty.Unowned) != 0 {
				t.Errorf("after deleting all: %+v", empty)
			}
		})
	}
}

func TestAPI7GatewayGroup(t *testing.T) {
	f := newFixture(t, Config{GatewayGroup: "staging"}, emulator.WithBackend(emulator.BackendAPI7EE), emulator.WithGatewayGroups("default", "staging-eu"))
	ctx := ctxFor(t, 10*time.Second)
	_, err := f.client.List(ctx)
	if err == nil || !strings.Contains(err.Error(), `gateway group "staging" does not exist`) {
		t.Fatalf("a search hit on another group's name was taken: %v", err)
	}

	// A gateway-group admin key needs no gateway_group_id.
	const adm = "a7adm-canary-0c1d"
	f2 := newFixture(t, Config{Token: model.NewSecret(adm)}, emulator.WithBackend(emulator.BackendAPI7EE), emulator.WithToken("adm", adm, emulator.RoleAdmin))
	if _, err := f2.client.List(ctx); err != nil {
		t.Fatal(err)
	}
	for _, r := range f2.em.Requests() {
		if strings.Contains(r.Path, "gateway_group_id") || strings.HasPrefix(r.Path, "/api/gateway_groups") {
			t.Errorf("with an a7adm- key: %s %s", r.Method, r.Path)
		}
	}
	noLeak(t, "logs", f2.logs.String(), adm)
}

func TestAPI7ExpiredToken(t *testing.T) {
	f := newFixture(t, Config{Retry: fastRetry}, emulator.WithBackend(emulator.BackendAPI7EE))
	ctx := ctxFor(t, 10*time.Second)
	if _, err := f.client.List(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.em.ExpireToken(emulator.TokenNameAdmin, time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	_, err := f.client.List(ctx)
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("got %v, want ErrUnauthorized", err)
	}
	noLeakErr(t, err)
}

func TestAPI7Validate(t *testing.T) {
	f := newFixture(t, Config{}, emulator.WithBackend(emulator.BackendAPI7EE))
	ctx := ctxFor(t, 10*time.Second)
	if err := f.client.Validate(ctx, api7Resources(t)); err != nil {
		t.Fatalf("valid configuration refused: %v", err)
	}
	bad := model.Resource{Key: model.Key{Kind: model.KindRoute, ID: "bad"}, Parent: model.Key{Kind: model.KindService, ID: "s"},
		Body: map[string]any{"name": "bad", "uris": []any{"/"}, "hosts": []any{"a.example"}}}
	var ve *ValidationError
	if err := f.client.Validate(ctx, []model.Resource{bad}); !errors.As(err, &ve) || len(ve.Issues) != 1 || ve.Issues[0].Key != bad.Key {
		t.Fatalf("got %v", err)
	}
	old := newFixture(t, Config{}, emulator.WithBackend(emulator.BackendAPI7EE), emulator.WithAPI7Version("3.8.0"))
	if err := old.client.Validate(ctx, nil); !errors.Is(err, ErrUnsupported) {
		t.Errorf("3.8: %v, want ErrUnsupported", err)
	}
}

// Deletes carry no body on either backend.
func TestDeleteHasNoBody(t *testing.T) {
	for _, backend := range []emulator.Backend{emulator.BackendAPISIX, emulator.BackendAPI7EE} {
		t.Run(string(backend), func(t *testing.T) {
			var bodies []string
			var mu sync.Mutex
			f := newFixture(t, Config{}, emulator.WithBackend(backend), emulator.WithHook(func(c emulator.Call) *emulator.Reply {
				if c.Method == http.MethodDelete && len(c.Body) > 0 {
					mu.Lock()
					bodies = append(bodies, c.Path+" "+string(c.Body))
					mu.Unlock()
				}
				return nil
			}))
			ctx := ctxFor(t, 10*time.Second)
			r := model.Resource{Key: model.Key{Kind: model.KindConsumer, ID: "carol"}, Body: map[string]any{"username": "carol"}}
			putAll(t, ctx, f.client, []model.Resource{r})
			if err := f.client.Delete(ctx, r); err != nil {
				t.Fatal(err)
			}
			if len(bodies) > 0 {
				t.Errorf("DELETE with a body: %v", bodies)
			}
		})
	}
}
