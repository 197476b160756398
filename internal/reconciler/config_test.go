package reconciler

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gitops-gateway/reconciler/internal/metrics"
	"github.com/gitops-gateway/reconciler/pkg/apply"
)

const goodConfig = `targets:
  - name: prod-default
    source:
      url: https://git.example.com/platform/gateway-config.git
      ref: main
      path: gateways/prod
      auth: {tokenFile: /var/run/secrets/git/token}
      verify: {mode: head, pgpKeyringFile: /etc/keys.asc}
    gateway:
      backend: api7ee
      server: https://api7.example.com:7443
      tokenFile: /var/run/secrets/api7/token
      gatewayGroup: default
      caCertFile: /etc/reconciler/ca.pem
    sync:
      interval: 30s
      mode: detect
      prune: true
      maxDeletes: 20
      maxDeletePercent: 10
      managedBy: reconciler
      allowHistoryRewrite: false
      acceptHistoryRewrite: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
      deletionGuardOverride: cccccccccccccccccccccccccccccccccccccccc
      ignore:
        - kind: upstream
          name: "*"
          paths: ["/nodes"]
    webhook:
      secretFile: /var/run/secrets/webhook
  - name: staging
    source: {url: ./config}
    gateway: {server: http://127.0.0.1:9180, tokenFile: /tmp/t}
    sync: {prune: false}
`

func TestParseConfig(t *testing.T) {
	cfg, err := ParseConfig("daemon.yaml", []byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Targets) != 2 {
		t.Fatalf("%d targets", len(cfg.Targets))
	}
	p := cfg.Targets[0]
	if p.Line != 2 || p.Name != "prod-default" || p.Source.Auth.TokenFile != "/var/run/secrets/git/token" ||
		p.Gateway.Backend != "api7ee" || time.Duration(p.Sync.Interval) != 30*time.Second || p.Sync.Mode != "detect" ||
		!*p.Sync.Prune || *p.Sync.MaxDeletes != 20 || *p.Sync.MaxDeletePercent != 10 || p.Webhook.SecretFile == "" {
		t.Errorf("first target = %+v", p)
	}
	if d := cmp.Diff([]IgnoreSpec{{Kind: "upstream", Name: "*", Paths: []string{"/nodes"}}}, p.Sync.Ignore); d != "" {
		t.Errorf("ignore (-want +got):\n%s", d)
	}
	if p.Sync.AcceptHistoryRewrite != strings.Repeat("b", 40) || *p.Sync.AllowHistoryRewrite || p.Sync.DeletionGuardOverride != strings.Repeat("c", 40) {
		t.Errorf("history and override settings = %+v", p.Sync)
	}
	s := cfg.Targets[1]
	// Defaults.
	if s.Line != 31 || s.Gateway.Backend != "apisix" || time.Duration(s.Sync.Interval) != time.Minute || s.Sync.Mode != "apply" ||
		*s.Sync.Prune || *s.Sync.MaxDeletes != 50 || *s.Sync.MaxDeletePercent != 25 || s.Sync.ManagedBy != "reconciler" ||
		!*s.Sync.AllowHistoryRewrite {
		t.Errorf("defaults = %+v", s)
	}
}

