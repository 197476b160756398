package git

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/skeema/knownhosts"
)

// Reason is a condition reason from the closed set of reliability.md (O1).
// Every error Fetch returns maps to one of these through ReasonOf.
type Reason string

// The reasons this package produces.
const (
	// ReasonFetchFailed: the server is unreachable or failed, or the
	// repository, ref or path does not exist. Keep the last good commit and
	// retry with backoff.
	ReasonFetchFailed Reason = "FetchFailed"
	// ReasonGitAuthenticationFailed: the server refused our credentials, or
	// we refused the server's (TLS certificate, SSH host key).
	ReasonGitAuthenticationFailed Reason = "GitAuthenticationFailed"
	// ReasonVerificationFailed: a commit or tag signature is missing, made by
	// an unknown key, or invalid.
	ReasonVerificationFailed Reason = "VerificationFailed"
	// ReasonHistoryRewritten: the new tip does not descend from the last good
	// one (a force-push) and Options.History refuses it. With the default
	// policy Fetch reports a rewrite in Result.Rewritten, not as an error.
	ReasonHistoryRewritten Reason = "HistoryRewritten"
	// ReasonInputTooLarge: a file, the tree or the pack exceeds a limit.
	ReasonInputTooLarge Reason = "InputTooLarge"
	// ReasonGitTimeout: the fetch did not finish in time.
	ReasonGitTimeout Reason = "GitTimeout"
	// ReasonValidationFailed: the tree holds an entry that is refused (a
	// symlink, a submodule, a crafted name).
	ReasonValidationFailed Reason = "ValidationFailed"
)

// Sentinels for the classes of failure. Every *Error matches exactly one of
// them with errors.Is; the class says what the caller should do.
var (
	// ErrUnavailable: transient (network error, 5xx, 429, broken stream).
	// Retry with backoff.
	ErrUnavailable = errors.New("git: server unavailable")
	// ErrNotFound: the repository, ref or path is missing, or the tree under
	// the path is empty. Never an empty desired state: keep the last good
	// commit until the configuration or the repository is fixed.
	ErrNotFound = errors.New("git: not found")
	// ErrAuthentication: credentials refused or unreadable, or the server's
	// identity (TLS certificate, SSH host key) not trusted.
	ErrAuthentication = errors.New("git: authentication failed")
	// ErrTimeout: the fetch exceeded its deadline.
	ErrTimeout = errors.New("git: timeout")
	// ErrVerification: signature verification failed; the commit must not
	// be applied.
	ErrVerification = errors.New("git: verification failed")
	// ErrTooLarge: a blob, the tree under the path or the pack is over its
	// limit; nothing was read past the limit.
	ErrTooLarge = errors.New("git: input too large")
	// ErrUnsafeEntry: the tree holds a symlink, a submodule or a crafted
	// name; the commit is refused.
	ErrUnsafeEntry = errors.New("git: unsafe tree entry")
	// ErrHistoryRewritten: the tip does not descend from the last good
	// commit and HistoryRefuse is set; the cause is a *RewriteError. Keep
	// the last good commit until the branch is restored or the tip is
	// accepted.
	ErrHistoryRewritten = errors.New("git: history rewritten")
)

// RewriteError is the cause of an ErrHistoryRewritten failure: which tip
// was refused, and which commit it fails to descend from.
type RewriteError struct {
	Previous string // the last good commit
	Commit   string // the refused tip
	Revision string // the refused tip as main@sha1:<hash>
}

// RefusedRevision returns the refused tip's revision, for a caller that
// shows the newest revision it did not apply.
func (e *RewriteError) RefusedRevision() string { return e.Revision }

func (e *RewriteError) Error() string {
	return fmt.Sprintf("%s does not descend from the last good commit %s (a force-push), and rewritten history is refused: restore the branch, or accept the commit %s", e.Revision, e.Previous, e.Commit)
}

