package git

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

func TestParseRemote(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in                     string
		scheme                 scheme
		user, host, path, show string
		port                   int
	}{
		{"https://git.example.com/org/repo.git", schemeHTTPS, "", "git.example.com", "/org/repo.git", "https://git.example.com/org/repo.git", 0},
		{"HTTPS://git.example.com:8443/repo", schemeHTTPS, "", "git.example.com", "/repo", "https://git.example.com:8443/repo", 8443},
		{"https://deploy@git.example.com/r.git", schemeHTTPS, "deploy", "git.example.com", "/r.git", "https://git.example.com/r.git", 0},
		{"http://127.0.0.1:3000/r.git", schemeHTTP, "", "127.0.0.1", "/r.git", "http://127.0.0.1:3000/r.git", 3000},
		{"ssh://git@github.com/org/repo.git", schemeSSH, "git", "github.com", "/org/repo.git", "ssh://github.com/org/repo.git", 0},
		{"ssh://git@[::1]:2222/r.git", schemeSSH, "git", "::1", "/r.git", "ssh://[::1]:2222/r.git", 2222},
		{"ssh://host/~alice/r.git", schemeSSH, "", "host", "~alice/r.git", "ssh://host/~alice/r.git", 0},
		{"git@github.com:org/repo.git", schemeSSH, "git", "github.com", "org/repo.git", "github.com:org/repo.git", 0},
		{"github.com:org/repo.git", schemeSSH, "", "github.com", "org/repo.git", "github.com:org/repo.git", 0},
		{"git://127.0.0.1/r.git", schemeGit, "", "127.0.0.1", "/r.git", "git://127.0.0.1/r.git", 0},
		{"file:///srv/git/r.git", schemeFile, "", "", "/srv/git/r.git", "file:///srv/git/r.git", 0},
		{"file://localhost/srv/r.git", schemeFile, "", "", "/srv/r.git", "file:///srv/r.git", 0},
	} {
		t.Run(tt.in, func(t *testing.T) {
			r, err := parseRemote(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if r.scheme != tt.scheme || r.user != tt.user || r.host != tt.host || r.path != tt.path || r.port != tt.port {
				t.Errorf("got %+v", r)
			}
			if r.String() != tt.show {
				t.Errorf("String() = %q, want %q", r.String(), tt.show)
			}
			if !IsGitURL(tt.in) {
				t.Error("IsGitURL = false")
			}
		})
	}
	for _, tt := range []struct{ in, want string }{
		{"", "empty"},
		{"./config", "not a Git URL"},
		{"/srv/config", "not a Git URL"},
		{"ftp://host/r.git", "unsupported URL scheme"},
		{"ext::sh -c evil", "whitespace"},
		{"https://user:hunter2@host/r.git", "holds a password"},
		{"ssh://git:hunter2@host/r.git", "holds a password"},
		{"https://host/r.git?x=1", "query"},
		{"https://host", "no path"},
		{"https:///r.git", "no host"},
		{"git://user@host/r.git", "must not have a user"},
		{"file://remote/r.git", "only local paths"},
		{"ssh://-oProxyCommand=evil/r.git", "must not start with '-'"},
		{"-oProxyCommand=x:repo", "must not start with '-'"},
		{"https://host:99999/r.git", "invalid port"},
	} {
		t.Run("refuse "+tt.in, func(t *testing.T) {
			_, err := parseRemote(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the password is in the error: %v", err)
			}
		})
	}
	for _, local := range []string{"./config", "/srv/config", "config", "C-drive/x"} {
		if IsGitURL(local) {
			t.Errorf("IsGitURL(%q) = true", local)
		}
	}
}

// FuzzParseRemote: parsing never panics; a URL with a password is always
// refused, and neither the error nor anything else repeats the password.
func FuzzParseRemote(f *testing.F) {
	for _, s := range []string{"https://u:pw12@h/r.git", "git@h:r.git", "ssh://h:22/~u/r", "file:///r", "h:", "[::1]:r", "https://h/%zz", "ssh://a:b:c@h/r"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r, err := parseRemote(in)
		var password string
		if u, perr := url.Parse(in); perr == nil && u.User != nil && strings.Contains(in, "://") {
			password, _ = u.User.Password()
		}
		if err == nil {
			if r.validate() != nil {
				t.Fatalf("accepted an invalid remote %+v", r)
			}
			if password != "" {
				t.Fatalf("accepted %q, which holds a password", in)
			}
			return
		}
		if len(password) >= 4 && strings.Count(in, password) == 1 && strings.Contains(err.Error(), password) {
			t.Fatalf("error %q repeats the password of %q", err, in)
		}
	})
}

func TestParseRefSpec(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		kind refKind
	}{
		{"", refHead}, {"HEAD", refHead}, {"main", refShort}, {"feature/x", refShort},
		{"refs/heads/main", refBranch}, {"refs/tags/v1", refTag}, {"refs/pull/1/head", refOther},
		{strings.Repeat("a", 40), refCommit},
	} {
		r, err := parseRefSpec(tt.in)
		if err != nil || r.kind != tt.kind {
			t.Errorf("parseRefSpec(%q) = %+v, %v", tt.in, r, err)
		}
	}
	for _, bad := range []string{"a..b", "a b", "x~1", "x^", "-x", "a/", "a.lock", "a/.b", "a@{1}", "a//b", "a\x01"} {
		if _, err := parseRefSpec(bad); err == nil {
			t.Errorf("parseRefSpec(%q) accepted", bad)
		}
	}
}

