package api7

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

// Sentinels, matched with errors.Is through any wrapping.
var (
	// ErrNotFound: the object does not exist (HTTP 404).
	ErrNotFound = errors.New("api7: not found")
	// ErrUnauthorized: the token was refused (HTTP 401), also after a re-read
	// of the token file and one retry.
	ErrUnauthorized = errors.New("api7: unauthorized")
	// ErrOwnershipConflict: the object exists without our managed-by label;
	// the Client refuses to write or delete it.
	ErrOwnershipConflict = errors.New("api7: ownership conflict")
	// ErrUnsupported: the server (or this backend) does not offer the
	// operation, such as configs/validate before APISIX 3.17.
	ErrUnsupported = errors.New("api7: not supported by the server")
	// ErrUnexpectedRedirect: the server answered with a redirect, which is
	// never followed (the token would go to another host).
	ErrUnexpectedRedirect = errors.New("api7: unexpected redirect")
	// ErrUnreachable: no HTTP answer (connection refused, reset, timeout).
	ErrUnreachable = errors.New("api7: admin API unreachable")
)

// errBodyTooLarge is an answer over Config.MaxResponseBytes: not retried,
// and an unpaged list falls back to pages.
var errBodyTooLarge = errors.New("response body over the size limit")

// APIError is an HTTP answer outside 2xx. Path never holds a query or a
// token; Message is the server's error_msg, message or plain-text body.
type APIError struct {
	Method     string
	Path       string
	StatusCode int
	Message    string
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("%s %s: %d: %s", e.Method, e.Path, e.StatusCode, msg)
}

// Is matches ErrNotFound for 404 and ErrUnauthorized for 401.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	}
	return false
}

// Retryable reports whether trying again later may succeed: 429 and 5xx.
func (e *APIError) Retryable() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// Throttled reports a 429.
func (e *APIError) Throttled() bool { return e.StatusCode == http.StatusTooManyRequests }

// StillReferenced reports APISIX's refusal to delete an object another
// object still uses ("… is still using it now"). Its delete checks read a
// cache that lags behind writes, so a retry shortly after may succeed.
func (e *APIError) StillReferenced() bool {
	// "… is still using it now", or for a stream route another names as
	// its superior, "… is still using it as superior_id" in some versions.
	return e.StatusCode == http.StatusBadRequest && strings.Contains(e.Message, "is still using it")
}

// RequestError is a request that got no HTTP answer: the connection failed,
// timed out or was reset, or TLS verification failed. It never holds the
// token or a query.
type RequestError struct {
	Method string
	Path   string
	Err    error
}

func (e *RequestError) Error() string { return fmt.Sprintf("%s %s: %v", e.Method, e.Path, e.Err) }

func (e *RequestError) Unwrap() error { return e.Err }

// Is matches ErrUnreachable, unless the failure is TLS verification or a
// redirect (which retrying cannot fix).
func (e *RequestError) Is(target error) bool {
	return target == ErrUnreachable && e.Retryable()
}

// Retryable reports whether the failure may be transient: anything but a
// certificate problem, a redirect or the caller's cancellation.
func (e *RequestError) Retryable() bool {
	return !isPermanentTransport(e.Err)
}

func isPermanentTransport(err error) bool {
	var (
		unknownCA  x509.UnknownAuthorityError
		hostname   x509.HostnameError
		invalid    x509.CertificateInvalidError
		verifyErr  *tls.CertificateVerificationError
		recordErr  tls.RecordHeaderError
		alertErr   tls.AlertError
		echErr     *tls.ECHRejectionError
		addrErr    *net.AddrError
		unknownNet net.UnknownNetworkError
	)
	// A TLS alert from the server (remote error: tls: protocol version not
	// supported, certificate required, …) has no exported type.
	if strings.Contains(err.Error(), "tls: ") {
		return true
	}
	return errors.Is(err, ErrUnexpectedRedirect) || errors.Is(err, errBodyTooLarge) ||
		errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &invalid) ||
		errors.As(err, &verifyErr) || errors.As(err, &recordErr) || errors.As(err, &alertErr) ||
		errors.As(err, &echErr) || errors.As(err, &addrErr) || errors.As(err, &unknownNet)
}

// OwnershipError is a write or delete refused because the object exists on
// the gateway without our managed-by label.
type OwnershipError struct {
	Key model.Key
}

func (e *OwnershipError) Error() string {
	return fmt.Sprintf("%s exists on the gateway without our managed-by label; refusing to change it", e.Key)
}

// Is matches ErrOwnershipConflict.
func (e *OwnershipError) Is(target error) bool { return target == ErrOwnershipConflict }

// OwnershipConflict reports true (for callers that test behaviour rather
// than import this package).
func (e *OwnershipError) OwnershipConflict() bool { return true }

// UnsupportedError is an operation the server, or this backend, does not
// offer: configs/validate before APISIX 3.17, credentials before 3.11, a
// consumer group on API7 Enterprise, an API7-only field on APISIX. It
// matches ErrUnsupported; callers that do not import this package test its
// Unsupported method.
type UnsupportedError struct {
	What string
}

func (e *UnsupportedError) Error() string { return e.What + ": not supported by the server" }

// Is matches ErrUnsupported.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// Unsupported reports true.
func (e *UnsupportedError) Unsupported() bool { return true }

func unsupported(format string, args ...any) error {
	return &UnsupportedError{What: fmt.Sprintf(format, args...)}
}

// ValidationError is the server's refusal of a configuration sent to
// configs/validate: one Issue per rejected resource.
type ValidationError struct {
	Issues []ValidationIssue
}

// ValidationIssue is one resource the server rejected.
type ValidationIssue struct {
	Key     model.Key // zero when the server's answer could not be mapped back
	Message string
}

// InvalidResources maps each rejected resource to its reason (issues the
// server did not tie to a resource are left out; their resources fail when
// written).
func (e *ValidationError) InvalidResources() map[model.Key]error {
	out := make(map[model.Key]error, len(e.Issues))
	for _, is := range e.Issues {
		if is.Key.IsZero() {
			continue
		}
		if prev, ok := out[is.Key]; ok {
			out[is.Key] = fmt.Errorf("%w; %s", prev, is.Message)
			continue
		}
		out[is.Key] = errors.New(is.Message)
	}
	return out
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("configuration refused by the server")
	for _, is := range e.Issues {
		b.WriteString("\n  ")
		if !is.Key.IsZero() {
			b.WriteString(is.Key.String())
			b.WriteString(": ")
		}
		b.WriteString(is.Message)
	}
	return b.String()
}