// Error is a failed fetch. It names the operation, the class of failure (one
// of the sentinels above, matched with errors.Is), the path in the repository
// when one entry is at fault, and the cause. It never holds a credential.
type Error struct {
	Op    string // "fetch", "read tree", "verify", "credentials", …
	URL   string // the repository, without user information
	Class error  // one of the Err* sentinels of this package
	Path  string // path in the repository, when one entry is at fault
	Err   error  // the cause; may be nil when Class says it all
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.URL != "" {
		b.WriteString(" ")
		b.WriteString(e.URL)
	}
	if e.Path != "" {
		fmt.Fprintf(&b, " %q", e.Path)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString(": ")
		b.WriteString(e.Class.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches the class sentinel.
func (e *Error) Is(target error) bool { return target == e.Class }

// Reason returns the condition reason for this error, one of the Reason
// constants. It returns a plain string so that callers can match it with a
// small interface (interface{ Reason() string }) shared with other packages.
func (e *Error) Reason() string { return string(reasonOfClass(e.Class)) }

func reasonOfClass(class error) Reason {
	switch class {
	case ErrAuthentication:
		return ReasonGitAuthenticationFailed
	case ErrTimeout:
		return ReasonGitTimeout
	case ErrVerification:
		return ReasonVerificationFailed
	case ErrTooLarge:
		return ReasonInputTooLarge
	case ErrUnsafeEntry:
		return ReasonValidationFailed
	case ErrHistoryRewritten:
		return ReasonHistoryRewritten
	default:
		return ReasonFetchFailed
	}
}

// ReasonOf returns the reason for any error returned by this package:
// the *Error's reason, GitTimeout for a deadline, FetchFailed otherwise.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return reasonOfClass(e.Class)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ReasonGitTimeout
	}
	return ReasonFetchFailed
}

// classify turns an error from a transport into an *Error. ctx is the
// fetch's context: when it has expired, the failure is a timeout whatever the
// transport made of the closed connection.
func classify(ctx context.Context, url string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		if e.URL == "" {
			e.URL = url
		}
		return err
	}
	if ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return &Error{Op: "fetch", URL: url, Class: ErrTimeout, Err: fmt.Errorf("%w (%w)", context.DeadlineExceeded, cleanTransportError(err))}
		}
		return fmt.Errorf("fetch %s: %w", url, ctx.Err())
	}
	cause := cleanTransportError(err)
	return &Error{Op: "fetch", URL: url, Class: classOf(cause), Err: cause}
}

// classOf maps a transport error to a class sentinel.
func classOf(err error) error {
	var (
		netErr     net.Error
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		certErr    x509.CertificateInvalidError
		verifyErr  *tls.CertificateVerificationError
		recordErr  tls.RecordHeaderError
		errLine    *pktline.ErrorLine
		httpStatus *githttp.Err
	)
	switch {
	case errors.Is(err, transport.ErrAuthenticationRequired),
		errors.Is(err, transport.ErrAuthorizationFailed),
		errors.Is(err, transport.ErrInvalidAuthMethod):
		return ErrAuthentication
	case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &certErr),
		errors.As(err, &verifyErr), errors.As(err, &recordErr):
		return ErrAuthentication
	case knownhosts.IsHostKeyChanged(err), knownhosts.IsHostUnknown(err),
		strings.Contains(err.Error(), "ssh: unable to authenticate"),
		strings.Contains(err.Error(), "ssh: handshake failed: knownhosts"):
		return ErrAuthentication
	case errors.Is(err, transport.ErrRepositoryNotFound),
		errors.Is(err, transport.ErrEmptyRemoteRepository):
		return ErrNotFound
	case errors.As(err, &errLine):
		if isNotFoundText(errLine.Text) {
			return ErrNotFound
		}
		return ErrUnavailable
	case errors.As(err, &httpStatus):
		return ErrUnavailable
	case errors.As(err, &netErr) && netErr.Timeout():
		return ErrTimeout
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return ErrUnavailable
	}
	return ErrUnavailable
}

// isNotFoundText reports whether a server's error text says the repository
// or object does not exist (git daemon, git-upload-pack, hosting services).
func isNotFoundText(s string) bool {
	for _, m := range []string{
		"not found",
		"does not appear to be a git repository",
		"no such repository",
		"repository not exported",
		"does not exist",
		"not our ref",
		"could not be found",
	} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// cleanTransportError removes go-git's generic wrappers, which add nothing to
// the message ("unexpected client error: …") and have no Unwrap, so that the
// cause can be classified.
func cleanTransportError(err error) error {
	for {
		switch e := err.(type) {
		case *plumbing.UnexpectedError:
			if e.Err == nil {
				return err
			}
			err = e.Err
		case *plumbing.PermanentError:
			if e.Err == nil {
				return err
			}
			err = e.Err
		default:
			return err
		}
	}
}
