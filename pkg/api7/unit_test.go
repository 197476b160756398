package api7

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

func TestAPIError(t *testing.T) {
	tests := []struct {
		name                         string
		err                          *APIError
		notFound, unauthorized       bool
		retryable, stillRef, throttl bool
	}{
		{"404", &APIError{StatusCode: 404, Message: "Key not found"}, true, false, false, false, false},
		{"401", &APIError{StatusCode: 401, Message: "failed to check token"}, false, true, false, false, false},
		{"429", &APIError{StatusCode: 429}, false, false, true, false, true},
		{"503", &APIError{StatusCode: 503}, false, false, true, false, false},
		{"still used", &APIError{StatusCode: 400, Message: "can not delete this service directly, route [1] is still using it now"}, false, false, false, true, false},
		{"still used as superior", &APIError{StatusCode: 400, Message: "can not delete this stream route directly, stream route [2] is still using it as superior_id"}, false, false, false, true, false},
		{"400", &APIError{StatusCode: 400, Message: "unknown plugin [x]"}, false, false, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wrapped := fmt.Errorf("put route/x: %w", tt.err)
			if errors.Is(wrapped, ErrNotFound) != tt.notFound || errors.Is(wrapped, ErrUnauthorized) != tt.unauthorized {
				t.Errorf("Is: notFound %v unauthorized %v", errors.Is(wrapped, ErrNotFound), errors.Is(wrapped, ErrUnauthorized))
			}
			var api *APIError
			if !errors.As(wrapped, &api) {
				t.Fatal("As failed through wrapping")
			}
			if api.Retryable() != tt.retryable || api.StillReferenced() != tt.stillRef || api.Throttled() != tt.throttl {
				t.Errorf("retryable %v still %v throttled %v", api.Retryable(), api.StillReferenced(), api.Throttled())
			}
			// apply tests behaviour through small interfaces.
			var r interface{ Retryable() bool }
			var s interface{ StillReferenced() bool }
			if !errors.As(wrapped, &r) || !errors.As(wrapped, &s) {
				t.Error("behaviour interfaces not found through wrapping")
			}
		})
	}
	var o interface{ OwnershipConflict() bool }
	if !errors.As(fmt.Errorf("x: %w", &OwnershipError{}), &o) || !o.OwnershipConflict() {
		t.Error("ownership interface")
	}
}

