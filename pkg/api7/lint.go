package api7

import "github.com/gitops-gateway/reconciler/pkg/model"

// ADC's lint step (its Zod schema's defaults, libs/sdk/src/core/schema.ts)
// replaces the local configuration with its parsed output before any
// request is built, so every body ADC sends carries these values. The
// Client fills them in the same way when it writes, which keeps its bodies
// byte for byte ADC's, and reports them through Defaults so a diff treats
// an omitted field and its default as equal.

// lintUpstreamDefaults and lintSSLDefaults are the tables every write
// applies; only read (applyDefaults copies what it takes from them).
var (
	lintUpstreamDefaults = lintUpstream()
	lintSSLDefaults      = lintSSL()
)

// lintUpstream is the default of an upstream (the inline one of a service
// and the extra named ones), in the terms of applyDefaults.
func lintUpstream() map[string]any {
	passiveHealthy := func() map[string]any {
		return map[string]any{"http_statuses": []any{200.0, 302.0}, "successes": 2.0}
	}
	passiveUnhealthy := func() map[string]any {
		return map[string]any{
			"http_statuses": []any{429.0, 404.0, 500.0, 501.0, 502.0, 503.0, 504.0, 505.0},
			"http_failures": 5.0, "tcp_failures": 2.0, "timeouts": 3.0,
		}
	}
	activeHealthy := passiveHealthy()
	activeHealthy["interval"] = 1.0
	activeUnhealthy := passiveUnhealthy()
	activeUnhealthy["interval"] = 1.0
	return map[string]any{
		"type":      "roundrobin",
		"scheme":    "http",
		"pass_host": "pass",
		"nodes":     []any{map[string]any{"priority": 0.0}},
		"keepalive_pool": map[string]any{
			"size": 320.0, "idle_timeout": 60.0, "requests": 1000.0,
		},
		"checks": map[string]any{
			"active": map[string]any{
				"type": "http", "timeout": 1.0, "concurrency": 10.0, "http_path": "/",
				"https_verify_certificate": true,
				"healthy":                  activeHealthy,
				"unhealthy":                activeUnhealthy,
			},
			"passive": map[string]any{
				"type":      "http",
				"healthy":   passiveHealthy(),
				"unhealthy": passiveUnhealthy(),
			},
		},
	}
}

// lintSSL is the default of an SSL object.
func lintSSL() map[string]any {
	return map[string]any{"type": "server", "client": map[string]any{"depth": 1.0}}
}

// lintDefaults returns ADC's lint defaults per kind, fresh.
func lintDefaults() map[model.Kind]map[string]any {
	return map[model.Kind]map[string]any{
		model.KindService:  {"upstream": lintUpstream()},
		model.KindUpstream: lintUpstream(),
		model.KindSSL:      lintSSL(),
	}
}
