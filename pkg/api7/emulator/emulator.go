package emulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Backend selects the Admin API flavour.
type Backend string

// The flavours.
const (
	BackendAPISIX Backend = "apisix" // Apache APISIX 3.x Admin API (/apisix/admin)
	BackendAPI7EE Backend = "api7ee" // API7 Enterprise: /api/... plus the runtime /apisix/admin per gateway group
)

// Role is what a token may do.
type Role string

// The roles. A viewer may only GET.
const (
	RoleAdmin  Role = "admin"
	RoleViewer Role = "viewer"
)

// Token names given to the tokens of WithAdminToken and WithViewerToken.
const (
	TokenNameAdmin  = "admin"
	TokenNameViewer = "viewer"
)

// Identities recorded for requests without a usable token.
const (
	IdentityNone    = "-"       // no token was sent
	IdentityUnknown = "unknown" // a token was sent that matches no configured token
	IdentityExpired = "expired" // a known token past its expiry (api7ee)
)

// DefaultAPISIXVersion is the version the emulator reports and behaves as.
const DefaultAPISIXVersion = "3.18.0"

// DefaultAPI7Version is what GET /api/version answers in the api7ee flavour.
const DefaultAPI7Version = "3.9.14"

// DefaultRequestLogSize is how many requests the log keeps by default.
const DefaultRequestLogSize = 100_000

// Faults are seeded error injection: each request draws once from a PRNG
// seeded with Seed, so a run is reproducible for a given request order.
// Rates are probabilities in [0, 1]; they are tried in the order below and
// at most one fault hits a request.
type Faults struct {
	Seed int64
	// Unavailable is the rate of 503 {"error_msg":"injected fault: service unavailable"}.
	Unavailable float64
	// RateLimited is the rate of 429 with a Retry-After header.
	RateLimited float64
	// RetryAfter is the Retry-After of injected 429s (rounded up to whole
	// seconds; default 1s).
	RetryAfter time.Duration
	// Hang is the rate of requests that never answer: they block until the
	// client gives up (its context ends) or the emulator is closed.
	Hang float64
	// Truncate is the rate of requests that are handled normally but whose
	// response body is cut in half (Content-Length still announces the full
	// body, so the client sees an unexpected EOF).
	Truncate float64
	// Reset is the rate of requests that are handled normally but whose
	// connection is reset (TCP RST) after the headers and half the body:
	// the client sees "connection reset by peer" in the middle of a read.
	Reset float64
	// Methods limits the faults to these HTTP methods (all when empty).
	Methods []string
	// PathPrefix limits the faults to paths with this prefix (all when empty).
	PathPrefix string
}

func (f Faults) enabled() bool {
	return f.Unavailable > 0 || f.RateLimited > 0 || f.Hang > 0 || f.Truncate > 0 || f.Reset > 0
}

func (f Faults) validate() error {
	for _, r := range []float64{f.Unavailable, f.RateLimited, f.Hang, f.Truncate, f.Reset} {
		if r < 0 || r > 1 {
			return fmt.Errorf("fault rate %v outside [0, 1]", r)
		}
	}
	if f.Unavailable+f.RateLimited+f.Hang+f.Truncate+f.Reset > 1 {
		return errors.New("fault rates add up to more than 1")
	}
	return nil
}

// Call is what a Hook sees of a request. Token is the token's identity
// (its name), never the token itself.
type Call struct {
	Method   string
	Path     string // URL path, without the query
	Query    url.Values
	Body     []byte
	Token    string
	TokenVia string // ViaHeader, ViaCookie, ViaQuery or ViaNone
}

// Reply is a hook's answer. A zero Status with Hang set makes the request
// hang until the client gives up. Reset sends the status, the headers (with
// a Content-Length for the whole Body) and half the Body, then resets the
// connection.
type Reply struct {
	Status int
	Header http.Header
	Body   string
	Hang   bool
	Reset  bool
}

// Hook may take over one request before the emulator handles it: it returns
// nil to let the request through. Hooks run in the order added, after
// latency and before fault injection; they must be safe for concurrent use.
type Hook func(c Call) *Reply

