package api7

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

// Backend is the flavour of Admin API a Client speaks.
type Backend string

// The backends.
const (
	BackendAPISIX Backend = "apisix" // Apache APISIX Admin API v3
	BackendAPI7EE Backend = "api7ee" // API7 Enterprise, APISIX-compatible runtime API
)

// TokenTransport is how the token travels with each request.
type TokenTransport string

// The token transports.
const (
	TokenHeader TokenTransport = "header" // X-API-KEY: <token>
	// TokenCookie sends the cookie the server reads: Cookie: X-API-KEY=<token>
	// on API7 Enterprise, Cookie: x_api_key=<token> on APISIX.
	TokenCookie TokenTransport = "cookie"
)

// Defaults of Config.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultConcurrency = 16
	DefaultManagedBy   = "reconciler"
	DefaultGroup       = "default"
	DefaultMaxBody     = 512 << 20 // bytes of one response body
)

// ManagedByLabel is the label that marks an object as owned.
const ManagedByLabel = "managed-by"

// Config configures a Client. The zero value of every field but Backend,
// Server and a token has a working default.
type Config struct {
	Backend Backend
	// Server is the Admin API base URL, http:// or https://, optionally with
	// a path prefix. It must not carry user information, a query or a
	// fragment (nothing secret ever goes into a URL).
	Server string

	// Token is the Admin API token. Exactly one of Token and TokenFile is set.
	Token model.Secret
	// TokenFile holds the token. It is re-read when it changes (its directory
	// is watched, as Kubernetes swaps a ..data symlink) and after a 401.
	TokenFile      string
	TokenTransport TokenTransport // default TokenHeader

	// GatewayGroup is the API7 Enterprise gateway group, by name (default
	// "default"). Ignored for apisix.
	GatewayGroup string

	TLS TLSConfig

	// Timeout bounds one HTTP attempt, body included (default 10 s).
	Timeout time.Duration
	// Concurrency bounds the requests in flight at once across every caller
	// of the Client, and sizes the keep-alive pool (default 16). The bound
	// halves on 429 and grows back by one per window of successes.
	Concurrency int
	// PageSize makes List read collections in pages of this size (10..500).
	// Zero lists unpaged on APISIX (one request per collection) and in pages
	// of 500 on API7 Enterprise.
	PageSize int
	// MaxResponseBytes bounds one response body (default 512 MiB).
	MaxResponseBytes int64

	// ManagedBy is the value of the managed-by label (default "reconciler").
	ManagedBy string
	// Adopt reports whether a write to an object seen without our label may
	// go ahead (the target's adopt list). Nil adopts nothing: a Put or Delete
	// of a key the last List reported as unowned fails with
	// ErrOwnershipConflict and sends nothing.
	Adopt func(model.Key) bool

	Retry RetryPolicy

	Logger *zap.Logger // default: no logging
	Hooks  Hooks
}

// TLSConfig configures HTTPS to the Admin API. Verification is on unless
// SkipVerify is set.
type TLSConfig struct {
	CAFile     string // PEM bundle of CAs to trust instead of the system pool
	CertFile   string // client certificate (PEM), with KeyFile
	KeyFile    string // client key (PEM), with CertFile
	SkipVerify bool   // insecure: logged as a warning when the Client is made
	ServerName string // overrides the name verified in the server's certificate
}

// RetryPolicy bounds retries of idempotent requests (GET, PUT, DELETE) after
// transport errors, 5xx and 429. A POST is never retried.
type RetryPolicy struct {
	// MaxRetries after the first attempt (default 3, at most 3). Negative
	// means no retries.
	MaxRetries int
	// BaseDelay is the first backoff step (default 100 ms); each step doubles,
	// and the wait is drawn uniformly from [0, step] (full jitter).
	BaseDelay time.Duration
	// MaxDelay caps one backoff step (default 2 s).
	MaxDelay time.Duration
	// MaxElapsed bounds the time one request may spend retrying, waits for
	// Retry-After included (default 30 s). A Retry-After that would end
	// later returns the 429 at once.
	MaxElapsed time.Duration
}

