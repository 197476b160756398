package api7

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/gitops-gateway/reconciler/pkg/api7/internal/jsonenc"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// maxRetryAfter caps a server's Retry-After.
const maxRetryAfter = 5 * time.Minute

// jsonMediaType is the value of Content-Type and Accept; only read.
var jsonMediaType = []string{"application/json"}

// Client speaks to one gateway's Admin API. It is safe for concurrent use.
// Close it to stop watching the token file.
type Client struct {
	cfg    Config
	base   *url.URL
	rt     http.RoundTripper // *http.Transport; replaced by tests
	token  *tokenSource
	log    *zap.Logger
	gate   gate
	limit  *limiter
	hooks  Hooks
	policy RetryPolicy

	mu          sync.Mutex
	version     *ServerVersion // from the last response that carried one
	groupID     string         // API7 EE gateway group id, once resolved
	unowned     map[model.Key]bool
	split       map[string]bool // APISIX services listed in ADC's split layout
	defaults    *model.Defaults
	defaultsFor string // the server version the defaults were read from
}

// New checks cfg, reads the token and builds a Client. It sends nothing.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("api7 config: %w", err)
	}
	base, _ := parseServer(cfg.Server) // checked by withDefaults
	log := cfg.Logger.Named("api7")
	tr, err := newTransport(cfg)
	if err != nil {
		return nil, fmt.Errorf("api7 config: %w", err)
	}
	if cfg.TLS.SkipVerify {
		log.Warn("TLS certificate verification of the Admin API is disabled: anyone on the path can read the token")
	}
	if base.Scheme == "http" && !isLoopback(base.Hostname()) {
		log.Warn("the Admin API is reached over plain HTTP: the token travels unencrypted")
	}
	ts, err := newTokenSource(cfg, log)
	if err != nil {
		return nil, fmt.Errorf("api7 config: %w", err)
	}
	// The token source holds the token from here on. The Client keeps no
	// copy in its (unexported) cfg, which %v of a Client value would print
	// field by field, past model.Secret's Format method.
	cfg.Token = model.Secret{}
	return &Client{
		cfg:    cfg,
		base:   base,
		rt:     tr,
		token:  ts,
		log:    log,
		limit:  newLimiter(cfg.Concurrency),
		hooks:  cfg.Hooks,
		policy: cfg.Retry,
	}, nil
}

// Close stops watching the token file and closes idle connections.
func (c *Client) Close() error {
	if ci, ok := c.rt.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
	return c.token.close()
}

// Backend returns the backend the Client speaks.
func (c *Client) Backend() Backend { return c.cfg.Backend }

func isLoopback(host string) bool {
	return host == "localhost" || strings.HasPrefix(host, "127.") || host == "::1"
}

// request is one logical Admin API call.
type request struct {
	method string
	path   string     // starting with /, built by the path helpers from checked IDs
	query  url.Values // never anything secret
	body   any        // marshalled as JSON when non-nil
}

// response is an HTTP answer: a 2xx, or the answer behind an *APIError.
type response struct {
	status int
	header http.Header
	body   []byte
	gen    uint64 // generation of the token sent
}

// idempotent reports whether the request may be sent again.
func (r request) idempotent() bool {
	return r.method == http.MethodGet || r.method == http.MethodPut || r.method == http.MethodDelete
}

