package git

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// scheme is how a repository is reached.
type scheme string

const (
	schemeHTTPS scheme = "https"
	schemeHTTP  scheme = "http"
	schemeSSH   scheme = "ssh"
	schemeGit   scheme = "git"
	schemeFile  scheme = "file"
)

// remote is a parsed repository URL. It never holds a password: URLs with
// one are refused, so that a credential cannot end up in a log line, an error
// or the process table.
type remote struct {
	scheme scheme
	user   string // SSH login, or the HTTPS basic-auth user name given in the URL
	host   string // host name or address, IPv6 without brackets
	port   int    // 0: the scheme's default
	path   string // the path the server is asked for
	scp    bool   // written as [user@]host:path
}

// scpPassword matches the path of user:password@host:path read as
// scp-like: "password@host:path".
var scpPassword = regexp.MustCompile(`@[^/:@]+:`)

var errPasswordInURL = errors.New("repository URL holds a password: remove it and use a credential file (token, password or SSH key)")

// Redact renders a repository URL, as given, for logs and errors: without
// user information, query or fragment, whether or not it parses. Text that
// is not a URL is returned as it is.
func Redact(raw string) string {
	if r, err := parseRemote(raw); err == nil {
		return r.String()
	}
	if i := strings.Index(raw, "://"); i > 0 {
		rest := raw[i+3:]
		// The last '@' ends the user information, whatever a password
		// holds ('/', '?', '#' and '@' included).
		if at := strings.LastIndexByte(rest, '@'); at >= 0 {
			rest = "***@" + rest[at+1:]
		}
		if q := strings.IndexAny(rest, "?#"); q >= 0 {
			rest = rest[:q]
		}
		return raw[:i+3] + rest
	}
	if at := strings.LastIndexByte(raw, '@'); at >= 0 {
		if _, ok := splitSCP(raw); ok {
			return "***@" + raw[at+1:]
		}
	}
	return raw
}

// IsGitURL reports whether s is written as a Git URL this package accepts
// (https://, http://, ssh://, git://, file:// or [user@]host:path), as
// opposed to a local directory. It does not validate the rest of the URL.
func IsGitURL(s string) bool {
	if i := strings.Index(s, "://"); i > 0 {
		switch scheme(strings.ToLower(s[:i])) {
		case schemeHTTPS, schemeHTTP, schemeSSH, schemeGit, schemeFile:
			return true
		}
		return false
	}
	_, ok := splitSCP(s)
	return ok
}

// parseRemote parses a repository URL. Errors never repeat the URL, which
// may hold a credential.
func parseRemote(raw string) (remote, error) {
	if raw == "" {
		return remote{}, errors.New("empty repository URL")
	}
	if strings.ContainsAny(raw, "\x00\r\n\t ") {
		return remote{}, errors.New("repository URL holds whitespace or control characters")
	}
	if !strings.Contains(raw, "://") {
		if r, ok := splitSCP(raw); ok {
			if scpPassword.MatchString(r.path) {
				// user:password@host:path splits as host "user" and path
				// "password@host:path": refuse it rather than show it.
				return remote{}, errPasswordInURL
			}
			return r, r.validate()
		}
		return remote{}, errors.New("not a Git URL: want https://, http://, ssh://, git://, file:// or [user@]host:path")
	}
	u, err := url.Parse(raw)
	if err != nil {
		if strings.Contains(raw, "@") {
			// The parser's message may quote part of the user information:
			// a password holding '/', '?' or '#' ends the authority early,
			// and its first part is read as a port.
			return remote{}, errors.New("invalid repository URL: cannot parse the part before its host (a password in it? use a credential file)")
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL
		}
		return remote{}, fmt.Errorf("invalid repository URL: %w", err)
	}
	r := remote{scheme: scheme(strings.ToLower(u.Scheme)), host: u.Hostname()}
	switch r.scheme {
	case schemeHTTPS, schemeHTTP, schemeSSH, schemeGit, schemeFile:
	default:
		return remote{}, fmt.Errorf("unsupported URL scheme %q: want https, http, ssh, git or file", u.Scheme)
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			return remote{}, errPasswordInURL
		}
		r.user = u.User.Username()
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return remote{}, errors.New("repository URL must not have a query or fragment")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return remote{}, fmt.Errorf("invalid port %q in repository URL", p)
		}
		r.port = n
	}
	r.path = u.Path
	switch r.scheme {
	case schemeFile:
		if r.host != "" && r.host != "localhost" {
			return remote{}, fmt.Errorf("file URL with host %q: only local paths are supported", r.host)
		}
		r.host = ""
		if r.user != "" || r.port != 0 {
			return remote{}, errors.New("file URL must not have a user or port")
		}
	case schemeGit:
		if r.user != "" {
			return remote{}, errors.New("git:// URL must not have a user: the git protocol has no authentication")
		}
		fallthrough
	case schemeSSH:
		// As Git does: ssh://host/~user/repo asks for "~user/repo".
		if strings.HasPrefix(r.path, "/~") {
			r.path = r.path[1:]
		}
	}
	return r, r.validate()
}

// splitSCP parses the scp-like form [user@]host:path, which Git reads as SSH
// when a ':' comes before any '/'.
func splitSCP(s string) (remote, bool) {
	colon := strings.IndexByte(s, ':')
	if colon <= 0 || strings.Contains(s[:colon], "/") {
		return remote{}, false
	}
	hostPart, path := s[:colon], s[colon+1:]
	if strings.HasPrefix(hostPart, "[") {
		// [user@]host with an IPv6 address: [::1]:repo — the bracket hides
		// the address's colons from the split above only when the user
		// writes it first; re-split on "]:".
		end := strings.Index(s, "]:")
		if end < 0 {
			return remote{}, false
		}
		hostPart, path = s[1:end], s[end+2:]
	}
	r := remote{scheme: schemeSSH, scp: true, path: path}
	if at := strings.LastIndexByte(hostPart, '@'); at >= 0 {
		r.user, hostPart = hostPart[:at], hostPart[at+1:]
	}
	r.host = hostPart
	if r.host == "" {
		return remote{}, false
	}
	return r, true
}

func (r remote) validate() error {
	if r.scheme != schemeFile && r.host == "" {
		return errors.New("repository URL has no host")
	}
	if strings.Trim(r.path, "/") == "" {
		return errors.New("repository URL has no path")
	}
	if strings.HasPrefix(r.path, "-") || strings.HasPrefix(r.host, "-") || strings.HasPrefix(r.user, "-") {
		return errors.New("repository URL parts must not start with '-'")
	}
	return nil
}

// hostPort is the address to dial, with the scheme's default port.
func (r remote) hostPort() string {
	port := r.port
	if port == 0 {
		switch r.scheme {
		case schemeSSH:
			port = 22
		case schemeGit:
			port = 9418
		case schemeHTTPS:
			port = 443
		case schemeHTTP:
			port = 80
		}
	}
	return net.JoinHostPort(r.host, strconv.Itoa(port))
}

// String renders the URL without user information, for logs and errors.
func (r remote) String() string {
	host := r.host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if r.scp {
		return host + ":" + r.path
	}
	if r.port != 0 {
		host += ":" + strconv.Itoa(r.port)
	}
	path := r.path
	if r.scheme == schemeSSH || r.scheme == schemeGit {
		if strings.HasPrefix(path, "~") {
			path = "/" + path
		}
	}
	return string(r.scheme) + "://" + host + path
}
