package git

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
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