func TestErrorMessage(t *testing.T) {
	tests := map[string]string{
		`{"error_msg":"unknown plugin [x]"}`:                                 "unknown plugin [x]",
		`{"message":"Key not found"}`:                                        "Key not found",
		"page_size must be between 10 and 500":                               "page_size must be between 10 and 500",
		"<html><body>500 Internal Server Error</body></html>":                "",
		`{"error_msg":"failed to check token","description":"wrong apikey"}`: "failed to check token",
	}
	for in, want := range tests {
		if got := errorMessage([]byte(in)); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	tests := map[string]time.Duration{
		"":                              0,
		"2":                             2 * time.Second,
		"0":                             0,
		"-1":                            0,
		"nonsense":                      0,
		"1.5":                           1500 * time.Millisecond,
		"3600":                          time.Minute, // capped
		"Sun, 29 Nov 2026 12:00:10 GMT": 10 * time.Second,
		"Sun, 29 Nov 2026 11:00:00 GMT": 0,
	}
	for in, want := range tests {
		h := http.Header{}
		if in != "" {
			h.Set("Retry-After", in)
		}
		if got := retryAfter(h, now, time.Minute); got != want {
			t.Errorf("%q: got %s, want %s", in, got, want)
		}
	}
}

func TestBackoff(t *testing.T) {
	p := RetryPolicy{}.withDefaults()
	for n := range 10 {
		for range 50 {
			d := p.backoff(n)
			limit := min(p.MaxDelay, p.BaseDelay<<n)
			if d < 0 || d > limit {
				t.Fatalf("backoff(%d) = %s outside [0, %s]", n, d, limit)
			}
		}
	}
	if (RetryPolicy{MaxRetries: 10}).withDefaults().MaxRetries != 3 {
		t.Error("more than 3 retries allowed")
	}
	if (RetryPolicy{MaxRetries: -1}).withDefaults().MaxRetries != 0 {
		t.Error("negative retries")
	}
}

func TestLimiterAIMD(t *testing.T) {
	l := newLimiter(8)
	ctx := context.Background()
	take := func() time.Time {
		s, err := l.acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// A burst of 429s from requests sent together halves the bound once.
	starts := []time.Time{take(), take(), take()}
	for _, s := range starts {
		l.release(s, true, false)
	}
	if got := l.current(); got != 4 {
		t.Fatalf("after one throttled round: %d, want 4", got)
	}
	// A request sent after the decrease halves it again.
	l.release(take(), true, false)
	if got := l.current(); got != 2 {
		t.Fatalf("after a second round: %d, want 2", got)
	}
	// Successes grow it back by about one per bound's worth.
	for range 40 {
		l.release(take(), false, true)
	}
	if got := l.current(); got != 8 {
		t.Fatalf("after successes: %d, want 8", got)
	}
	// The bound is enforced: a ninth waiter blocks until ctx ends.
	for range 8 {
		take()
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := l.acquire(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("over the bound: %v", err)
	}
}

func TestGateWatchesContext(t *testing.T) {
	var g gate
	g.close(time.Now().Add(time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := g.wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	g.close(time.Now().Add(-time.Hour)) // never moves the window back
	if err := g.wait(ctx); err == nil {
		t.Fatal("the window was moved back")
	}
}

func TestConfig(t *testing.T) {
	ok := Config{Server: "https://gw.example:9180/prefix/", Token: canarySecret()}
	got, err := ok.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if got.Backend != BackendAPISIX || got.TokenTransport != TokenHeader || got.Concurrency != DefaultConcurrency ||
		got.Timeout != DefaultTimeout || got.ManagedBy != DefaultManagedBy || got.GatewayGroup != DefaultGroup {
		t.Errorf("defaults: %+v", got)
	}
	bad := map[string]Config{
		"no server":         {Token: canarySecret()},
		"ftp":               {Server: "ftp://x", Token: canarySecret()},
		"user info":         {Server: "https://u:p@x", Token: canarySecret()},
		"query":             {Server: "https://x/?api_key=1", Token: canarySecret()},
		"fragment":          {Server: "https://x/#f", Token: canarySecret()},
		"no token":          {Server: "https://x"},
		"two tokens":        {Server: "https://x", Token: canarySecret(), TokenFile: "/f"},
		"backend":           {Server: "https://x", Token: canarySecret(), Backend: "kong"},
		"transport":         {Server: "https://x", Token: canarySecret(), TokenTransport: "query"},
		"page size":         {Server: "https://x", Token: canarySecret(), PageSize: 5},
		"managed-by spaces": {Server: "https://x", Token: canarySecret(), ManagedBy: "a b"},
		"negative timeout":  {Server: "https://x", Token: canarySecret(), Timeout: -time.Second},
	}
	for name, cfg := range bad {
		if _, err := cfg.withDefaults(); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			noLeakErr(t, err)
		}
	}
}

func TestParseVersion(t *testing.T) {
	tests := map[string][3]int{
		"3.18.0":      {3, 18, 0},
		"3.9.14":      {3, 9, 14},
		"3.13.0-rc1":  {3, 13, 0},
		"3.2":         {3, 2, 0},
		"dev":         {latest, 0, 0},
		"":            {latest, 0, 0},
		"three.x.y":   {latest, 0, 0},
		"3.18.0.1234": {3, 18, 0},
	}
	for in, want := range tests {
		v := parseVersion(BackendAPISIX, in)
		if got := [3]int{v.Major, v.Minor, v.Patch}; got != want {
			t.Errorf("%q: got %v, want %v", in, got, want)
		}
	}
	v := parseVersion(BackendAPISIX, "3.13.2")
	if !v.AtLeast(3, 13, 0) || v.AtLeast(3, 14, 0) || !v.AtLeast(2, 99, 99) || v.AtLeast(3, 13, 3) {
		t.Error("AtLeast")
	}
}

func TestApplyDefaults(t *testing.T) {
	body := map[string]any{
		"upstream": map[string]any{"nodes": []any{map[string]any{"host": "a"}, map[string]any{"host": "b", "priority": 5.0}}, "type": "chash"},
	}
	applyDefaults(body, map[string]any{
		"upstream": lintUpstream(),
		"hosts":    []any{"x"},
		"plugins":  map[string]any{"cors": map[string]any{"max_age": 5.0}},
	})
	want := map[string]any{
		"hosts": []any{"x"},
		"upstream": map[string]any{
			"type": "chash", "scheme": "http", "pass_host": "pass",
			"nodes": []any{map[string]any{"host": "a", "priority": 0.0}, map[string]any{"host": "b", "priority": 5.0}},
		},
	}
	if diff := cmp.Diff(want, body); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestSchemaDefaults(t *testing.T) {
	schema := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"header":  map[string]any{"type": "string", "default": "apikey"},
			"nothing": map[string]any{"type": "string"},
			"nested":  map[string]any{"type": "object", "properties": map[string]any{"size": map[string]any{"type": "integer", "default": 320.0}}},
			"empty":   map[string]any{"type": "object", "properties": map[string]any{"x": map[string]any{"type": "string"}}},
			"nodes":   map[string]any{"type": "array", "items": map[string]any{"type": "object", "properties": map[string]any{"priority": map[string]any{"default": 0.0}}}},
		},
		"allOf": []any{map[string]any{"properties": map[string]any{"extra": map[string]any{"default": true}}}},
	}
	want := map[string]any{
		"header": "apikey",
		"nested": map[string]any{"size": 320.0},
		"nodes":  []any{map[string]any{"priority": 0.0}},
		"extra":  true,
	}
	if diff := cmp.Diff(want, schemaDefaults(schema)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDefaultsForVersions(t *testing.T) {
	d18 := apisixDefaults(v318, apisix313Plugins(), apisix313ConsumerPlugins())
	if d18.Plugins != nil || d18.Kinds[model.KindRoute] != nil {
		t.Errorf("3.18 stores no defaults: %+v", d18)
	}
	d13 := apisixDefaults(parseVersion(BackendAPISIX, "3.13.0"), apisix313Plugins(), apisix313ConsumerPlugins())
	if d13.Plugins["key-auth"] != nil {
		t.Error("key-auth's route defaults must not apply to consumers")
	}
	rk := d13.Kinds[model.KindRoute]["plugins"].(map[string]any)["key-auth"].(map[string]any)
	if rk["header"] != "apikey" {
		t.Errorf("route key-auth defaults %v", rk)
	}
	if d13.Plugins["cors"]["max_age"] != 5.0 {
		t.Errorf("cors %v", d13.Plugins["cors"])
	}
}
