package api7

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

// A retried answer's message may quote what the request sent; the retry's
// debug line gives its status only.
func TestRetryLogOmitsServerMessage(t *testing.T) {
	const quoted = "quoted-request-value-7f3a"
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error_msg":"failed to match pattern with \"` + quoted + `\""}`))
	}))
	logs := &syncBuffer{}
	c, err := New(Config{
		Server: srv.URL, Token: model.NewSecret(canary), Logger: debugLogger(logs),
		Retry: RetryPolicy{MaxRetries: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.List(ctxFor(t, 10*time.Second)); err == nil {
		t.Fatal("List succeeded against a server answering 503")
	}
	out := logs.String()
	if !strings.Contains(out, "retrying") || !strings.Contains(out, "503") {
		t.Fatalf("no retry line with the status in the debug log:\n%s", out)
	}
	if strings.Contains(out, quoted) {
		t.Errorf("the debug log quotes the server's message:\n%s", out)
	}
}