// FailTimes returns a hook that answers the first n requests with the given
// method and path (exact, without query) with status and body, then lets
// them through.
func FailTimes(method, path string, n int, status int, body string) Hook {
	var mu sync.Mutex
	left := n
	return func(c Call) *Reply {
		if c.Method != method || c.Path != path {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		if left <= 0 {
			return nil
		}
		left--
		return &Reply{Status: status, Body: body, Header: http.Header{"Content-Type": {"application/json"}}}
	}
}

// Reject returns a hook that answers every request with the given method
// and path (exact, without query) with status and body.
func Reject(method, path string, status int, body string) Hook {
	return FailTimes(method, path, int(^uint(0)>>1), status, body)
}

// Request is one entry of the request log.
type Request struct {
	Time     time.Time
	Method   string
	Path     string // path and query; the api_key query value is redacted
	Status   int
	Token    string // the token's identity (name), IdentityNone or IdentityUnknown; never the token
	TokenVia string // where the token was: ViaHeader, ViaCookie, ViaQuery or ViaNone
	Duration time.Duration
	Fault    string // "503", "429", "hang", "truncate", "reset", "hook" when one was applied
	// UserAgent is the request's User-Agent; Holder the value of the holder
	// header (WithHolderHeader, default DefaultHolderHeader), so tests of
	// leader election can tell which replica wrote.
	UserAgent string
	Holder    string
}

// DefaultHolderHeader is the header whose value the request log records as
// Request.Holder.
const DefaultHolderHeader = "X-Reconciler-Holder"

// Counters are totals since the emulator started or was last Reset.
type Counters struct {
	Requests    int
	ByMethod    map[string]int
	ByStatus    map[int]int
	Writes      int // successful PUT, POST and PATCH
	Deletes     int // successful DELETE
	Faults      int // requests answered by a fault or a hook
	InFlight    int // requests being handled now
	MaxInFlight int // high-water mark of InFlight
}

type tokenEntry struct {
	name    string
	token   string
	role    Role
	expires time.Time // zero: never
}

type config struct {
	backend         Backend
	tokens          []tokenEntry
	noAuth          bool
	version         string
	api7Version     string
	plugins         []string
	pluginsSet      bool
	streamMode      bool
	latency         time.Duration
	persistDefaults bool
	noEncryption    bool
	faults          Faults
	deleteLag       time.Duration
	now             func() time.Time
	groups          []string
	hooks           []Hook
	logSize         int
	holderHeader    string
}

// Option configures an Emulator.
type Option func(*config) error

// WithBackend selects the flavour (default BackendAPISIX).
func WithBackend(b Backend) Option {
	return func(c *config) error {
		switch b {
		case BackendAPISIX, BackendAPI7EE:
			c.backend = b
			return nil
		}
		return fmt.Errorf("unknown backend %q (want apisix or api7ee)", b)
	}
}

// WithAdminToken adds an admin token named TokenNameAdmin. Without any
// token option the Admin API accepts no key (every request gets 401),
// unless WithoutAuth is given.
func WithAdminToken(token string) Option {
	return WithToken(TokenNameAdmin, token, RoleAdmin)
}

// WithViewerToken adds a GET-only token named TokenNameViewer.
func WithViewerToken(token string) Option {
	return WithToken(TokenNameViewer, token, RoleViewer)
}

// WithToken adds a named token; the name is what the request log records.
func WithToken(name, token string, role Role) Option {
	return func(c *config) error {
		if name == "" || token == "" {
			return errors.New("a token needs a name and a value")
		}
		if role != RoleAdmin && role != RoleViewer {
			return fmt.Errorf("token %s: unknown role %q", name, role)
		}
		for _, t := range c.tokens {
			if t.name == name {
				return fmt.Errorf("token %s: name used twice", name)
			}
		}
		c.tokens = append(c.tokens, tokenEntry{name: name, token: token, role: role})
		return nil
	}
}

// WithoutAuth is APISIX's admin_key_required: false: every request is
// allowed and recorded with identity IdentityNone.
func WithoutAuth() Option {
	return func(c *config) error { c.noAuth = true; return nil }
}

// WithAPISIXVersion sets the version served in the Server header and the
// behaviour that depends on it (default DefaultAPISIXVersion). Before 3.14
// the emulator persists schema defaults as APISIX did.
func WithAPISIXVersion(v string) Option {
	return func(c *config) error {
		if _, err := parseVersion(v); err != nil {
			return err
		}
		c.version = v
		return nil
	}
}

// WithAPI7Version sets what GET /api/version answers (api7ee).
func WithAPI7Version(v string) Option {
	return func(c *config) error { c.api7Version = v; return nil }
}

// WithPlugins sets the enabled plugins (default DefaultPlugins()). Plugins
// the emulator has no schema for accept any configuration object.
func WithPlugins(names ...string) Option {
	return func(c *config) error {
		c.plugins = append([]string(nil), names...)
		c.pluginsSet = true
		return nil
	}
}

// WithStreamMode turns on stream routes (APISIX proxy_mode http&stream);
// without it every /apisix/admin/stream_routes request answers 400.
func WithStreamMode() Option {
	return func(c *config) error { c.streamMode = true; return nil }
}

// WithLatency delays every request by d (cut short when the client gives up).
func WithLatency(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return errors.New("latency must not be negative")
		}
		c.latency = d
		return nil
	}
}

