package git

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// secretForms are the ways a credential could show: as written, URL-
// encoded, base64 (alone and as basic-auth user:password), and its first
// part alone (a password holding '/', '?' or '#' is cut there by a URL
// parser, which then quotes the first part as a port).
func secretForms(user, secret string) []string {
	forms := []string{
		secret,
		url.QueryEscape(secret),
		url.PathEscape(secret),
		base64.StdEncoding.EncodeToString([]byte(secret)),
		base64.StdEncoding.EncodeToString([]byte(user + ":" + secret)),
	}
	if i := strings.IndexAny(secret, "/?#"); i > 0 {
		forms = append(forms, secret[:i])
	}
	return forms
}

// TestCredentialInURLNeverShown (reliability A2, charter: no secret in
// URLs or errors): whatever shape a password in a repository URL takes,
// New refuses the URL with an error that does not repeat it, and Redact
// renders the URL without it.
func TestCredentialInURLNeverShown(t *testing.T) {
	t.Parallel()
	for _, pw := range []string{
		"CANARYpw51",
		"CANARY/pw52",   // ends the authority early: parsed as host "alice", port "CANARY"
		"CANARY?pw53",   // the same with a query
		"CANARY#pw54",   // the same with a fragment
		"CANARY@pw55",   // a second '@'
		"CANARY%zzpw56", // an invalid escape
		"CANARY%2Fpw57", // a valid escape
	} {
		for _, raw := range []string{
			"https://alice:" + pw + "@example.com/r.git",
			"https://alice:" + pw + "@example.com:8443/r.git",
			"http://alice:" + pw + "@[::1]:3000/r.git",
			"ssh://git:" + pw + "@example.com/r.git",
			"alice:" + pw + "@example.com:org/r.git", // scp-like, as people write it
			"htps://alice:" + pw + "@example.com/r.git",
		} {
			t.Run(raw, func(t *testing.T) {
				_, err := New(Options{URL: raw})
				if err == nil {
					t.Fatal("a URL with a password was accepted")
				}
				shown := Redact(raw)
				for _, f := range secretForms("alice", pw) {
					if strings.Contains(err.Error(), f) {
						t.Errorf("the error shows %q: %v", f, err)
					}
					if strings.Contains(shown, f) {
						t.Errorf("Redact shows %q: %s", f, shown)
					}
				}
				if !strings.Contains(shown, "example.com") && !strings.Contains(shown, "::1") {
					t.Errorf("Redact lost the host: %s", shown)
				}
			})
		}
	}
}

// TestRedact: what Redact keeps of a URL: scheme, host, port and path,
// and local directories untouched.
func TestRedact(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"https://example.com/r.git", "https://example.com/r.git"},
		{"https://alice@example.com:8443/r.git", "https://example.com:8443/r.git"},
		{"https://alice:pw@example.com/r.git", "https://***@example.com/r.git"},
		{"https://alice:p/w@example.com/r.git", "https://***@example.com/r.git"},
		{"https://example.com/r.git?access_token=tok#frag", "https://example.com/r.git"},
		{"git@example.com:org/r.git", "example.com:org/r.git"},
		{"alice:pw@example.com:org/r.git", "***@example.com:org/r.git"},
		{"ssh://git@example.com/~u/r.git", "ssh://example.com/~u/r.git"},
		{"/srv/config", "/srv/config"},
		{"./config", "./config"},
	} {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestRedirectDropsCredentials (reliability A2): a server that redirects
// the reference advertisement to another origin (another host or port, as
// a compromised or misconfigured front end would) never receives the token
// or password: the credentials stay with the origin they were given for,
// on the advertisement and on the pack request that follows it.
func TestRedirectDropsCredentials(t *testing.T) {
	t.Parallel()
	const user, secret = "alice", "CANARYredir61"
	root := t.TempDir()
	repo := newTestRepo(t, root, "redirected")
	repo.commitFiles("one", map[string]string{"a.yaml": "a: 1\n"})

	// The other origin serves the repository to anyone, and records every
	// header it is sent.
	anon := newHTTPServer(t, root, false)
	var mu sync.Mutex
	var seen []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		for name, vs := range req.Header {
			seen = append(seen, name+": "+strings.Join(vs, ","))
		}
		if req.URL.User != nil {
			seen = append(seen, "userinfo: "+req.URL.User.String())
		}
		mu.Unlock()
		anon.Config.Handler.ServeHTTP(w, req)
	}))
	t.Cleanup(other.Close)

	// The origin checks the credentials, then sends everything elsewhere.
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		u, p, basic := req.BasicAuth()
		if req.Header.Get("Authorization") != "Bearer "+secret && !(basic && u == user && p == secret) {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		http.Redirect(w, req, other.URL+req.URL.RequestURI(), http.StatusFound)
	}))
	t.Cleanup(origin.Close)

	dir := t.TempDir()
	secretFile := writeFile(t, filepath.Join(dir, "secret"), secret+"\n")
	for name, auth := range map[string]Auth{
		"bearer token": {TokenFile: secretFile},
		"basic":        {Username: user, PasswordFile: secretFile},
	} {
		t.Run(name, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			src := newSource(t, Options{URL: origin.URL + "/" + repo.name, Auth: auth})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			r, err := src.Fetch(ctx)
			if err != nil {
				// Refusing the redirect would be as safe; following it must
				// not take the credentials along.
				t.Logf("fetch: %v", err)
			} else if fsFiles(t, r)["a.yaml"] != "a: 1\n" {
				t.Errorf("files %v", fsFiles(t, r))
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) == 0 {
				t.Fatal("the redirect was not followed: the test proves nothing")
			}
			for _, h := range seen {
				for _, f := range secretForms(user, secret) {
					if strings.Contains(h, f) {
						t.Errorf("the other origin was sent %s", h)
					}
				}
			}
		})
	}
}