func TestParseConfigErrors(t *testing.T) {
	base := "targets:\n  - name: a\n    source: {url: ./x}\n    gateway: {server: http://h, tokenFile: /t}\n    sync: {prune: true}\n"
	tests := []struct {
		name, config string
		want         []string
	}{
		{"unknown field", strings.Replace(base, "prune: true", "prune: true, prun: false", 1), []string{"line 5", "prun"}},
		{"inline token refused", strings.Replace(base, "tokenFile: /t", "tokenFile: /t, token: abc", 1), []string{"line 4", "field token not found"}},
		{"tls skip verify only from flags", strings.Replace(base, "tokenFile: /t", "tokenFile: /t, tlsSkipVerify: true", 1), []string{"tlsSkipVerify"}},
		{"prune must be stated", strings.Replace(base, "sync: {prune: true}", "sync: {}", 1), []string{`daemon.yaml:2: target "a": sync.prune: required`}},
		{"no targets", "targets: []\n", []string{"no targets"}},
		{"bad name", strings.Replace(base, "name: a", "name: A/b", 1), []string{"name: want"}},
		{"bad mode", strings.Replace(base, "prune: true", "prune: true, mode: fix", 1), []string{`mode "fix"`}},
		{"bad interval", strings.Replace(base, "prune: true", "prune: true, interval: soon", 1), []string{`"soon" is not a duration`}},
		{"short interval", strings.Replace(base, "prune: true", "prune: true, interval: 10ms", 1), []string{"at least 1s"}},
		{"no server", strings.Replace(base, "server: http://h, ", "", 1), []string{"gateway.server: required"}},
		{"server with the admin path", strings.Replace(base, "server: http://h", "server: http://h/apisix/admin/", 1), []string{`gateway.server "http://h/apisix/admin/"`, "without /apisix/admin"}},
		{"server without a scheme", strings.Replace(base, "server: http://h", "server: h:9180", 1), []string{"want a URL such as"}},
		{"no token file", strings.Replace(base, ", tokenFile: /t", "", 1), []string{"gateway.tokenFile: required"}},
		{"no source", strings.Replace(base, "source: {url: ./x}", "source: {}", 1), []string{"source.url: required"}},
		{"bad backend", strings.Replace(base, "server: http://h", "server: http://h, backend: kong", 1), []string{`backend "kong"`}},
		{"bad token transport", strings.Replace(base, "server: http://h", "server: http://h, tokenTransport: query", 1), []string{`gateway.tokenTransport "query": want header or cookie`}},
		{"bad ignore rule", strings.Replace(base, "prune: true", "prune: true, ignore: [{kind: route}]", 1), []string{"sync.ignore", "no paths"}},
		{"duplicate names", base + "  - name: a\n    source: {url: ./y}\n    gateway: {server: http://i, tokenFile: /t}\n    sync: {prune: true}\n", []string{"daemon.yaml:6", "also used at line 2"}},
		{"two targets on one gateway", base + "  - name: b\n    source: {url: ./y}\n    gateway: {server: http://h, tokenFile: /t}\n    sync: {prune: true}\n", []string{`same managedBy as target "a"`}},
		{"acceptance while following rewrites", strings.Replace(base, "prune: true", "prune: true, acceptHistoryRewrite: "+strings.Repeat("a", 40), 1), []string{"sync.acceptHistoryRewrite", "followed anyway"}},
		{"acceptance of a short hash", strings.Replace(base, "prune: true", "prune: true, allowHistoryRewrite: false, acceptHistoryRewrite: abc1234", 1), []string{"full 40-digit hash"}},
		{"override of a short hash", strings.Replace(base, "prune: true", "prune: true, deletionGuardOverride: abc1234", 1), []string{"sync.deletionGuardOverride", "full hash"}},
		{"not yaml", "targets: [", []string{"daemon.yaml"}},
		{"too large", strings.Repeat("#", MaxConfigSize+1), []string{"larger than"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig("daemon.yaml", []byte(tt.config))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("error does not match ErrConfig: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(goodConfig))
	f.Add([]byte("targets:\n  - name: a\n    sync: {prune: true}\n"))
	f.Add([]byte("targets: [{name: x, sync: {interval: 1h}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig("f.yaml", data)
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("error does not match ErrConfig: %v", err)
			}
			return
		}
		// A parsed configuration is complete: every target has what the
		// daemon needs.
		for _, tg := range cfg.Targets {
			if !validName(tg.Name) || tg.Sync.Prune == nil || tg.Sync.MaxDeletes == nil || tg.Gateway.TokenFile == "" ||
				time.Duration(tg.Sync.Interval) < time.Second {
				t.Fatalf("incomplete target accepted: %+v", tg)
			}
		}
	})
}

// reconciler_deletes_blocked_total is exported at 0 for the deletion
// guards of pkg/apply: the two lists agree.
func TestDeletionGuardReasonsMatchApply(t *testing.T) {
	var guards []string
	for _, r := range []apply.Reason{apply.ReasonPruneDisabled, apply.ReasonMaxDeletes, apply.ReasonMaxDeletePercent,
		apply.ReasonEmptyDesired, apply.ReasonIncompleteListing, apply.ReasonOwnershipConflict} {
		if errors.Is(&apply.RefusalError{Reason: r}, apply.ErrDeletionGuard) {
			guards = append(guards, string(r))
		}
	}
	if d := cmp.Diff(guards, metrics.DeletionGuardReasons()); d != "" {
		t.Errorf("deletion guards (-apply +metrics):\n%s", d)
	}
}

// Every problem Check finds is a *FieldError naming the field, so that a
// target built from flags can name the flag instead.
func TestCheckErrorsNameTheirField(t *testing.T) {
	neg, pct := -1, -5.0
	spec := TargetSpec{
		Name:    "Bad Name",
		Gateway: GatewaySpec{Backend: "kong", Concurrency: -1},
		Sync: SyncSpec{
			Interval: Duration(time.Millisecond), Mode: "fix", MaxDeletes: &neg, MaxDeletePercent: &pct,
			DeletionGuardOverride: "abc", Ignore: []IgnoreSpec{{Kind: "route"}},
		},
	}
	var fields []string
	for _, err := range spec.Check() {
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Fatalf("not a *FieldError: %v", err)
		}
		if !strings.HasPrefix(err.Error(), fe.Field) {
			t.Errorf("%q does not start with its field %q", err, fe.Field)
		}
		fields = append(fields, fe.Field)
	}
	want := []string{"name", "source.url", "gateway.backend", "gateway.server", "gateway.concurrency", "sync.interval", "sync.mode",
		"sync.prune", "sync.maxDeletePercent", "sync.deletionGuardOverride", "sync.ignore"}
	if strings.Join(fields, " ") != strings.Join(want, " ") {
		t.Errorf("fields %v, want %v", fields, want)
	}
}

func TestServerURLProblem(t *testing.T) {
	tests := []struct {
		backend, url string
		want         string // "" for none
	}{
		{"apisix", "http://127.0.0.1:9180", ""},
		{"apisix", "https://proxy.example.com/gw/", ""},
		{"apisix", "https://proxy.example.com/api", ""}, // a proxy's prefix
		{"apisix", "http://127.0.0.1:9180/apisix/admin/", "without /apisix/admin"},
		{"api7ee", "https://api7.example.com:7443/api", "without /api"},
		{"api7ee", "https://api7.example.com:7443/apisix/admin", "without /apisix/admin"},
		{"apisix", "127.0.0.1:9180", "want a URL"},
		{"apisix", "apisix-admin", "want a URL"},
	}
	for _, tt := range tests {
		got := ServerURLProblem(tt.backend, tt.url)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("ServerURLProblem(%s, %s) = %q, want %q", tt.backend, tt.url, got, tt.want)
		}
	}
}