// WithPersistDefaults stores the schema defaults APISIX fills in (the
// behaviour before 3.14, as recorded in the 3.13 corpus) whatever the version.
func WithPersistDefaults() Option {
	return func(c *config) error { c.persistDefaults = true; return nil }
}

// WithoutEncryption is data_encryption.enable_encrypt_fields: false: write
// responses echo plugin secrets and SSL keys in plaintext.
func WithoutEncryption() Option {
	return func(c *config) error { c.noEncryption = true; return nil }
}

// WithFaults sets seeded error injection.
func WithFaults(f Faults) Option {
	return func(c *config) error {
		if err := f.validate(); err != nil {
			return err
		}
		c.faults = f
		return nil
	}
}

// WithDeleteCheckLag makes delete checks see references removed less than d
// ago, as APISIX's watch-fed cache does: deleting a route and then at once
// its service answers "… is still using it now" for d.
func WithDeleteCheckLag(d time.Duration) Option {
	return func(c *config) error { c.deleteLag = d; return nil }
}

// WithClock sets the clock used for timestamps, token expiry and the
// delete-check lag (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(c *config) error { c.now = now; return nil }
}

// WithGatewayGroups sets the api7ee gateway groups by name (default:
// "default"). Their ids are "gg-<name>"... see GatewayGroupID.
func WithGatewayGroups(names ...string) Option {
	return func(c *config) error {
		seen := map[string]bool{}
		for _, n := range names {
			if n == "" || seen[n] {
				return fmt.Errorf("gateway group name %q empty or repeated", n)
			}
			seen[n] = true
		}
		c.groups = append([]string(nil), names...)
		return nil
	}
}

// WithHook adds a hook (see Hook).
func WithHook(h Hook) Option {
	return func(c *config) error { c.hooks = append(c.hooks, h); return nil }
}

// WithHolderHeader names the request header recorded as Request.Holder.
func WithHolderHeader(name string) Option {
	return func(c *config) error {
		if name == "" {
			return errors.New("holder header name is empty")
		}
		c.holderHeader = name
		return nil
	}
}

// WithRequestLogSize sets how many requests the log keeps (the most recent;
// default DefaultRequestLogSize; 0 keeps none).
func WithRequestLogSize(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return errors.New("request log size must not be negative")
		}
		c.logSize = n
		return nil
	}
}

