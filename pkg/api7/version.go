package api7

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// ServerVersion is the version a gateway reports: APISIX in its Server
// header (APISIX/3.18.0), API7 Enterprise at /api/version.
type ServerVersion struct {
	Backend             Backend
	Raw                 string // as reported; empty when the server said nothing
	Major, Minor, Patch int
}

// latest stands for a server that does not say its version (as ADC does:
// treated as the newest).
const latest = 999

// String renders the version as reported, or "unknown".
func (v ServerVersion) String() string {
	if v.Raw == "" {
		return "unknown"
	}
	return v.Raw
}

// AtLeast reports whether v ≥ major.minor.patch. An unknown version counts
// as the newest.
func (v ServerVersion) AtLeast(major, minor, patch int) bool {
	if v.Major != major {
		return v.Major > major
	}
	if v.Minor != minor {
		return v.Minor > minor
	}
	return v.Patch >= patch
}

// parseVersion reads "3.18.0", "3.9.14-rc1" or "dev"; anything it cannot
// read counts as the newest.
func parseVersion(b Backend, raw string) ServerVersion {
	v := ServerVersion{Backend: b, Raw: raw, Major: latest}
	parts := strings.SplitN(raw, ".", 3)
	nums := make([]int, 3)
	for i, p := range parts {
		end := 0
		for end < len(p) && p[end] >= '0' && p[end] <= '9' {
			end++
		}
		n, err := strconv.Atoi(p[:end])
		if err != nil {
			return v
		}
		nums[i] = n
	}
	if len(parts) < 2 {
		return v
	}
	v.Major, v.Minor, v.Patch = nums[0], nums[1], nums[2]
	return v
}

// noteVersion remembers the APISIX version from a Server header.
func (c *Client) noteVersion(h http.Header) {
	if c.cfg.Backend != BackendAPISIX {
		return
	}
	s, ok := strings.CutPrefix(h.Get("Server"), "APISIX/")
	if !ok {
		return
	}
	c.mu.Lock()
	if c.version == nil || c.version.Raw != s {
		v := parseVersion(BackendAPISIX, s)
		c.version = &v
	}
	c.mu.Unlock()
}

func (c *Client) knownVersion() (ServerVersion, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version == nil {
		return ServerVersion{}, false
	}
	return *c.version, true
}

// Version returns the server's version. On APISIX it comes from the Server
// header of any answer (asking GET /apisix/admin/plugins/list when nothing
// has been asked yet); on API7 Enterprise from GET /api/version. A server
// that does not say counts as the newest, as ADC assumes.
func (c *Client) Version(ctx context.Context) (ServerVersion, error) {
	if v, ok := c.knownVersion(); ok {
		return v, nil
	}
	switch c.cfg.Backend {
	case BackendAPI7EE:
		resp, err := c.do(ctx, request{method: http.MethodGet, path: "/api/version"})
		if err != nil {
			return ServerVersion{}, fmt.Errorf("version: %w", err)
		}
		var body struct {
			Value string `json:"value"`
		}
		if err := json.Unmarshal(resp.body, &body); err != nil {
			return ServerVersion{}, fmt.Errorf("version: decode GET /api/version: %w", err)
		}
		v := parseVersion(BackendAPI7EE, body.Value)
		c.mu.Lock()
		c.version = &v
		c.mu.Unlock()
		return v, nil
	default:
		_, err := c.do(ctx, request{method: http.MethodGet, path: "/apisix/admin/plugins/list"})
		if v, ok := c.knownVersion(); ok && (err == nil || errors.Is(err, ErrNotFound)) {
			return v, nil // any authenticated answer with a Server header will do
		}
		if err != nil {
			return ServerVersion{}, fmt.Errorf("version: %w", err)
		}
		v := ServerVersion{Backend: BackendAPISIX, Major: latest}
		c.mu.Lock()
		c.version = &v
		c.mu.Unlock()
		return v, nil
	}
}
