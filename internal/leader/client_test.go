package leader

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NewClient reads a kubeconfig and reaches the Lease API it names, with the
// credentials it gives.
func TestNewClientFromKubeconfig(t *testing.T) {
	var gotAuth, gotPath, gotAgent string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotPath, gotAgent = r.Header.Get("Authorization"), r.URL.Path, r.Header.Get("User-Agent")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"reconciler-prod","namespace":"ns"},"spec":{"holderIdentity":"a_1","leaseDurationSeconds":15}}`))
	}))
	defer srv.Close()
	ca := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: "`+srv.URL+`", certificate-authority-data: "`+ca+`"}
users:
- name: test
  user: {token: canary-token}
contexts:
- name: test
  context: {cluster: test, user: test}
current-context: test
`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.Leases("ns").Get(context.Background(), "reconciler-prod", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != "a_1" {
		t.Errorf("lease %+v", l.Spec)
	}
	if gotPath != "/apis/coordination.k8s.io/v1/namespaces/ns/leases/reconciler-prod" {
		t.Errorf("path %s", gotPath)
	}
	if gotAuth != "Bearer canary-token" {
		t.Errorf("Authorization %q, want the kubeconfig's token", gotAuth)
	}
	if !strings.HasPrefix(gotAgent, "reconciler") {
		t.Errorf("User-Agent %q", gotAgent)
	}
}

func TestNewClientErrors(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	if _, err := NewClient(""); err == nil || !strings.Contains(err.Error(), "--kubeconfig") {
		t.Errorf("NewClient outside a cluster: %v, want an error pointing at --kubeconfig", err)
	}
	missing := filepath.Join(t.TempDir(), "nope")
	if _, err := NewClient(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("NewClient with a missing kubeconfig: %v, want an error naming it", err)
	}
}

// client-go's messages reach zap: verbosity 0 as info, more as debug, errors
// as warnings, their key-value pairs under "k8s".
func TestLogAdapter(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	l := newLogr(zap.New(core)).WithValues("lock", "ns/reconciler-prod").WithName("elector")
	l.Info("Attempting to acquire leader lease...")
	l.V(4).Info("Failed to acquire lease", "holder", "b_2")
	l.Error(errors.New("conflict"), "Failed to update lease")
	entries := logs.AllUntimed()
	if len(entries) != 3 {
		t.Fatalf("%d entries, want 3", len(entries))
	}
	want := []zapcore.Level{zapcore.InfoLevel, zapcore.DebugLevel, zapcore.WarnLevel}
	for i, e := range entries {
		if e.Level != want[i] {
			t.Errorf("entry %d %q at %v, want %v", i, e.Message, e.Level, want[i])
		}
		if e.LoggerName != "leader.elector" {
			t.Errorf("logger name %q", e.LoggerName)
		}
		k8s, ok := e.ContextMap()["k8s"].(map[string]any)
		if !ok || k8s["lock"] != "ns/reconciler-prod" {
			t.Errorf("entry %d fields %v, want k8s.lock", i, e.ContextMap())
		}
	}
	if entries[2].ContextMap()["error"] != "conflict" {
		t.Errorf("error field %v", entries[2].ContextMap())
	}
	quiet := newLogr(zap.New(core).WithOptions(zap.IncreaseLevel(zapcore.InfoLevel)))
	if quiet.V(4).Enabled() {
		t.Error("debug enabled on an info logger")
	}
}

func TestNamespaceFrom(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "namespace")
	if err := os.WriteFile(good, []byte("gateway-reconciler\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if ns, err := namespaceFrom(good); err != nil || ns != "gateway-reconciler" {
		t.Errorf("namespaceFrom = %q, %v", ns, err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{empty, filepath.Join(dir, "missing")} {
		if _, err := namespaceFrom(p); err == nil {
			t.Errorf("namespaceFrom(%s) accepted it", p)
		}
	}
}