// Emulator is the Admin API: an http.Handler with an in-memory store.
type Emulator struct {
	cfg     config
	ver     version
	schemas *coreSchemas
	api7s   *api7Schemas
	plugins *pluginSet
	persist bool     // schema defaults are stored (pre-3.14)
	server  []string // the Server header's value, APISIX/<version>; only read

	res map[string]*resource

	closed    chan struct{}
	closeOnce sync.Once

	// dataMu guards the stores; it is taken after mu is released, never
	// while holding it.
	dataMu sync.Mutex

	mu     sync.Mutex // guards everything below
	tokens []tokenEntry
	gw     *store            // apisix
	groups []*gatewayGroup   // api7ee
	byGG   map[string]*store // api7ee: group id -> store
	hooks  []hookEntry
	hookID int
	faults Faults
	rng    *rand.Rand
	lat    time.Duration
	log    []Request
	logPos int
	cnt    Counters
}

type hookEntry struct {
	id int
	h  Hook
}

type gatewayGroup struct {
	id, name string
}

// New builds an emulator.
func New(opts ...Option) (*Emulator, error) {
	cfg := config{
		backend:      BackendAPISIX,
		version:      DefaultAPISIXVersion,
		api7Version:  DefaultAPI7Version,
		plugins:      DefaultPlugins(),
		now:          time.Now,
		groups:       []string{"default"},
		logSize:      DefaultRequestLogSize,
		holderHeader: DefaultHolderHeader,
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("emulator: %w", err)
		}
	}
	if cfg.backend == BackendAPI7EE && !cfg.pluginsSet {
		// API7 Enterprise ships every plugin enabled.
		cfg.plugins = sortedKeys(knownPlugins(version{3, 18, 0}))
	}
	v, err := parseVersion(cfg.version)
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	e := &Emulator{
		cfg:     cfg,
		ver:     v,
		schemas: buildCoreSchemas(v),
		api7s:   buildAPI7Schemas(),
		plugins: buildPlugins(cfg.plugins, v),
		persist: cfg.persistDefaults || v.less(version{3, 14, 0}),
		server:  []string{"APISIX/" + v.String()},
		res:     resources(),
		closed:  make(chan struct{}),
		tokens:  append([]tokenEntry(nil), cfg.tokens...),
		faults:  cfg.faults,
		rng:     rand.New(rand.NewPCG(uint64(cfg.faults.Seed), 0x9e3779b97f4a7c15)),
		lat:     cfg.latency,
	}
	for _, h := range cfg.hooks {
		e.hookID++
		e.hooks = append(e.hooks, hookEntry{id: e.hookID, h: h})
	}
	e.resetStoresLocked()
	return e, nil
}

func (e *Emulator) resetStoresLocked() {
	e.gw = newStore()
	e.groups = nil
	e.byGG = map[string]*store{}
	for _, n := range e.cfg.groups {
		g := &gatewayGroup{id: gatewayGroupID(n), name: n}
		e.groups = append(e.groups, g)
		e.byGG[g.id] = newStore()
	}
}

// gatewayGroupID derives a stable id from a gateway group's name.
func gatewayGroupID(name string) string {
	if name == "default" {
		return "default"
	}
	return "gg-" + name
}

// GatewayGroupID returns the id of the api7ee gateway group with this name.
func (e *Emulator) GatewayGroupID(name string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, g := range e.groups {
		if g.name == name {
			return g.id, true
		}
	}
	return "", false
}

// Backend reports the flavour.
func (e *Emulator) Backend() Backend { return e.cfg.backend }

// Version reports the APISIX version served.
func (e *Emulator) Version() string { return e.ver.String() }

// Close releases every hanging request (injected hangs); the emulator keeps
// answering other requests. It is safe to call more than once.
func (e *Emulator) Close() { e.closeOnce.Do(func() { close(e.closed) }) }

// Reset empties the store(s), the request log and the counters. Tokens,
// hooks, latency and faults stay as they are.
func (e *Emulator) Reset() {
	e.dataMu.Lock()
	defer e.dataMu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.resetStoresLocked()
	e.log = nil
	e.logPos = 0
	inFlight := e.cnt.InFlight
	e.cnt = Counters{InFlight: inFlight}
}

// AddToken adds a named token; expires zero means it never expires.
func (e *Emulator) AddToken(name, token string, role Role, expires time.Time) error {
	var c config
	if err := WithToken(name, token, role)(&c); err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, t := range e.tokens {
		if t.name == name {
			return fmt.Errorf("emulator: token %s exists", name)
		}
	}
	e.tokens = append(e.tokens, tokenEntry{name: name, token: token, role: role, expires: expires})
	return nil
}