func TestCheckName(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"adc.yaml", "a-b_c.yml", ".hidden", "...", "gitx", "git", "日本.yaml"} {
		if err := checkName(ok); err != nil {
			t.Errorf("checkName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b", `a\b`, "a\x00b", ".git", ".GIT", ".git.", ".git ", "GIT~1", "\xff"} {
		if err := checkName(bad); err == nil {
			t.Errorf("checkName(%q) accepted", bad)
		}
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	expired, cancel := context.WithTimeout(ctx, 0)
	defer cancel()
	<-expired.Done()
	for _, tt := range []struct {
		name   string
		ctx    context.Context
		err    error
		class  error
		reason Reason
	}{
		{"401", ctx, fmt.Errorf("%w: x", transport.ErrAuthenticationRequired), ErrAuthentication, ReasonGitAuthenticationFailed},
		{"403", ctx, transport.ErrAuthorizationFailed, ErrAuthentication, ReasonGitAuthenticationFailed},
		{"404", ctx, transport.ErrRepositoryNotFound, ErrNotFound, ReasonFetchFailed},
		{"empty", ctx, transport.ErrEmptyRemoteRepository, ErrNotFound, ReasonFetchFailed},
		{"refused", ctx, &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, ErrUnavailable, ReasonFetchFailed},
		{"eof", ctx, io.ErrUnexpectedEOF, ErrUnavailable, ReasonFetchFailed},
		{"wrapped 5xx", ctx, plumbing.NewUnexpectedError(io.ErrUnexpectedEOF), ErrUnavailable, ReasonFetchFailed},
		{"daemon not found", ctx, &pktline.ErrorLine{Text: "access denied or repository not exported: /x"}, ErrNotFound, ReasonFetchFailed},
		{"daemon other", ctx, &pktline.ErrorLine{Text: "upload-pack: out of memory"}, ErrUnavailable, ReasonFetchFailed},
		{"ssh auth", ctx, errors.New("ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey]"), ErrAuthentication, ReasonGitAuthenticationFailed},
		{"deadline", expired, io.EOF, ErrTimeout, ReasonGitTimeout},
		{"net timeout", ctx, &net.OpError{Op: "read", Err: timeoutErr{}}, ErrTimeout, ReasonGitTimeout},
		{"typed passes through", ctx, &Error{Op: "read tree", Class: ErrTooLarge}, ErrTooLarge, ReasonInputTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := classify(tt.ctx, "https://h/r.git", tt.err)
			if !errors.Is(err, tt.class) || ReasonOf(err) != tt.reason {
				t.Errorf("classify(%v) = %v (reason %s), want %v %s", tt.err, err, ReasonOf(err), tt.class, tt.reason)
			}
			var e *Error
			if errors.As(err, &e) && e.Reason() != string(tt.reason) {
				t.Errorf("Reason() = %s", e.Reason())
			}
		})
	}
	canceled, cancel2 := context.WithCancel(ctx)
	cancel2()
	if err := classify(canceled, "u", io.EOF); !errors.Is(err, context.Canceled) || ReasonOf(err) != ReasonFetchFailed {
		t.Errorf("canceled: %v", err)
	}
	if ReasonOf(errors.New("other")) != ReasonFetchFailed {
		t.Error("untyped errors are FetchFailed")
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestNewValidates(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		o    Options
		want string
	}{
		{"ssh without known_hosts", Options{URL: "git@h:r.git", Auth: Auth{SSHKeyFile: "k"}}, "known_hosts"},
		{"ssh without key", Options{URL: "git@h:r.git", Auth: Auth{KnownHostsFile: "kh"}}, "private key"},
		{"token and password", Options{URL: "https://h/r.git", Auth: Auth{TokenFile: "t", PasswordFile: "p"}}, "mutually exclusive"},
		{"token over ssh", Options{URL: "git@h:r.git", Auth: Auth{TokenFile: "t", SSHKeyFile: "k", KnownHostsFile: "kh"}}, "do not apply"},
		{"key over https", Options{URL: "https://h/r.git", Auth: Auth{SSHKeyFile: "k"}}, "do not apply"},
		{"credentials over git://", Options{URL: "git://h/r.git", Auth: Auth{TokenFile: "t"}}, "take no credentials"},
		{"user without password", Options{URL: "https://h/r.git", Auth: Auth{Username: "u"}}, "password file"},
		{"verify without keys", Options{URL: "https://h/r.git", Verify: Verification{Mode: VerifyHead}}, "needs a PGP keyring"},
		{"keys without mode", Options{URL: "https://h/r.git", Verify: Verification{PGPKeyringFile: "k"}}, "verification is off"},
		{"bad mode", Options{URL: "https://h/r.git", Verify: Verification{Mode: "always", PGPKeyringFile: "k"}}, "unknown verification mode"},
		{"tag mode on a commit", Options{URL: "https://h/r.git", Ref: strings.Repeat("b", 40), Verify: Verification{Mode: VerifyTag, PGPKeyringFile: "k"}}, "needs a tag"},
		{"bad ref", Options{URL: "https://h/r.git", Ref: "a..b"}, "ref"},
		{"bad path", Options{URL: "https://h/r.git", Path: "../x"}, "path"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
	if m, err := ParseVerifyMode(" Tag-And-Head "); err != nil || m != VerifyTagAndHead {
		t.Errorf("ParseVerifyMode: %v %v", m, err)
	}
	if m, err := ParseVerifyMode("off"); err != nil || m != VerifyOff {
		t.Errorf("ParseVerifyMode(off): %v %v", m, err)
	}
}
