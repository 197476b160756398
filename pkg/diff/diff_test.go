package diff_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitops-gateway/reconciler/pkg/diff"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

func TestNewRejectsBadIgnoreRules(t *testing.T) {
	tests := []struct {
		name string
		rule diff.IgnoreRule
		want string
	}{
		{"no paths", diff.IgnoreRule{Kind: model.KindRoute}, "no paths"},
		{"whole resource", diff.IgnoreRule{Paths: []string{""}}, "whole resource"},
		{"relative pointer", diff.IgnoreRule{Paths: []string{"nodes"}}, `"nodes"`},
		{"bad escape", diff.IgnoreRule{Paths: []string{"/a~2"}}, `"~" must be followed`},
		{"bad glob", diff.IgnoreRule{Name: "[", Paths: []string{"/a"}}, "syntax error in pattern"},
		{"unknown kind", diff.IgnoreRule{Kind: "router", Paths: []string{"/a"}}, `unknown kind "router"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := diff.New(diff.Options{Ignore: []diff.IgnoreRule{{Paths: []string{"/ok"}}, tt.rule}})
			if !errors.Is(err, diff.ErrInvalidOptions) {
				t.Fatalf("err = %v, want ErrInvalidOptions", err)
			}
			if !strings.Contains(err.Error(), "ignore rule 2") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to name rule 2 and contain %q", err, tt.want)
			}
		})
	}
}

func TestFieldPathsAreEscaped(t *testing.T) {
	desired := []model.Resource{{
		Key:  model.Key{Kind: model.KindService, ID: "s"},
		Name: "s",
		Body: map[string]any{"name": "s", "labels": map[string]any{"a/b": "1", "c~d": "2"}},
	}}
	live := []model.Resource{{
		Key:  model.Key{Kind: model.KindService, ID: "s"},
		Name: "s",
		Body: map[string]any{"name": "s", "labels": map[string]any{"a/b": "0", "c~d": "0"}},
	}}
	cs := diff.Compute(desired, live)
	var got []string
	for _, f := range cs.Changes[0].Fields {
		got = append(got, f.Path)
	}
	if want := []string{"/labels/a~1b", "/labels/c~0d"}; !cmp.Equal(got, want) {
		t.Errorf("paths = %q, want %q", got, want)
	}
}

func TestChangeSetOrderAndSummary(t *testing.T) {
	r := func(k model.Kind, id string) model.Resource {
		return model.Resource{Key: model.Key{Kind: k, ID: id}, Name: id, Body: map[string]any{"name": id}}
	}
	desired := []model.Resource{r(model.KindRoute, "b"), r(model.KindSSL, "z"), r(model.KindRoute, "a"), r(model.KindService, "s")}
	live := []model.Resource{r(model.KindConsumer, "gone"), {Key: model.Key{Kind: model.KindService, ID: "s"}, Name: "s", Body: map[string]any{"name": "old"}}}
	cs := diff.Compute(desired, live)
	var got []string
	for _, c := range cs.Changes {
		got = append(got, fmt.Sprintf("%s %s", c.Action, c.Key))
	}
	want := []string{"create ssl/z", "update service/s", "create route/a", "create route/b", "delete consumer/gone"}
	if !cmp.Equal(got, want) {
		t.Errorf("order = %q, want %q", got, want)
	}
	if s := cs.Summary(); s != (diff.Summary{Create: 3, Update: 1, Delete: 1, Total: 5}) {
		t.Errorf("summary = %+v", s)
	}
	for _, c := range cs.Changes {
		switch c.Action {
		case diff.ActionDelete:
			if c.Live.Key != c.Key || !c.Desired.Key.IsZero() {
				t.Errorf("%s: delete must carry Live only", c.Key)
			}
		case diff.ActionCreate:
			if c.Desired.Key != c.Key || !c.Live.Key.IsZero() {
				t.Errorf("%s: create must carry Desired only", c.Key)
			}
		case diff.ActionUpdate:
			if c.Desired.Key != c.Key || c.Live.Key != c.Key {
				t.Errorf("%s: update must carry both", c.Key)
			}
		}
	}
}

func TestWriteFormAddsFingerprintToKeyHolders(t *testing.T) {
	ssl := model.Resource{
		Key:  model.Key{Kind: model.KindSSL, ID: "x"},
		Body: map[string]any{"snis": []any{"a"}, "certificates": []any{map[string]any{"certificate": "C", "key": " K\n"}}},
	}
	w := diff.WriteForm(ssl)
	labels, _ := w.Body["labels"].(map[string]any)
	if labels[diff.FingerprintLabel] != diff.Fingerprint([]string{"K"}) {
		t.Errorf("write form labels = %v", labels)
	}
	if _, ok := ssl.Body["labels"]; ok {
		t.Error("WriteForm modified its input")
	}
	if got := diff.StripFingerprint(w); got.Body["labels"] != nil {
		t.Errorf("StripFingerprint left labels %v", got.Body["labels"])
	}
	route := model.Resource{Key: model.Key{Kind: model.KindRoute, ID: "r"}, Body: map[string]any{"name": "r"}}
	if got := diff.WriteForm(route); !cmp.Equal(got, route) {
		t.Errorf("WriteForm changed a route: %v", got)
	}
	if diff.Fingerprint([]string{"a"}) == diff.Fingerprint([]string{"b"}) || len(diff.Fingerprint(nil)) != 32 {
		t.Error("fingerprints must differ per key and be 32 hex digits")
	}

	// Upstreams carry it for their TLS client key: an extra upstream in
	// its labels, a service's inline upstream in upstream.labels.
	tlsUp := func() map[string]any {
		return map[string]any{"nodes": []any{}, "labels": map[string]any{"team": "a"}, "tls": map[string]any{"client_cert": "C", "client_key": "K"}}
	}
	fp := diff.Fingerprint([]string{"K"})
	up := model.Resource{Key: model.Key{Kind: model.KindUpstream, ID: "u"}, Body: tlsUp()}
	w = diff.WriteForm(up)
	if l := w.Body["labels"].(map[string]any); l[diff.FingerprintLabel] != fp || l["team"] != "a" {
		t.Errorf("upstream write form labels = %v", l)
	}
	if _, ok := up.Body["labels"].(map[string]any)[diff.FingerprintLabel]; ok {
		t.Error("WriteForm modified its input")
	}
	if got := diff.StripFingerprint(w); !cmp.Equal(got, up) {
		t.Errorf("StripFingerprint(upstream) = %v", got.Body)
	}
	svc := model.Resource{Key: model.Key{Kind: model.KindService, ID: "s"}, Body: map[string]any{"name": "s", "upstream": tlsUp()}}
	w = diff.WriteForm(svc)
	if l := w.Body["upstream"].(map[string]any)["labels"].(map[string]any); l[diff.FingerprintLabel] != fp {
		t.Errorf("service write form upstream labels = %v", l)
	}
	if _, ok := w.Body["labels"]; ok {
		t.Errorf("the service itself got labels: %v", w.Body["labels"])
	}
	if _, ok := svc.Body["upstream"].(map[string]any)["labels"].(map[string]any)[diff.FingerprintLabel]; ok {
		t.Error("WriteForm modified its input")
	}
	if got := diff.StripFingerprint(w); !cmp.Equal(got, svc) {
		t.Errorf("StripFingerprint(service) = %v", got.Body)
	}
	plain := model.Resource{Key: model.Key{Kind: model.KindService, ID: "s"}, Body: map[string]any{"name": "s", "upstream": map[string]any{"nodes": []any{}}}}
	if got := diff.WriteForm(plain); !cmp.Equal(got, plain) {
		t.Errorf("WriteForm changed a service without a client key: %v", got.Body)
	}
}

func TestWriteOnlyPointers(t *testing.T) {
	tls := map[string]any{"client_cert": "C", "client_key": "K"}
	tests := []struct {
		kind model.Kind
		body map[string]any
		want []string
	}{
		{model.KindSSL, map[string]any{"certificates": []any{map[string]any{"certificate": "C"}, map[string]any{"certificate": "D"}}}, []string{"/certificates/0/key", "/certificates/1/key"}},
		{model.KindUpstream, map[string]any{"tls": tls}, []string{"/tls/client_key"}},
		{model.KindUpstream, map[string]any{"tls": map[string]any{"client_cert_id": "x"}}, nil},
		{model.KindService, map[string]any{"upstream": map[string]any{"tls": tls}}, []string{"/upstream/tls/client_key"}},
		{model.KindService, map[string]any{"name": "s"}, nil},
		{model.KindRoute, map[string]any{"upstream": map[string]any{"tls": tls}}, nil},
	}
	for _, tt := range tests {
		got := diff.WriteOnlyPointers(model.Resource{Key: model.Key{Kind: tt.kind, ID: "x"}, Body: tt.body})
		if !cmp.Equal(got, tt.want) {
			t.Errorf("%s %v: %q, want %q", tt.kind, tt.body, got, tt.want)
		}
	}
}

// TestUpstreamClientKeyComparedByFingerprint: an upstream's client key is
// never compared (APISIX reads it back encrypted); the fingerprint label
// the reconciler writes next to it shows a changed key; a live upstream
// without the label (ADC's) is compared without it.
func TestUpstreamClientKeyComparedByFingerprint(t *testing.T) {
	type side struct {
		key   string // the client key; "" for no tls at all
		label string // the fingerprint label; "" for none
	}
	up := func(s side) map[string]any {
		u := map[string]any{"scheme": "https", "nodes": []any{map[string]any{"host": "h", "port": 443.0, "weight": 1.0}}}
		if s.key != "" {
			u["tls"] = map[string]any{"client_cert": "CERT", "client_key": s.key}
		}
		if s.label != "" {
			u["labels"] = map[string]any{diff.FingerprintLabel: s.label}
		}
		return u
	}
	fp := func(k string) string { return diff.Fingerprint([]string{k}) }
	tests := []struct {
		name       string
		want, live side
		fields     []string // changed paths, relative to the upstream
	}{
		{"ciphertext read back", side{key: "KEY-A"}, side{key: "ciphertext-of-A", label: fp("KEY-A")}, nil},
		{"plaintext read back", side{key: "KEY-A"}, side{key: "KEY-A", label: fp("KEY-A")}, nil},
		{"key changed", side{key: "KEY-B"}, side{key: "ciphertext-of-A", label: fp("KEY-A")}, []string{"/labels/" + diff.FingerprintLabel}},
		{"written by ADC", side{key: "KEY-B"}, side{key: "ciphertext-of-A"}, nil},
		{"written by ADC, same plaintext", side{key: "KEY-A"}, side{key: "KEY-A"}, nil},
		{"key added", side{key: "KEY-A"}, side{}, []string{"/tls"}},
		{"key removed", side{}, side{key: "ciphertext-of-A", label: fp("KEY-A")}, []string{"/labels", "/tls"}},
	}
	for _, tt := range tests {
		for _, kind := range []model.Kind{model.KindService, model.KindUpstream} {
			t.Run(tt.name+"/"+string(kind), func(t *testing.T) {
				res := func(s side) model.Resource {
					r := model.Resource{Key: model.Key{Kind: kind, ID: "x"}, Name: "x"}
					if kind == model.KindService {
						r.Body = map[string]any{"name": "x", "upstream": up(s)}
					} else {
						r.Parent = model.Key{Kind: model.KindService, ID: "s"}
						r.Body = up(s)
					}
					return r
				}
				want, live := res(tt.want), res(tt.live)
				cs := diff.Compute([]model.Resource{want}, []model.Resource{live})
				var got []string
				for _, c := range cs.Changes {
					for _, f := range c.Fields {
						got = append(got, f.Path)
					}
				}
				var wantPaths []string
				for _, f := range tt.fields {
					if kind == model.KindService {
						f = "/upstream" + f
					}
					wantPaths = append(wantPaths, f)
				}
				if !cmp.Equal(got, wantPaths) {
					t.Errorf("changed %q, want %q\n%s", got, wantPaths, diff.Text(cs, diff.TextOptions{}))
				}
				js, err := diff.JSON(cs)
				if err != nil {
					t.Fatal(err)
				}
				for _, out := range [][]byte{diff.Text(cs, diff.TextOptions{}), js, diff.Markdown(cs)} {
					if strings.Contains(string(out), "KEY-") || strings.Contains(string(out), "ciphertext") {
						t.Errorf("a key shows:\n%s", out)
					}
				}
				if !cs.Empty() && cs.Changes[0].Desired.Key.IsZero() {
					t.Error("an update without Desired")
				}
			})
		}
	}
}

func TestTextColourOnlyWhenAsked(t *testing.T) {
	cs := diff.Compute([]model.Resource{{Key: model.Key{Kind: model.KindRoute, ID: "r"}, Name: "r", Body: map[string]any{"name": "r"}}}, nil)
	if plain := diff.Text(cs, diff.TextOptions{}); strings.Contains(string(plain), "\x1b[") {
		t.Errorf("plain text has escape codes: %q", plain)
	}
	if coloured := diff.Text(cs, diff.TextOptions{Color: true}); !strings.Contains(string(coloured), "\x1b[32m") {
		t.Errorf("coloured text has no green: %q", coloured)
	}
}

// kindRank in compute.go mirrors model.Kinds; this keeps them in step.
func TestChangeOrderFollowsModelKinds(t *testing.T) {
	kinds := model.Kinds()
	var desired []model.Resource
	for i := len(kinds) - 1; i >= 0; i-- {
		desired = append(desired, model.Resource{Key: model.Key{Kind: kinds[i], ID: "x"}, Name: "x", Body: map[string]any{"a": "b"}})
	}
	cs := diff.Compute(desired, nil)
	for i, c := range cs.Changes {
		if c.Key.Kind != kinds[i] {
			t.Fatalf("change %d is a %s, want %s (model.Kinds order)", i, c.Key.Kind, kinds[i])
		}
	}
}

func TestSecretPointers(t *testing.T) {
	tests := []struct {
		name string
		r    model.Resource
		want []string
	}{
		{"credential", model.Resource{Key: model.Key{Kind: model.KindCredential, Consumer: "u", ID: "c"},
			Body: map[string]any{"name": "c", "type": "key-auth", "config": map[string]any{"key": "k"}}}, []string{"/config/key"}},
		{"consumer plugins", model.Resource{Key: model.Key{Kind: model.KindConsumer, ID: "u"},
			Body: map[string]any{"username": "u", "plugins": map[string]any{
				"basic-auth":  map[string]any{"username": "u", "password": "p"},
				"limit-count": map[string]any{"count": 1.0, "redis_password": "r"},
			}}}, []string{"/plugins/basic-auth/password", "/plugins/limit-count/redis_password"}},
		{"ssl", model.Resource{Key: model.Key{Kind: model.KindSSL, ID: "s"},
			Body: map[string]any{"snis": []any{"a"}, "certificates": []any{map[string]any{"certificate": "C", "key": "K"}}}}, []string{"/certificates/0/key"}},
		{"substituted", model.Resource{Key: model.Key{Kind: model.KindRoute, ID: "r"}, Secrets: []string{"/labels/token"},
			Body: map[string]any{"name": "r", "labels": map[string]any{"token": "t", "team": "x"}}}, []string{"/labels/token"}},
		{"none", model.Resource{Key: model.Key{Kind: model.KindRoute, ID: "r"}, Body: map[string]any{"name": "r", "uris": []any{"/"}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := diff.SecretPointers(tt.r); !cmp.Equal(got, tt.want) {
				t.Errorf("SecretPointers = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestDuplicateKeysFirstWins: of resources with the same key on one side,
// the first is compared and the others are ignored.
func TestDuplicateKeysFirstWins(t *testing.T) {
	svc := func(desc string) model.Resource {
		return model.Resource{Key: model.Key{Kind: model.KindService, ID: "s"}, Name: "s", Body: map[string]any{"name": "s", "description": desc}}
	}
	route := model.Resource{Key: model.Key{Kind: model.KindRoute, ID: "r"}, Name: "r", Body: map[string]any{"name": "r", "uris": []any{"/"}}}
	tests := []struct {
		name          string
		desired, live []model.Resource
		want          []string
	}{
		{"desired", []model.Resource{svc("a"), svc("b")}, []model.Resource{svc("a")}, nil},
		{"live", []model.Resource{svc("a")}, []model.Resource{svc("a"), svc("b")}, nil},
		{"live only", nil, []model.Resource{svc("a"), svc("b"), route}, []string{"delete service/s", "delete route/r"}},
		{"desired differs from the first live", []model.Resource{svc("b"), svc("a")}, []model.Resource{svc("a"), svc("b")}, []string{"update service/s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, c := range diff.Compute(tt.desired, tt.live).Changes {
				got = append(got, fmt.Sprintf("%s %s", c.Action, c.Key))
			}
			if !cmp.Equal(got, tt.want) {
				t.Errorf("changes = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestTLSVerifyDefault: APISIX before 3.14 stores tls.verify false next to
// a client certificate; it is the default everywhere, so not a change.
func TestTLSVerifyDefault(t *testing.T) {
	up := func(tls map[string]any) model.Resource {
		return model.Resource{
			Key: model.Key{Kind: model.KindUpstream, ID: "u"}, Name: "u", Parent: model.Key{Kind: model.KindService, ID: "s"},
			Body: map[string]any{"nodes": []any{map[string]any{"host": "h", "port": 443.0, "weight": 1.0}}, "tls": tls},
		}
	}
	tests := []struct {
		name       string
		want, live map[string]any
		changed    bool
	}{
		{"stored default", map[string]any{"client_cert_id": "c"}, map[string]any{"client_cert_id": "c", "verify": false}, false},
		{"only the default", nil, map[string]any{"verify": false}, false},
		{"verify turned on", map[string]any{"client_cert_id": "c"}, map[string]any{"client_cert_id": "c", "verify": true}, true},
	}
	for _, tt := range tests {
		cs := diff.Compute([]model.Resource{up(tt.want)}, []model.Resource{up(tt.live)})
		if cs.Empty() == tt.changed {
			t.Errorf("%s: changes = %s", tt.name, diff.Text(cs, diff.TextOptions{}))
		}
	}
}

// A consumer keeps its key when it joins, leaves or changes its group:
// the group is compared as group_id, which the change names.
func TestConsumerGroupMembership(t *testing.T) {
	consumer := func(group string) model.Resource {
		r := model.Resource{Key: model.Key{Kind: model.KindConsumer, ID: "alice"}, Name: "alice", Body: map[string]any{"username": "alice"}}
		if group != "" {
			r.Parent = model.Key{Kind: model.KindConsumerGroup, ID: group}
		}
		return r
	}
	tests := []struct {
		name       string
		want, live string
		changed    bool
	}{
		{"same group", "gold", "gold", false},
		{"no group", "", "", false},
		{"joined", "gold", "", true},
		{"left", "", "gold", true},
		{"moved", "platinum", "gold", true},
	}
	for _, tt := range tests {
		cs := diff.Compute([]model.Resource{consumer(tt.want)}, []model.Resource{consumer(tt.live)})
		if cs.Empty() == tt.changed {
			t.Errorf("%s: changes = %s", tt.name, diff.Text(cs, diff.TextOptions{}))
			continue
		}
		if tt.changed && (len(cs.Changes) != 1 || len(cs.Changes[0].Fields) != 1 || cs.Changes[0].Fields[0].Path != "/group_id") {
			t.Errorf("%s: want one change of /group_id, got %s", tt.name, diff.Text(cs, diff.TextOptions{}))
		}
	}
}

// A stream route's remote_addr is singular in ADC's format and on the
// wire: a change is named as the file names it, not as a route's
// remote_addrs.
func TestStreamRouteRemoteAddrKeepsItsName(t *testing.T) {
	sr := func(addr string) model.Resource {
		return model.Resource{
			Key: model.Key{Kind: model.KindStreamRoute, ID: "sr"}, Name: "pg", Parent: model.Key{Kind: model.KindService, ID: "s"},
			Body: map[string]any{"name": "pg", "remote_addr": addr, "service_id": "s"},
		}
	}
	cs := diff.Compute([]model.Resource{sr("10.0.0.1")}, []model.Resource{sr("10.0.0.2")})
	if len(cs.Changes) != 1 || len(cs.Changes[0].Fields) != 1 || cs.Changes[0].Fields[0].Path != "/remote_addr" {
		t.Fatalf("want one change of /remote_addr, got %s", diff.Text(cs, diff.TextOptions{}))
	}
}

// An inline upstream's name is compared, except the one the backend gives
// an upstream the file leaves unnamed.
func TestInlineUpstreamName(t *testing.T) {
	svc := func(name string) model.Resource {
		up := map[string]any{"nodes": []any{map[string]any{"host": "h", "port": 80.0, "weight": 1.0}}}
		if name != "" {
			up["name"] = name
		}
		return model.Resource{Key: model.Key{Kind: model.KindService, ID: "s"}, Name: "shop", Body: map[string]any{"name": "shop", "upstream": up}}
	}
	tests := []struct {
		name       string
		want, live string
		changed    bool
	}{
		{"same name", "main", "main", false},
		{"renamed by hand", "main", "other", true},
		{"named by hand", "", "other", true},
		{"APISIX's name for an unnamed upstream", "", "shop", false},
		{"API7's name for an unnamed upstream", "", "default", false},
		{"a name of the file's that the backend drops", "shop", "", false},
	}
	// A service renamed by hand on APISIX: its upstream keeps the name the
	// last write gave it, the service's, which is not a change of its own.
	renamed := svc("shop")
	renamed.Body["name"] = "renamed"
	cs := diff.Compute([]model.Resource{svc("")}, []model.Resource{renamed})
	if len(cs.Changes) != 1 || len(cs.Changes[0].Fields) != 1 || cs.Changes[0].Fields[0].Path != "/name" {
		t.Errorf("service renamed by hand: want one change of /name, got %s", diff.Text(cs, diff.TextOptions{}))
	}
	for _, tt := range tests {
		cs := diff.Compute([]model.Resource{svc(tt.want)}, []model.Resource{svc(tt.live)})
		if cs.Empty() == tt.changed {
			t.Errorf("%s: changes = %s", tt.name, diff.Text(cs, diff.TextOptions{}))
			continue
		}
		if tt.changed && (len(cs.Changes) != 1 || len(cs.Changes[0].Fields) != 1 || cs.Changes[0].Fields[0].Path != "/upstream/name") {
			t.Errorf("%s: want one change of /upstream/name, got %s", tt.name, diff.Text(cs, diff.TextOptions{}))
		}
	}
}

// A route, stream route or extra upstream that moved to another service
// keeps its key: the move is a change of service_id.
func TestMovedToAnotherService(t *testing.T) {
	for _, k := range []model.Kind{model.KindRoute, model.KindStreamRoute, model.KindUpstream} {
		r := func(service string) model.Resource {
			res := model.Resource{Key: model.Key{Kind: k, ID: "x"}, Name: "x", Body: map[string]any{"name": "x"}}
			if service != "" {
				res.Parent = model.Key{Kind: model.KindService, ID: service}
			}
			return res
		}
		tests := []struct {
			name       string
			want, live string
			changed    bool
		}{
			{"same service", "a", "a", false},
			{"moved", "a", "b", true},
			{"taken out of its service", "a", "", true},
		}
		for _, tt := range tests {
			cs := diff.Compute([]model.Resource{r(tt.want)}, []model.Resource{r(tt.live)})
			if cs.Empty() == tt.changed {
				t.Errorf("%s %s: changes = %s", k, tt.name, diff.Text(cs, diff.TextOptions{}))
				continue
			}
			if tt.changed && (len(cs.Changes) != 1 || len(cs.Changes[0].Fields) != 1 || cs.Changes[0].Fields[0].Path != "/service_id" || cs.Changes[0].Fields[0].New != tt.want) {
				t.Errorf("%s %s: want one change of /service_id to %s, got %s", k, tt.name, tt.want, diff.Text(cs, diff.TextOptions{}))
			}
		}
	}
}