// RotateToken replaces the value of the named token: the old value stops
// working at once (API7's "regenerate").
func (e *Emulator) RotateToken(name, newToken string) error {
	if newToken == "" {
		return errors.New("emulator: empty token")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range e.tokens {
		if e.tokens[i].name == name {
			e.tokens[i].token = newToken
			return nil
		}
	}
	return fmt.Errorf("emulator: no token named %s", name)
}

// RevokeToken removes the named token.
func (e *Emulator) RevokeToken(name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range e.tokens {
		if e.tokens[i].name == name {
			e.tokens = append(e.tokens[:i], e.tokens[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("emulator: no token named %s", name)
}

// ExpireToken sets when the named token expires (zero: never). A token
// past its expiry is refused with 401 (api7ee) or as a wrong key (apisix).
func (e *Emulator) ExpireToken(name string, at time.Time) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range e.tokens {
		if e.tokens[i].name == name {
			e.tokens[i].expires = at
			return nil
		}
	}
	return fmt.Errorf("emulator: no token named %s", name)
}

// SetLatency changes the per-request latency.
func (e *Emulator) SetLatency(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lat = d
}

// SetFaults replaces the fault injection settings (and reseeds).
func (e *Emulator) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = f
	e.rng = rand.New(rand.NewPCG(uint64(f.Seed), 0x9e3779b97f4a7c15))
	return nil
}

// AddHook adds a hook and returns a function that removes it.
func (e *Emulator) AddHook(h Hook) (remove func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.hookID++
	id := e.hookID
	e.hooks = append(e.hooks, hookEntry{id: id, h: h})
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		for i, he := range e.hooks {
			if he.id == id {
				e.hooks = append(e.hooks[:i], e.hooks[i+1:]...)
				return
			}
		}
	}
}

// Requests returns a copy of the request log, oldest first.
func (e *Emulator) Requests() []Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.log) < e.cfg.logSize || e.logPos == 0 {
		return append([]Request(nil), e.log...)
	}
	out := make([]Request, 0, len(e.log))
	out = append(out, e.log[e.logPos:]...)
	return append(out, e.log[:e.logPos]...)
}

// Counters returns a copy of the counters.
func (e *Emulator) Counters() Counters {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.cnt
	c.ByMethod = make(map[string]int, len(e.cnt.ByMethod))
	for k, v := range e.cnt.ByMethod {
		c.ByMethod[k] = v
	}
	c.ByStatus = make(map[int]int, len(e.cnt.ByStatus))
	for k, v := range e.cnt.ByStatus {
		c.ByStatus[k] = v
	}
	return c
}

// MaxInFlight is the high-water mark of concurrent requests.
func (e *Emulator) MaxInFlight() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cnt.MaxInFlight
}

// Count is the number of objects in an APISIX collection ("routes",
// "consumers/alice/credentials") — in the gateway group with this id for
// api7ee (ignored for apisix).
func (e *Emulator) Count(gatewayGroupID, collection string) int {
	e.dataMu.Lock()
	defer e.dataMu.Unlock()
	s := e.gw
	if e.cfg.backend == BackendAPI7EE {
		s = e.byGG[gatewayGroupID]
		if s == nil {
			return 0
		}
	}
	return s.count(collection)
}

