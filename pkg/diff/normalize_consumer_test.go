package diff_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitops-gateway/reconciler/pkg/diff"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// jwtConsumerDefaults are jwt-auth's consumer schema defaults in APISIX
// 3.13, and its route schema's (a subset), as the api7 client reports them.
func jwtConsumerDefaults() model.Defaults {
	return model.Defaults{
		Plugins: map[string]map[string]any{
			"limit-count": {"policy": "local"},
			// An auth plugin's route defaults never reach a consumer; set
			// here to show that the consumer schema's take their place.
			"jwt-auth": {"header": "authorization"},
		},
		ConsumerPlugins: map[string]map[string]any{
			"jwt-auth": {"algorithm": "HS256", "exp": 86400.0, "base64_secret": false, "lifetime_grace_period": 0.0},
		},
	}
}

func TestConsumerPluginDefaults(t *testing.T) {
	consumer := model.Key{Kind: model.KindConsumer, ID: "alice"}
	cred := model.Key{Kind: model.KindCredential, Consumer: "alice", ID: model.CredentialID("alice", "primary")}
	route := model.Key{Kind: model.KindRoute, ID: "r"}
	stored := map[string]any{"key": "k", "secret": "s", "algorithm": "HS256", "exp": 86400.0, "base64_secret": false, "lifetime_grace_period": 0.0}
	tests := []struct {
		name       string
		desired    model.Resource
		live       model.Resource
		wantFields []string // changed paths; nil means in sync
	}{
		{
			name:    "consumer: omitted fields equal the stored defaults",
			desired: model.Resource{Key: consumer, Name: "alice", Body: map[string]any{"username": "alice", "plugins": map[string]any{"jwt-auth": map[string]any{"key": "k", "secret": "s"}}}},
			live:    model.Resource{Key: consumer, Name: "alice", Body: map[string]any{"username": "alice", "plugins": map[string]any{"jwt-auth": clone(stored)}}},
		},
		{
			name:       "consumer: a value other than the default is drift",
			desired:    model.Resource{Key: consumer, Name: "alice", Body: map[string]any{"username": "alice", "plugins": map[string]any{"jwt-auth": map[string]any{"key": "k", "secret": "s", "exp": 3600.0}}}},
			live:       model.Resource{Key: consumer, Name: "alice", Body: map[string]any{"username": "alice", "plugins": map[string]any{"jwt-auth": clone(stored)}}},
			wantFields: []string{"/plugins/jwt-auth/exp"},
		},
		{
			name:       "consumer: the route schema's defaults do not apply",
			desired:    model.Resource{Key: consumer, Name: "alice", Body: map[string]any{"username": "alice", "plugins": map[string]any{"jwt-auth": map[string]any{"key": "k", "secret": "s"}}}},
			live:       model.Resource{Key: consumer, Name: "alice", Body: map[string]any{"username": "alice", "plugins": map[string]any{"jwt-auth": with(stored, "header", "authorization")}}},
			wantFields: []string{"/plugins/jwt-auth/header"},
		},
		{
			name:    "consumer: other plugins keep their defaults",
			desired: model.Resource{Key: consumer, Name: "alice", Body: map[string]any{"username": "alice", "plugins": map[string]any{"limit-count": map[string]any{"count": 1.0}}}},
			live:    model.Resource{Key: consumer, Name: "alice", Body: map[string]any{"username": "alice", "plugins": map[string]any{"limit-count": map[string]any{"count": 1.0, "policy": "local"}}}},
		},
		{
			name:    "credential: omitted fields equal the stored defaults",
			desired: model.Resource{Key: cred, Name: "primary", Parent: consumer, Body: map[string]any{"name": "primary", "type": "jwt-auth", "config": map[string]any{"key": "k", "secret": "s"}}},
			live:    model.Resource{Key: cred, Name: "primary", Parent: consumer, Body: map[string]any{"name": "primary", "type": "jwt-auth", "config": clone(stored)}},
		},
		{
			name:    "credential: in the wire shape",
			desired: model.Resource{Key: cred, Name: "primary", Parent: consumer, Body: map[string]any{"name": "primary", "type": "jwt-auth", "config": map[string]any{"key": "k", "secret": "s"}}},
			live:    model.Resource{Key: cred, Name: "primary", Parent: consumer, Body: map[string]any{"name": "primary", "plugins": map[string]any{"jwt-auth": clone(stored)}}},
		},
		{
			name:       "credential: a value other than the default is drift",
			desired:    model.Resource{Key: cred, Name: "primary", Parent: consumer, Body: map[string]any{"name": "primary", "type": "jwt-auth", "config": map[string]any{"key": "k", "secret": "s", "exp": 3600.0}}},
			live:       model.Resource{Key: cred, Name: "primary", Parent: consumer, Body: map[string]any{"name": "primary", "type": "jwt-auth", "config": clone(stored)}},
			wantFields: []string{"/config/exp"},
		},
		{
			name:       "credential: another type takes none of them",
			desired:    model.Resource{Key: cred, Name: "primary", Parent: consumer, Body: map[string]any{"name": "primary", "type": "key-auth", "config": map[string]any{"key": "k"}}},
			live:       model.Resource{Key: cred, Name: "primary", Parent: consumer, Body: map[string]any{"name": "primary", "type": "key-auth", "config": map[string]any{"key": "k", "exp": 86400.0}}},
			wantFields: []string{"/config/exp"},
		},
		{
			name:       "route: the consumer schema's defaults do not apply",
			desired:    model.Resource{Key: route, Name: "r", Body: map[string]any{"name": "r", "uris": []any{"/"}, "plugins": map[string]any{"jwt-auth": map[string]any{}}}},
			live:       model.Resource{Key: route, Name: "r", Body: map[string]any{"name": "r", "uris": []any{"/"}, "plugins": map[string]any{"jwt-auth": map[string]any{"exp": 86400.0}}}},
			wantFields: []string{"/plugins/jwt-auth/exp"},
		},
	}
	d, err := diff.New(diff.Options{Defaults: jwtConsumerDefaults()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := clone(tt.desired.Body)
			beforeLive := clone(tt.live.Body)
			cs := d.Compute([]model.Resource{tt.desired}, []model.Resource{tt.live})
			var got []string
			for _, c := range cs.Changes {
				for _, f := range c.Fields {
					got = append(got, f.Path)
				}
			}
			if !cmp.Equal(got, tt.wantFields) {
				t.Errorf("changed paths %q, want %q", got, tt.wantFields)
			}
			if !cmp.Equal(before, tt.desired.Body) || !cmp.Equal(beforeLive, tt.live.Body) {
				t.Errorf("normalising changed its input:\n%s\n%s", cmp.Diff(before, tt.desired.Body), cmp.Diff(beforeLive, tt.live.Body))
			}
			for _, r := range []model.Resource{tt.desired, tt.live} {
				once := d.Normalize(r)
				if twice := d.Normalize(once); !cmp.Equal(once.Body, twice.Body) {
					t.Errorf("normalising twice differs:\n%s", cmp.Diff(once.Body, twice.Body))
				}
			}
		})
	}

	// Without the consumer defaults (APISIX 3.14 and later) the stored
	// defaults are drift.
	plain, err := diff.New(diff.Options{Defaults: model.Defaults{Plugins: jwtConsumerDefaults().Plugins}})
	if err != nil {
		t.Fatal(err)
	}
	if cs := plain.Compute([]model.Resource{tests[0].desired}, []model.Resource{tests[0].live}); cs.Empty() {
		t.Error("without ConsumerPlugins the stored defaults still compare equal")
	}
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch t := v.(type) {
		case map[string]any:
			out[k] = clone(t)
		case []any:
			a := make([]any, len(t))
			for i, e := range t {
				if em, ok := e.(map[string]any); ok {
					a[i] = clone(em)
				} else {
					a[i] = e
				}
			}
			out[k] = a
		default:
			out[k] = v
		}
	}
	return out
}

func with(m map[string]any, k string, v any) map[string]any {
	out := clone(m)
	out[k] = v
	return out
}