// do sends req with the token, through the shared Retry-After gate and the
// concurrency limiter, retrying idempotent requests on transport errors, 5xx
// and 429 with jittered exponential backoff, and once after a 401 when the
// token file holds a new token. A non-2xx answer is an *APIError; no answer
// is a *RequestError. With an *APIError, the response is returned too.
func (c *Client) do(ctx context.Context, req request) (*response, error) {
	var payload []byte
	if req.body != nil {
		var err error
		if payload, err = marshalJSON(req.body); err != nil {
			return nil, fmt.Errorf("%s %s: encode body: %w", req.method, req.path, err)
		}
	}
	start := time.Now()
	deadline := start.Add(c.policy.MaxElapsed)
	reauthed := false
	for attempt, retries := 0, 0; ; attempt++ {
		resp, err := c.attempt(ctx, req, payload, attempt)
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w", req.method, req.path, ctx.Err())
		}
		var apiErr *APIError
		isAPI := errors.As(err, &apiErr)
		if isAPI && apiErr.StatusCode == http.StatusUnauthorized {
			// One immediate retry, and only if the token file now holds
			// another token than the one refused.
			if !reauthed && c.token.reload(resp.tokenGen()) {
				reauthed = true
				continue
			}
			return resp, err // matches ErrUnauthorized
		}
		retryable := isAPI && apiErr.Retryable()
		var reqErr *RequestError
		if errors.As(err, &reqErr) {
			retryable = reqErr.Retryable()
		}
		if !retryable || !req.idempotent() || retries >= c.policy.MaxRetries {
			return resp, err
		}
		wait := c.policy.backoff(retries)
		if isAPI {
			if ra := retryAfter(resp.headers(), time.Now(), maxRetryAfter); ra > 0 {
				c.gate.close(time.Now().Add(ra))
				wait = max(wait, ra)
			}
		}
		if time.Now().Add(wait).After(deadline) {
			return resp, err
		}
		retries++
		c.log.Debug("retrying", zap.String("action", req.method), zap.String("key", req.path),
			zap.Int("attempt", attempt+1), zap.Duration("duration", wait), zap.Error(retryReason(err)))
		if err := sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%s %s: %w", req.method, req.path, err)
		}
	}
}

func (r *response) tokenGen() uint64 {
	if r == nil {
		return 0
	}
	return r.gen
}

func (r *response) headers() http.Header {
	if r == nil {
		return nil
	}
	return r.header
}

// attempt sends req once. On a non-2xx answer it returns the response (for
// its headers and the token generation used) together with the *APIError.
func (c *Client) attempt(ctx context.Context, req request, payload []byte, n int) (*response, error) {
	if err := c.gate.wait(ctx); err != nil {
		return nil, err
	}
	granted, err := c.limit.acquire(ctx)
	if err != nil {
		return nil, err
	}
	// The window may have opened while this request waited for a slot.
	if err := c.gate.wait(ctx); err != nil {
		c.limit.release(granted, false, false)
		return nil, err
	}
	tok, gen := c.token.current()
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	u := *c.base
	u.Path = c.base.Path + req.path // req.path holds only checked, unreserved characters
	if len(req.query) > 0 {
		u.RawQuery = req.query.Encode()
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	hreq, err := http.NewRequestWithContext(actx, req.method, u.String(), body)
	if err != nil {
		c.limit.release(granted, false, false)
		return nil, &RequestError{Method: req.method, Path: req.path, Err: errors.New("cannot build the request")}
	}
	// One map with canonical keys, the constant values shared (the
	// transport only reads them): Header.Set costs an allocation each.
	h := make(http.Header, 3)
	h["Content-Type"] = jsonMediaType
	h["Accept"] = jsonMediaType
	switch c.cfg.TokenTransport {
	case TokenCookie:
		// The cookie each server reads: APISIX x_api_key, API7 X-API-KEY.
		name := "X-API-KEY="
		if c.cfg.Backend == BackendAPISIX {
			name = "x_api_key="
		}
		h["Cookie"] = []string{name + tok.Reveal()}
	default:
		h["X-Api-Key"] = []string{tok.Reveal()}
	}
	hreq.Header = h

	t0 := time.Now()
	hresp, err := c.rt.RoundTrip(hreq)
	if err == nil && isRedirect(hresp.StatusCode) {
		_ = hresp.Body.Close() // never read: nothing from that answer is used
		err = redirectError(hresp.Header.Get("Location"))
		hresp = nil
	}
	var raw []byte
	if err == nil {
		raw, err = readBody(hresp, c.cfg.MaxResponseBytes)
		_ = hresp.Body.Close() // the body was read; a close error changes nothing
		if err == nil && int64(len(raw)) > c.cfg.MaxResponseBytes {
			err = fmt.Errorf("%w (%d bytes)", errBodyTooLarge, c.cfg.MaxResponseBytes)
		}
	}
	elapsed := time.Since(t0)
	if err != nil {
		c.limit.release(granted, false, false)
		c.observe(req.method, 0, elapsed, n)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &RequestError{Method: req.method, Path: req.path, Err: c.scrub(transportCause(err, actx))}
	}
	c.noteVersion(hresp.Header)
	code := hresp.StatusCode
	throttled := code == http.StatusTooManyRequests
	c.limit.release(granted, throttled, code < 300)
	c.observe(req.method, code, elapsed, n)
	if throttled && c.hooks.Throttled != nil {
		c.hooks.Throttled()
	}
	resp := &response{status: code, header: hresp.Header, body: raw, gen: gen}
	if code >= 200 && code < 300 {
		return resp, nil
	}
	return resp, &APIError{Method: req.method, Path: req.path, StatusCode: code, Message: c.scrubString(errorMessage(raw))}
}

// exactRead bounds what readBody allocates on the word of a Content-Length
// header alone.
const exactRead = 64 << 20

// readBody reads at most limit+1 bytes of the body, into a buffer of
// exactly the announced length when there is one (lists run to tens of
// megabytes; most answers to a few hundred bytes). A body shorter than its
// Content-Length is io.ErrUnexpectedEOF.
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 && n <= limit && n <= exactRead {
		b := make([]byte, n)
		_, err := io.ReadFull(resp.Body, b)
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return b, err
	}
	return io.ReadAll(io.LimitReader(resp.Body, limit+1))
}