// ServeHTTP serves the Admin API.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := e.cfg.now()
	e.mu.Lock()
	e.cnt.InFlight++
	if e.cnt.InFlight > e.cnt.MaxInFlight {
		e.cnt.MaxInFlight = e.cnt.InFlight
	}
	lat := e.lat
	e.mu.Unlock()

	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	identity, via := e.identify(r)
	fault := ""
	logged := false
	finish := func() {
		if !logged {
			logged = true
			e.finish(r, rec, identity, via, fault, start)
		}
	}
	defer finish()
	// A reset connection is logged before the reset: the client may look at
	// the log as soon as its read fails, and a server's Close does not wait
	// for hijacked connections.
	rec.beforeReset = finish

	// The body is read first: only then does net/http notice a client that
	// goes away (and cancel the request's context).
	body, err := readBody(r)
	if err != nil {
		rec.status = 499
		return
	}

	if lat > 0 {
		t := time.NewTimer(lat)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			rec.status = 499 // nginx's "client closed request"
			return
		case <-e.closed:
			t.Stop()
		}
	}

	if reply := e.runHooks(Call{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Body: body, Token: identity, TokenVia: via.String()}); reply != nil {
		fault = "hook"
		if reply.Hang {
			e.hang(r.Context())
			rec.status = 499
			return
		}
		for k, vs := range reply.Header {
			for _, v := range vs {
				rec.Header().Add(k, v)
			}
		}
		e.serverHeader(rec)
		rec.reset = reply.Reset
		rec.WriteHeader(reply.Status)
		_, _ = io.WriteString(rec, reply.Body)
		rec.flushCut()
		return
	}

	switch f := e.drawFault(r); f {
	case "503":
		fault = f
		e.serverHeader(rec)
		writeJSON(rec, http.StatusServiceUnavailable, map[string]any{"error_msg": "injected fault: service unavailable"}, false)
		return
	case "429":
		fault = f
		e.serverHeader(rec)
		secs := int((e.retryAfter() + time.Second - 1) / time.Second)
		rec.Header().Set("Retry-After", fmt.Sprint(secs))
		writeJSON(rec, http.StatusTooManyRequests, map[string]any{"error_msg": "injected fault: too many requests"}, false)
		return
	case "hang":
		fault = f
		e.hang(r.Context())
		rec.status = 499
		return
	case "truncate":
		fault = f
		rec.truncate = true
	case "reset":
		fault = f
		rec.reset = true
	}

	r.Body = io.NopCloser(bytes.NewReader(body))
	e.route(rec, r, body, identity)
	rec.flushCut()
}

func (e *Emulator) retryAfter() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.faults.RetryAfter > 0 {
		return e.faults.RetryAfter
	}
	return time.Second
}

// hang blocks until the client gives up or the emulator is closed.
func (e *Emulator) hang(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-e.closed:
	}
}

// maxBody is APISIX's MAX_REQ_BODY (1.5 MiB).
const maxBody = 1572864

func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	defer r.Body.Close()
	return io.ReadAll(io.LimitReader(r.Body, 64<<20))
}

func (e *Emulator) runHooks(c Call) *Reply {
	e.mu.Lock()
	hooks := append([]hookEntry(nil), e.hooks...)
	e.mu.Unlock()
	for _, he := range hooks {
		if r := he.h(c); r != nil {
			return r
		}
	}
	return nil
}

func (e *Emulator) drawFault(r *http.Request) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	f := e.faults
	if !f.enabled() {
		return ""
	}
	if len(f.Methods) > 0 {
		ok := false
		for _, m := range f.Methods {
			if strings.EqualFold(m, r.Method) {
				ok = true
			}
		}
		if !ok {
			return ""
		}
	}
	if f.PathPrefix != "" && !strings.HasPrefix(r.URL.Path, f.PathPrefix) {
		return ""
	}
	x := e.rng.Float64()
	switch {
	case x < f.Unavailable:
		return "503"
	case x < f.Unavailable+f.RateLimited:
		return "429"
	case x < f.Unavailable+f.RateLimited+f.Hang:
		return "hang"
	case x < f.Unavailable+f.RateLimited+f.Hang+f.Truncate:
		return "truncate"
	case x < f.Unavailable+f.RateLimited+f.Hang+f.Truncate+f.Reset:
		return "reset"
	}
	return ""
}

