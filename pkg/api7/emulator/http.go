package emulator

import (
	"net/http"
	"strconv"
	"strings"
)

// apiErr is an Admin API answer other than success.
type apiErr struct {
	status int
	body   any  // JSON value, or a string sent as a plain body
	noV3   bool // the real server answers this without X-API-VERSION
}

func errMsg(status int, msg string) *apiErr {
	return &apiErr{status: status, body: map[string]any{"error_msg": msg}}
}

func bad(msg string) *apiErr { return errMsg(http.StatusBadRequest, msg) }

func keyNotFound() *apiErr {
	return &apiErr{status: http.StatusNotFound, body: map[string]any{"message": "Key not found"}}
}

func (e *Emulator) serverHeader(w http.ResponseWriter) {
	w.Header()["Server"] = e.server
}

// writeJSON sends a JSON body the way APISIX's Lua does: application/json,
// a trailing newline, and X-API-VERSION when v3 is set.
func writeJSON(w http.ResponseWriter, status int, v any, v3 bool) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if v3 {
		h.Set("X-API-VERSION", "v3")
	}
	b := marshal(v)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeRaw sends a body as is (APISIX's plain-string answers keep the
// application/json content type of the admin server).
func writeRaw(w http.ResponseWriter, status int, body string, contentType string, v3 bool) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	if v3 {
		h.Set("X-API-VERSION", "v3")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func writeErr(w http.ResponseWriter, e *apiErr) {
	if s, ok := e.body.(string); ok {
		writeRaw(w, e.status, s, "application/json", !e.noV3)
		return
	}
	writeJSON(w, e.status, e.body, !e.noV3)
}

// nginxPage sends one of nginx's own HTML error pages.
func nginxPage(w http.ResponseWriter, r *http.Request, status int) {
	title := strconv.Itoa(status) + " " + nginxReason(status)
	body := "<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n<center><h1>" + title +
		"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	if r.Method == http.MethodHead {
		body = ""
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func nginxReason(status int) string {
	switch status {
	case http.StatusMethodNotAllowed:
		return "Not Allowed"
	case http.StatusInternalServerError:
		return "Internal Server Error"
	case http.StatusForbidden:
		return "Forbidden"
	}
	return http.StatusText(status)
}

// splitPath splits /apisix/admin/a/b/c into its segments after the prefix;
// a trailing slash does not add a segment. ok is false for paths outside
// /apisix/admin/.
func splitPath(p, prefix string) ([]string, bool) {
	if !strings.HasPrefix(p, prefix) {
		return nil, false
	}
	rest := strings.TrimPrefix(p, prefix)
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" {
		return nil, true
	}
	return strings.Split(rest, "/"), true
}