func (c *Client) observe(method string, code int, d time.Duration, attempt int) {
	if c.hooks.Request != nil {
		c.hooks.Request(RequestInfo{Method: method, Code: code, Duration: d, Attempt: attempt})
	}
}

// transportCause turns a failed http.Client.Do into an error without the
// URL (url.Error quotes it) and names a per-attempt timeout.
func transportCause(err error, actx context.Context) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(actx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer within the request timeout: %w", context.DeadlineExceeded)
	}
	return err
}

// scrub removes the token from an error's text, should a server or a
// library ever echo it.
func (c *Client) scrub(err error) error {
	tok, _ := c.token.current()
	if tok.IsZero() || !strings.Contains(err.Error(), tok.Reveal()) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), tok.Reveal(), model.Redacted))
}

func (c *Client) scrubString(s string) string {
	tok, _ := c.token.current()
	if tok.IsZero() {
		return s
	}
	return strings.ReplaceAll(s, tok.Reveal(), model.Redacted)
}

// maxMessage bounds the server message kept in an APIError.
const maxMessage = 2048

// errorMessage extracts the server's message: error_msg, message, or the
// body as text.
func errorMessage(raw []byte) string {
	var m struct {
		ErrorMsg string `json:"error_msg"`
		Message  string `json:"message"`
	}
	msg := ""
	if err := json.Unmarshal(raw, &m); err == nil {
		switch {
		case m.ErrorMsg != "":
			msg = m.ErrorMsg
		case m.Message != "":
			msg = m.Message
		}
	}
	if msg == "" {
		msg = strings.TrimSpace(string(raw))
		if strings.HasPrefix(msg, "<") { // an nginx HTML page says nothing useful
			msg = ""
		}
	}
	if len(msg) > maxMessage {
		msg = msg[:maxMessage] + "…"
	}
	return msg
}

// Format renders the Client without its token or anything else that
// reflection would reach: api7.Client{apisix https://host:9180}.
func (c *Client) Format(f fmt.State, _ rune) {
	_, _ = fmt.Fprintf(f, "api7.Client{%s %s}", c.cfg.Backend, c.base.Redacted())
}

// marshalJSON encodes v without HTML escaping (bodies hold PEM, Lua and
// regular expressions, which APISIX reads as written) and without a
// trailing newline: encoding/json's bytes, written without its reflection,
// which was a tenth of the Client's CPU per PUT.
func marshalJSON(v any) ([]byte, error) {
	return jsonenc.Append(make([]byte, 0, 512), v)
}

// retryReason is what a retry's debug line says of the failed attempt: the
// status of an answer, without the server's message, which may quote what
// the request sent (APISIX quotes a value that fails a pattern) and is
// redacted only once the caller sees the final error; a transport error as
// it is.
func retryReason(err error) error {
	var api *APIError
	if errors.As(err, &api) {
		return fmt.Errorf("the server answered %d", api.StatusCode)
	}
	return err
}
