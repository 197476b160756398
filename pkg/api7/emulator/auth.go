package emulator

import (
	"crypto/subtle"
	"net/http"
	"net/url"
)

// tokenSource is where a request carried its token.
type tokenSource int

const (
	tokenNone tokenSource = iota
	tokenQuery
	tokenHeader
	tokenCookie
)

// Where a request carried its token, as Request.TokenVia and Call.TokenVia
// say it.
const (
	ViaNone   = ""       // no token
	ViaQuery  = "query"  // ?api_key= (apisix)
	ViaHeader = "header" // X-API-KEY
	ViaCookie = "cookie" // x_api_key (apisix) or X-API-KEY (api7ee)
)

func (s tokenSource) String() string {
	switch s {
	case tokenQuery:
		return ViaQuery
	case tokenHeader:
		return ViaHeader
	case tokenCookie:
		return ViaCookie
	}
	return ViaNone
}

// apisixToken finds the token as APISIX does: query api_key, then header
// X-API-KEY (any case), then cookie x_api_key; the first present wins, even
// when empty or wrong.
func apisixToken(r *http.Request) (string, tokenSource) {
	if vs, ok := rawQueryValues(r.URL)["api_key"]; ok && len(vs) > 0 {
		return vs[0], tokenQuery
	}
	if vs, ok := r.Header["X-Api-Key"]; ok && len(vs) > 0 {
		return vs[0], tokenHeader
	}
	if c, err := r.Cookie("x_api_key"); err == nil {
		return c.Value, tokenCookie
	}
	return "", tokenNone
}

// api7Token finds the token as API7 Enterprise does: header X-API-KEY, or
// a cookie named X-API-KEY.
func api7Token(r *http.Request) (string, tokenSource) {
	if vs, ok := r.Header["X-Api-Key"]; ok && len(vs) > 0 {
		return vs[0], tokenHeader
	}
	if c, err := r.Cookie("X-API-KEY"); err == nil {
		return c.Value, tokenCookie
	}
	return "", tokenNone
}

func rawQueryValues(u *url.URL) url.Values {
	v, _ := url.ParseQuery(u.RawQuery)
	return v
}

// lookupToken returns the configured token matching t (constant-time per
// comparison).
func (e *Emulator) lookupToken(t string) (tokenEntry, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, te := range e.tokens {
		if subtle.ConstantTimeCompare([]byte(te.token), []byte(t)) == 1 {
			return te, true
		}
	}
	return tokenEntry{}, false
}

// identify names the token a request carries and where it carried it, for
// the log and hooks.
func (e *Emulator) identify(r *http.Request) (string, tokenSource) {
	var t string
	var src tokenSource
	if e.cfg.backend == BackendAPI7EE {
		t, src = api7Token(r)
	} else {
		t, src = apisixToken(r)
	}
	if src == tokenNone {
		return IdentityNone, src
	}
	te, ok := e.lookupToken(t)
	if !ok {
		return IdentityUnknown, src
	}
	if !te.expires.IsZero() && !e.cfg.now().Before(te.expires) {
		return IdentityExpired, src
	}
	return te.name, src
}

// checkAPISIXToken is APISIX's check_token: nil when allowed.
func (e *Emulator) checkAPISIXToken(r *http.Request) *apiErr {
	if e.cfg.noAuth {
		return nil
	}
	t, src := apisixToken(r)
	fail := func(desc string) *apiErr {
		return &apiErr{status: http.StatusUnauthorized, noV3: true,
			body: map[string]any{"error_msg": "failed to check token", "description": desc}}
	}
	if src == tokenNone {
		return fail("missing apikey")
	}
	te, ok := e.lookupToken(t)
	if !ok || (!te.expires.IsZero() && !e.cfg.now().Before(te.expires)) {
		return fail("wrong apikey")
	}
	if te.role == RoleViewer && r.Method != http.MethodGet {
		return fail("invalid method for role viewer")
	}
	return nil
}