func (e *Emulator) finish(r *http.Request, rec *recorder, identity string, via tokenSource, fault string, start time.Time) {
	end := e.cfg.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cnt.InFlight--
	e.cnt.Requests++
	if e.cnt.ByMethod == nil {
		e.cnt.ByMethod = map[string]int{}
		e.cnt.ByStatus = map[int]int{}
	}
	e.cnt.ByMethod[r.Method]++
	e.cnt.ByStatus[rec.status]++
	if fault != "" {
		e.cnt.Faults++
	} else if rec.status < 300 {
		switch r.Method {
		case http.MethodPut, http.MethodPost, http.MethodPatch:
			if rec.mutated {
				e.cnt.Writes++
			}
		case http.MethodDelete:
			if rec.mutated {
				e.cnt.Deletes++
			}
		}
	}
	if e.cfg.logSize == 0 {
		return
	}
	entry := Request{
		Time:      start,
		Method:    r.Method,
		Path:      redactQuery(r.URL),
		Status:    rec.status,
		Token:     identity,
		TokenVia:  via.String(),
		Duration:  end.Sub(start),
		Fault:     fault,
		UserAgent: r.UserAgent(),
		Holder:    r.Header.Get(e.cfg.holderHeader),
	}
	if len(e.log) < e.cfg.logSize {
		e.log = append(e.log, entry)
		return
	}
	e.log[e.logPos] = entry
	e.logPos = (e.logPos + 1) % e.cfg.logSize
}

// redactQuery renders path?query with the api_key value hidden.
func redactQuery(u *url.URL) string {
	if u.RawQuery == "" {
		return u.Path
	}
	parts := strings.Split(u.RawQuery, "&")
	for i, p := range parts {
		k, _, _ := strings.Cut(p, "=")
		if dk, err := url.QueryUnescape(k); err == nil && strings.EqualFold(dk, "api_key") {
			parts[i] = k + "=[redacted]"
		}
	}
	return u.Path + "?" + strings.Join(parts, "&")
}

// recorder captures the status and, for truncation and resets, the body.
type recorder struct {
	http.ResponseWriter
	status   int
	wrote    bool
	mutated  bool // the request changed the store
	truncate bool
	reset    bool
	buf      bytes.Buffer
	// beforeReset runs once the answer is known, before the reset.
	beforeReset func()
}

// cut reports whether the answer is buffered to be sent short.
func (r *recorder) cut() bool { return r.truncate || r.reset }

func (r *recorder) WriteHeader(code int) {
	if r.wrote {
		return
	}
	r.status = code
	r.wrote = true
	if !r.cut() {
		r.ResponseWriter.WriteHeader(code)
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.WriteHeader(http.StatusOK)
	}
	if r.cut() {
		return r.buf.Write(b)
	}
	return r.ResponseWriter.Write(b)
}

// flushCut sends half of a buffered body under a Content-Length for the
// whole of it: then net/http closes the connection (truncate), or the
// connection is reset at once (reset).
func (r *recorder) flushCut() {
	if !r.cut() {
		return
	}
	b := r.buf.Bytes()
	if r.reset {
		if hj, ok := r.ResponseWriter.(http.Hijacker); ok {
			r.resetAfter(hj, b[:len(b)/2], len(b))
			return
		}
		// No connection to reset (HTTP/2, a recorder): truncate instead.
	}
	r.ResponseWriter.Header().Set("Content-Length", fmt.Sprint(len(b)))
	r.ResponseWriter.WriteHeader(r.status)
	_, _ = r.ResponseWriter.Write(b[:len(b)/2])
	// net/http closes the connection after a response shorter than its
	// Content-Length, so the client sees an unexpected EOF.
}

// resetAfter takes the connection over, writes the status line, the
// headers (announcing length bytes) and part, then closes the connection
// with SO_LINGER 0, which sends a TCP RST.
func (r *recorder) resetAfter(hj http.Hijacker, part []byte, length int) {
	conn, bw, err := hj.Hijack()
	if err != nil {
		return
	}
	h := r.ResponseWriter.Header().Clone()
	h.Set("Content-Length", fmt.Sprint(length))
	fmt.Fprintf(bw, "HTTP/1.1 %03d %s\r\n", r.status, http.StatusText(r.status))
	_ = h.Write(bw)
	_, _ = bw.WriteString("\r\n")
	_, _ = bw.Write(part)
	_ = bw.Flush()
	if r.beforeReset != nil {
		r.beforeReset()
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}