// Hooks are called by the Client for instrumentation. Each may be nil. They
// are called from many goroutines at once and must not block.
type Hooks struct {
	// Request is called after every HTTP attempt, retries included.
	Request func(RequestInfo)
	// Throttled is called for every 429 answer.
	Throttled func()
	// TokenReloaded is called when a re-read of the token file found a new
	// token.
	TokenReloaded func()
}

// RequestInfo describes one HTTP attempt.
type RequestInfo struct {
	Method string
	// Code is the HTTP status, or 0 when no response arrived (transport
	// error, timeout, cancellation).
	Code     int
	Duration time.Duration
	Attempt  int // 0 for the first attempt of a request
}

// withDefaults returns cfg with defaults filled in and checks it.
func (cfg Config) withDefaults() (Config, error) {
	var errs []error
	switch cfg.Backend {
	case BackendAPISIX, BackendAPI7EE:
	case "":
		cfg.Backend = BackendAPISIX
	default:
		errs = append(errs, fmt.Errorf("backend %q: want apisix or api7ee", cfg.Backend))
	}
	if cfg.Token.IsZero() == (cfg.TokenFile == "") {
		errs = append(errs, errors.New("exactly one of a token and a token file is required"))
	}
	if !cfg.Token.IsZero() && strings.TrimSpace(cfg.Token.Reveal()) == "" {
		errs = append(errs, errors.New("the token is blank"))
	}
	switch cfg.TokenTransport {
	case "":
		cfg.TokenTransport = TokenHeader
	case TokenHeader, TokenCookie:
	default:
		errs = append(errs, fmt.Errorf("token transport %q: want header or cookie", cfg.TokenTransport))
	}
	if cfg.GatewayGroup == "" {
		cfg.GatewayGroup = DefaultGroup
	}
	if (cfg.TLS.CertFile == "") != (cfg.TLS.KeyFile == "") {
		errs = append(errs, errors.New("a client certificate needs both a certificate file and a key file"))
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %s: must be positive", cfg.Timeout))
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("concurrency %d: must be positive", cfg.Concurrency))
	}
	if cfg.PageSize != 0 && (cfg.PageSize < 10 || cfg.PageSize > 500) {
		errs = append(errs, fmt.Errorf("page size %d: want 10..500", cfg.PageSize))
	}
	if cfg.MaxResponseBytes == 0 {
		cfg.MaxResponseBytes = DefaultMaxBody
	}
	if cfg.ManagedBy == "" {
		cfg.ManagedBy = DefaultManagedBy
	}
	if !labelValueRE.MatchString(cfg.ManagedBy) {
		errs = append(errs, fmt.Errorf("managed-by value %q: must be 1..256 characters without spaces", cfg.ManagedBy))
	}
	cfg.Retry = cfg.Retry.withDefaults()
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if _, err := parseServer(cfg.Server); err != nil {
		errs = append(errs, err)
	}
	return cfg, errors.Join(errs...)
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	switch {
	case p.MaxRetries == 0:
		p.MaxRetries = 3
	case p.MaxRetries < 0:
		p.MaxRetries = 0
	case p.MaxRetries > 3:
		p.MaxRetries = 3
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 100 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 2 * time.Second
	}
	if p.MaxElapsed <= 0 {
		p.MaxElapsed = 30 * time.Second
	}
	return p
}

// parseServer checks the base URL: http or https, a host, no user
// information, query or fragment. It returns it without a trailing slash.
func parseServer(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("server URL is required")
	}
	u, err := url.Parse(s)
	if err != nil {
		// url.Parse quotes the input, which could hold a credential.
		return nil, errors.New("server URL does not parse")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("server URL scheme %q: want http or https", u.Scheme)
	case u.Host == "":
		return nil, errors.New("server URL has no host")
	case u.User != nil:
		return nil, errors.New("server URL must not carry user information: use a token")
	case u.RawQuery != "" || u.ForceQuery:
		return nil, errors.New("server URL must not carry a query: tokens never travel in URLs")
	case u.Fragment != "":
		return nil, errors.New("server URL must not carry a fragment")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}
