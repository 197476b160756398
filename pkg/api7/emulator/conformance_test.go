package emulator

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// The conformance replay: every step of every recorded scenario is sent to
// the emulator over real HTTP, and the answers are compared with what the
// real APISIX answered, by the corpus README's rules (status, content type,
// Server, X-API-VERSION presence and value, body as parsed JSON with
// volatile values normalised, array order significant, {} != []).

const corpusAdminKey = "edd1c9f034335f136f87ad84b625c8f1"

type scenario struct {
	Name     string `json:"name"`
	Defaults struct {
		Headers map[string]*string `json:"headers"`
	} `json:"defaults"`
	Steps []scenarioStep `json:"steps"`
}

type scenarioStep struct {
	Name          string             `json:"name"`
	Method        string             `json:"method"`
	Path          string             `json:"path"`
	Headers       map[string]*string `json:"headers"`
	Body          json.RawMessage    `json:"body"`
	RawBody       *string            `json:"raw_body"`
	Capture       map[string]string  `json:"capture"`
	SleepBeforeMS int                `json:"sleep_before_ms"`
	Tags          []string           `json:"tags"`
}

// transcriptStep is one line of a transcript (ours use the same shape).
type transcriptStep struct {
	Step    int      `json:"step"`
	Name    string   `json:"name"`
	Tags    []string `json:"tags"`
	Request struct {
		Method string `json:"method"`
		Path   string `json:"path"`
		Body   any    `json:"body"`
	} `json:"request"`
	Response struct {
		Status      int               `json:"status"`
		ContentType string            `json:"content_type"`
		Headers     map[string]string `json:"headers"`
		Body        any               `json:"body"`
		BodyKind    string            `json:"body_kind"`
	} `json:"response"`
}

// fakeClock is a settable clock: a step's sleep_before_ms advances it, so
// the replay needs no real sleeps.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1795915800, 0)} }

func TestConformance(t *testing.T) {
	for _, corpus := range []struct {
		dir     string
		version string
	}{
		{"apisix-3.18", "3.18.0"},
		{"apisix-3.13", "3.13.0"},
	} {
		base := filepath.Join("testdata", "conformance", corpus.dir)
		files, err := filepath.Glob(filepath.Join(base, "scenarios", "*.scenario.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no scenarios under %s: %v", base, err)
		}
		for _, f := range files {
			name := strings.TrimSuffix(filepath.Base(f), ".scenario.json")
			t.Run(corpus.dir+"/"+name, func(t *testing.T) {
				expected := loadTranscript(t, filepath.Join(base, "transcripts", name+".jsonl"))
				actual := replay(t, f, corpus.version)
				if len(actual) != len(expected) {
					t.Fatalf("replayed %d steps, transcript has %d", len(actual), len(expected))
				}
				for _, p := range compareTranscripts(expected, actual) {
					t.Error(p)
				}
			})
		}
	}
}

func loadTranscript(t *testing.T, path string) []transcriptStep {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []transcriptStep
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var s transcriptStep
		d := json.NewDecoder(bytes.NewReader(line))
		d.UseNumber()
		if err := d.Decode(&s); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

var varRE = regexp.MustCompile(`\$\{([^}]+)\}`)

// replay sends a scenario's steps to a fresh emulator and records the
// answers as a transcript.
func replay(t *testing.T, path, ver string) []transcriptStep {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var sc scenario
	if err := json.Unmarshal(raw, &sc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	clock := newFakeClock()
	em, err := New(WithAdminToken(corpusAdminKey), WithAPISIXVersion(ver), WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(em)
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	t.Cleanup(client.CloseIdleConnections)

	vars := map[string]string{"ADMIN_KEY": corpusAdminKey}
	subst := func(s string) string {
		return varRE.ReplaceAllStringFunc(s, func(m string) string {
			name := varRE.FindStringSubmatch(m)[1]
			if file, ok := strings.CutPrefix(name, "file:"); ok {
				b, err := os.ReadFile(filepath.Join(filepath.Dir(path), file))
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				return string(b)
			}
			v, ok := vars[name]
			if !ok {
				t.Fatalf("%s: unknown variable %s", sc.Name, name)
			}
			return v
		})
	}
	var out []transcriptStep
	for i, st := range sc.Steps {
		clock.Advance(time.Duration(st.SleepBeforeMS) * time.Millisecond)
		headers := map[string]string{} // lower-case name -> value
		names := map[string]string{}   // lower-case name -> name as written
		apply := func(h map[string]*string) {
			for k, v := range h {
				lk := strings.ToLower(k)
				if v == nil {
					delete(headers, lk)
					delete(names, lk)
					continue
				}
				headers[lk] = subst(*v)
				names[lk] = k
			}
		}
		apply(sc.Defaults.Headers)
		apply(st.Headers)
		var body io.Reader
		var sentBody any
		switch {
		case st.RawBody != nil:
			b := subst(*st.RawBody)
			body = strings.NewReader(b)
			sentBody = b
		case len(st.Body) > 0:
			var v any
			d := json.NewDecoder(bytes.NewReader(st.Body))
			d.UseNumber()
			if err := d.Decode(&v); err != nil {
				t.Fatal(err)
			}
			v = substAll(v, subst)
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			body = bytes.NewReader(b)
			sentBody = v
		}
		if body != nil {
			if _, ok := headers["content-type"]; !ok {
				headers["content-type"] = "application/json"
				names["content-type"] = "Content-Type"
			}
		}
		req, err := http.NewRequest(st.Method, srv.URL+subst(st.Path), body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header["User-Agent"] = []string{""}
		for lk, v := range headers {
			req.Header[http.CanonicalHeaderKey(names[lk])] = []string{v}
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
		rb, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
		var rec transcriptStep
		rec.Step, rec.Name, rec.Tags = i+1, st.Name, st.Tags
		rec.Request.Method, rec.Request.Path, rec.Request.Body = st.Method, subst(st.Path), sentBody
		rec.Response.Status = resp.StatusCode
		rec.Response.ContentType = resp.Header.Get("Content-Type")
		rec.Response.Headers = map[string]string{}
		for _, h := range []string{"Server", "X-API-VERSION", "Content-Type"} {
			if v := resp.Header.Get(h); v != "" {
				rec.Response.Headers[h] = v
			}
		}
		switch {
		case len(rb) == 0:
			rec.Response.Body, rec.Response.BodyKind = "", "empty"
		default:
			d := json.NewDecoder(bytes.NewReader(rb))
			d.UseNumber()
			var v any
			if err := d.Decode(&v); err == nil && !d.More() {
				rec.Response.Body, rec.Response.BodyKind = v, "json"
			} else {
				rec.Response.Body, rec.Response.BodyKind = string(rb), "text"
			}
		}
		for name, p := range st.Capture {
			v, ok := dotted(rec.Response.Body, p)
			if !ok {
				t.Fatalf("step %d: capture %s: no %s in the response", i+1, name, p)
			}
			vars[name] = luaString(v)
		}
		out = append(out, rec)
	}
	return out
}

func substAll(v any, f func(string) string) any {
	switch x := v.(type) {
	case string:
		return f(x)
	case map[string]any:
		for k, e := range x {
			x[k] = substAll(e, f)
		}
	case []any:
		for i, e := range x {
			x[i] = substAll(e, f)
		}
	}
	return v
}

func dotted(v any, p string) (any, bool) {
	for _, part := range strings.Split(p, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		v, ok = m[part]
		if !ok {
			return nil, false
		}
	}
	return v, true
}

// normaliser implements the corpus README's volatile-value rules for one
// transcript.
type normaliser struct {
	loose        bool // indexes become <IDX> (concurrent captures commit in any order)
	literalTimes map[string]bool
	rank         map[string]int
	genids       map[string]string
}

var genidRE = regexp.MustCompile(`(^|[^0-9])([0-9]{20})($|[^0-9])`)

func newNormaliser(steps []transcriptStep) *normaliser {
	n := &normaliser{literalTimes: map[string]bool{}, rank: map[string]int{}, genids: map[string]string{}}
	for _, s := range steps {
		walkKV(s.Request.Body, func(k string, v any) {
			if (k == "create_time" || k == "update_time") && isInteger(v) {
				n.literalTimes[luaString(v)] = true
			}
		})
	}
	var idx []float64
	seen := map[string]bool{}
	for _, s := range steps {
		walkKV(s.Response.Body, func(k string, v any) {
			if (k == "createdIndex" || k == "modifiedIndex") && isInteger(v) && !seen[luaString(v)] {
				seen[luaString(v)] = true
				f, _ := num(v)
				idx = append(idx, f)
			}
		})
	}
	sort.Float64s(idx)
	for i, f := range idx {
		n.rank[formatNumber(f)] = i + 1
	}
	return n
}

func walkKV(v any, fn func(k string, v any)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			fn(k, e)
			walkKV(e, fn)
		}
	case []any:
		for _, e := range x {
			walkKV(e, fn)
		}
	}
}

func (n *normaliser) str(s string) string {
	for {
		m := genidRE.FindStringSubmatchIndex(s)
		if m == nil {
			return s
		}
		g := s[m[4]:m[5]]
		r, ok := n.genids[g]
		if !ok {
			r = fmt.Sprintf("<GENID:%d>", len(n.genids)+1)
			n.genids[g] = r
		}
		s = s[:m[4]] + r + s[m[5]:]
	}
}

func (n *normaliser) value(v any, key string) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[n.str(k)] = n.value(e, k)
		}
		if errs, ok := out["errors"].([]any); ok {
			sort.SliceStable(errs, func(i, j int) bool {
				return string(canonicalJSON(errs[i])) < string(canonicalJSON(errs[j]))
			})
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = n.value(e, key)
		}
		return out
	case string:
		return n.str(x)
	case json.Number:
		if (key == "create_time" || key == "update_time") && isInteger(x) && !n.literalTimes[luaString(x)] {
			return "<TIME>"
		}
		if key == "createdIndex" || key == "modifiedIndex" {
			if n.loose {
				return "<IDX>"
			}
			return fmt.Sprintf("<IDX:%d>", n.rank[luaString(x)])
		}
		return x
	}
	return v
}

func canonicalJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// compareTranscripts applies the README's rules; it returns the problems.
func compareTranscripts(exp, act []transcriptStep) []string {
	return compareWith(exp, act, false)
}

func compareWith(exp, act []transcriptStep, looseIndex bool) []string {
	ne, na := newNormaliser(exp), newNormaliser(act)
	ne.loose, na.loose = looseIndex, looseIndex
	var problems []string
	for i := range exp {
		e, a := exp[i], act[i]
		where := fmt.Sprintf("step %d (%s)", e.Step, e.Name)
		if pe, pa := ne.str(e.Request.Path), na.str(a.Request.Path); pe != pa || e.Request.Method != a.Request.Method {
			problems = append(problems, fmt.Sprintf("%s: request differs: %s %s vs %s %s", where, e.Request.Method, pe, a.Request.Method, pa))
			continue
		}
		if e.Response.Status != a.Response.Status {
			problems = append(problems, fmt.Sprintf("%s: status %d != %d (body %v)", where, e.Response.Status, a.Response.Status, a.Response.Body))
		}
		if e.Response.BodyKind != a.Response.BodyKind {
			problems = append(problems, fmt.Sprintf("%s: body_kind %s != %s", where, e.Response.BodyKind, a.Response.BodyKind))
		}
		if e.Response.ContentType != a.Response.ContentType {
			problems = append(problems, fmt.Sprintf("%s: Content-Type %q != %q", where, e.Response.ContentType, a.Response.ContentType))
		}
		for _, h := range []string{"Server", "X-API-VERSION"} {
			if ev, av := e.Response.Headers[h], a.Response.Headers[h]; ev != av {
				problems = append(problems, fmt.Sprintf("%s: header %s %q != %q", where, h, ev, av))
			}
		}
		for _, d := range diffValues(ne.value(e.Response.Body, ""), na.value(a.Response.Body, ""), "$") {
			problems = append(problems, where+": body "+d)
		}
	}
	problems = append(problems, indexInvariants(act)...)
	problems = append(problems, timeInvariants(act)...)
	return problems
}

// timeInvariants are the README's stricter timestamp checks, which the
// <TIME> normalisation cannot see: per key, create_time is kept by
// PUT-replace and PATCH (unless the request itself sets it) and update_time
// >= create_time. (Whether update_time moved cannot be compared: the real
// server's clock crossed seconds between steps that did not sleep.)
func timeInvariants(act []transcriptStep) []string {
	type kv struct {
		key string
		v   map[string]any
	}
	items := func(b any) []kv {
		m, _ := b.(map[string]any)
		var out []kv
		if v, ok := m["value"].(map[string]any); ok {
			k, _ := m["key"].(string)
			out = append(out, kv{k, v})
		}
		if l, ok := m["list"].([]any); ok {
			for _, x := range l {
				it, _ := x.(map[string]any)
				if v, ok := it["value"].(map[string]any); ok {
					k, _ := it["key"].(string)
					out = append(out, kv{k, v})
				}
			}
		}
		return out
	}
	created := map[string]float64{}
	var out []string
	for _, s := range act {
		if s.Response.Status >= 300 {
			continue
		}
		if s.Request.Method == "DELETE" {
			if k, ok := s.Response.Body.(map[string]any)["key"].(string); ok {
				delete(created, k) // it may come back with a new create_time
			}
			continue
		}
		setsTime := false
		walkKV(s.Request.Body, func(k string, _ any) { setsTime = setsTime || k == "create_time" || k == "update_time" })
		for _, it := range items(s.Response.Body) {
			ct, ok1 := num(it.v["create_time"])
			ut, ok2 := num(it.v["update_time"])
			if !ok1 || !ok2 || it.key == "" {
				continue
			}
			if ut < ct && !setsTime {
				out = append(out, fmt.Sprintf("step %d: %s update_time %v < create_time %v", s.Step, it.key, ut, ct))
			}
			if prev, ok := created[it.key]; ok && prev != ct && !setsTime {
				out = append(out, fmt.Sprintf("step %d: %s create_time changed %v -> %v", s.Step, it.key, prev, ct))
			}
			created[it.key] = ct
		}
	}
	return out
}

func diffValues(a, b any, path string) []string {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %s != %s", path, canonicalJSON(a), canonicalJSON(b))}
		}
		var out []string
		keys := map[string]bool{}
		for k := range x {
			keys[k] = true
		}
		for k := range y {
			keys[k] = true
		}
		for _, k := range sortedKeys(keys) {
			xv, xok := x[k]
			yv, yok := y[k]
			switch {
			case !yok:
				out = append(out, fmt.Sprintf("%s.%s: missing (expected %s)", path, k, canonicalJSON(xv)))
			case !xok:
				out = append(out, fmt.Sprintf("%s.%s: unexpected (actual has %s)", path, k, canonicalJSON(yv)))
			default:
				out = append(out, diffValues(xv, yv, path+"."+k)...)
			}
		}
		return out
	case []any:
		y, ok := b.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %s != %s", path, canonicalJSON(a), canonicalJSON(b))}
		}
		if len(x) != len(y) {
			return []string{fmt.Sprintf("%s: list length %d != %d: %s vs %s", path, len(x), len(y), canonicalJSON(a), canonicalJSON(b))}
		}
		var out []string
		for i := range x {
			out = append(out, diffValues(x[i], y[i], fmt.Sprintf("%s[%d]", path, i))...)
		}
		return out
	case json.Number:
		y, ok := b.(json.Number)
		// Python compares 1 == 1.0 but not int with float types; the corpus
		// holds integers, so compare the numeric values and the integer-ness.
		if !ok || isInteger(x) != isInteger(y) || !deepEqual(x, y) {
			return []string{fmt.Sprintf("%s: %v != %v", path, a, b)}
		}
		return nil
	default:
		if a != b {
			return []string{fmt.Sprintf("%s: %#v != %#v", path, a, b)}
		}
		return nil
	}
}

// indexInvariants: per key, modifiedIndex never decreases and createdIndex
// never changes while the key lives; modifiedIndex >= createdIndex.
func indexInvariants(steps []transcriptStep) []string {
	type ci struct{ c, m float64 }
	seen := map[string]ci{}
	var out []string
	for _, s := range steps {
		b, _ := s.Response.Body.(map[string]any)
		var items []map[string]any
		if _, ok := b["modifiedIndex"]; ok {
			items = append(items, b)
		}
		if l, ok := b["list"].([]any); ok {
			for _, x := range l {
				if m, ok := x.(map[string]any); ok {
					if _, ok := m["modifiedIndex"]; ok {
						items = append(items, m)
					}
				}
			}
		}
		if s.Request.Method == "DELETE" && s.Response.Status == 200 {
			if k, ok := b["key"].(string); ok {
				delete(seen, k)
			}
		}
		for _, it := range items {
			k, _ := it["key"].(string)
			c, _ := num(it["createdIndex"])
			m, _ := num(it["modifiedIndex"])
			if m < c {
				out = append(out, fmt.Sprintf("step %d: %s modifiedIndex %v < createdIndex %v", s.Step, k, m, c))
			}
			if p, ok := seen[k]; ok {
				if p.c != c {
					out = append(out, fmt.Sprintf("step %d: %s createdIndex changed %v -> %v", s.Step, k, p.c, c))
				}
				if m < p.m {
					out = append(out, fmt.Sprintf("step %d: %s modifiedIndex went back %v -> %v", s.Step, k, p.m, m))
				}
			}
			seen[k] = ci{c, m}
		}
	}
	return out
}

// TestADCLive replays the raw captures of ADC 0.28 talking to APISIX (every
// request, with ADC's own headers, in the order it sent them) and checks
// each answer the way TestConformance does: ADC is a real client of this
// API and must be served exactly as APISIX served it. ADC sent the requests
// of a group concurrently, so their revisions may land in another order:
// index values are compared loosely (their invariants still hold).
func TestADCLive(t *testing.T) {
	for _, c := range []struct{ file, version string }{
		{"apisix-3.18/adc-live/orders-service.live.jsonl", "3.18.0"},
		{"apisix-3.18/adc-live/inventory-tls.live.jsonl", "3.18.0"},
		{"apisix-3.13/adc-live/stock-defaults.live.jsonl", "3.13.0"},
	} {
		t.Run(c.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "conformance", c.file))
			if err != nil {
				t.Fatal(err)
			}
			clock := newFakeClock()
			em, err := New(WithAdminToken(corpusAdminKey), WithAPISIXVersion(c.version), WithClock(clock.Now))
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(em)
			defer srv.Close()
			client := srv.Client()
			var exp, act []transcriptStep
			for _, line := range bytes.Split(raw, []byte("\n")) {
				if len(bytes.TrimSpace(line)) == 0 {
					continue
				}
				var rec struct {
					Mark          string            `json:"MARK"`
					Seq           int               `json:"seq"`
					ClientHeaders map[string]string `json:"client_headers"`
				}
				if err := json.Unmarshal(line, &rec); err != nil {
					t.Fatal(err)
				}
				if rec.Mark != "" {
					continue
				}
				var st transcriptStep
				d := json.NewDecoder(bytes.NewReader(line))
				d.UseNumber()
				if err := d.Decode(&st); err != nil {
					t.Fatal(err)
				}
				st.Step, st.Name = rec.Seq, fmt.Sprintf("seq %d %s %s", rec.Seq, st.Request.Method, st.Request.Path)
				var body io.Reader
				if st.Request.Body != nil {
					b, err := json.Marshal(st.Request.Body)
					if err != nil {
						t.Fatal(err)
					}
					body = bytes.NewReader(b)
				}
				req, err := http.NewRequest(st.Request.Method, srv.URL+st.Request.Path, body)
				if err != nil {
					t.Fatal(err)
				}
				for k, v := range rec.ClientHeaders {
					switch k {
					case "Host", "Connection", "Content-Length":
					default:
						req.Header.Set(k, v)
					}
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				rb, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				var got transcriptStep
				got.Step, got.Name = st.Step, st.Name
				got.Request = st.Request
				got.Response.Status = resp.StatusCode
				got.Response.ContentType = resp.Header.Get("Content-Type")
				got.Response.Headers = map[string]string{}
				for _, h := range []string{"Server", "X-API-VERSION", "Content-Type"} {
					if v := resp.Header.Get(h); v != "" {
						got.Response.Headers[h] = v
					}
				}
				dd := json.NewDecoder(bytes.NewReader(rb))
				dd.UseNumber()
				var v any
				switch {
				case len(rb) == 0:
					got.Response.Body, got.Response.BodyKind = "", "empty"
				case dd.Decode(&v) == nil:
					got.Response.Body, got.Response.BodyKind = v, "json"
				default:
					got.Response.Body, got.Response.BodyKind = string(rb), "text"
				}
				exp = append(exp, st)
				act = append(act, got)
			}
			for _, p := range compareWith(exp, act, true) {
				t.Error(p)
			}
		})
	}
}

// TestCompareDetectsDifferences keeps the comparator honest: each kind of
// difference the README lists must be reported.
func TestCompareDetectsDifferences(t *testing.T) {
	base := loadTranscript(t, filepath.Join("testdata", "conformance", "apisix-3.18", "transcripts", "06-pagination-filters.jsonl"))
	if got := compareTranscripts(base, base); len(got) != 0 {
		t.Fatalf("a transcript differs from itself: %v", got)
	}
	clone := func() []transcriptStep {
		b, _ := json.Marshal(base)
		var c []transcriptStep
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if err := d.Decode(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name   string
		mutate func(s []transcriptStep)
	}{
		{"status", func(s []transcriptStep) { s[0].Response.Status = 200 }},
		{"content type", func(s []transcriptStep) { s[0].Response.ContentType = "text/plain" }},
		{"Server", func(s []transcriptStep) { s[0].Response.Headers["Server"] = "APISIX/3.17.0" }},
		{"X-API-VERSION absent", func(s []transcriptStep) { delete(s[0].Response.Headers, "X-API-VERSION") }},
		{"text body", func(s []transcriptStep) { s[17].Response.Body = "page_size must be between 10 and 500\n" }},
		{"{} is not []", func(s []transcriptStep) { s[15].Response.Body.(map[string]any)["list"] = []any{} }},
		{"array order", func(s []transcriptStep) {
			l := s[12].Response.Body.(map[string]any)["list"].([]any)
			l[0], l[1] = l[1], l[0]
		}},
		{"index order", func(s []transcriptStep) {
			s[13].Response.Body.(map[string]any)["list"].([]any)[0].(map[string]any)["createdIndex"] = json.Number("9999")
		}},
		{"create_time not kept", func(s []transcriptStep) {
			// the service as listed at step 27 claims another create_time than at its PUT
			at(s[26].Response.Body, "list", 0, "value").(map[string]any)["create_time"] = json.Number("1")
		}},
		{"update_time before create_time", func(s []transcriptStep) {
			v := at(s[0].Response.Body, "value").(map[string]any)
			v["update_time"] = json.Number("1")
		}},
		{"a value", func(s []transcriptStep) {
			s[0].Response.Body.(map[string]any)["value"].(map[string]any)["name"] = "other"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			act := clone()
			tt.mutate(act)
			if got := compareTranscripts(base, act); len(got) == 0 {
				t.Error("difference not reported")
			}
		})
	}
	t.Run("volatile values are not differences", func(t *testing.T) {
		act := clone()
		// Another clock: every timestamp an hour later than recorded.
		for _, s := range act {
			walkMaps(s.Response.Body, func(m map[string]any) {
				for _, k := range []string{"create_time", "update_time"} {
					if f, ok := num(m[k]); ok {
						m[k] = json.Number(formatNumber(f + 3600))
					}
				}
			})
		}
		if got := compareTranscripts(base, act); len(got) != 0 {
			t.Errorf("timestamps compared literally: %v", got)
		}
	})
}

// TestConformanceCoversTheCorpus keeps TestConformance honest about what it
// replays: every transcript has its scenario (and the reverse), each
// scenario has as many steps as its transcript has lines, and the totals are
// the corpus READMEs' (289 steps from 3.18, 57 from 3.13). A scenario file
// lost from testdata, or a transcript without a scenario, fails here.
func TestConformanceCoversTheCorpus(t *testing.T) {
	for _, c := range []struct {
		dir   string
		files int
		steps int
	}{
		{"apisix-3.18", 12, 289},
		{"apisix-3.13", 3, 57},
	} {
		t.Run(c.dir, func(t *testing.T) {
			base := filepath.Join("testdata", "conformance", c.dir)
			names := func(sub, suffix string) map[string]bool {
				files, err := filepath.Glob(filepath.Join(base, sub, "*"+suffix))
				if err != nil {
					t.Fatal(err)
				}
				out := map[string]bool{}
				for _, f := range files {
					out[strings.TrimSuffix(filepath.Base(f), suffix)] = true
				}
				return out
			}
			scen, trans := names("scenarios", ".scenario.json"), names("transcripts", ".jsonl")
			for n := range trans {
				if !scen[n] {
					t.Errorf("transcript %s has no scenario: it would never be replayed", n)
				}
			}
			total := 0
			for n := range scen {
				if !trans[n] {
					t.Errorf("scenario %s has no transcript", n)
					continue
				}
				raw, err := os.ReadFile(filepath.Join(base, "scenarios", n+".scenario.json"))
				if err != nil {
					t.Fatal(err)
				}
				var sc scenario
				if err := json.Unmarshal(raw, &sc); err != nil {
					t.Fatal(err)
				}
				tr := loadTranscript(t, filepath.Join(base, "transcripts", n+".jsonl"))
				if len(sc.Steps) != len(tr) {
					t.Errorf("%s: %d steps, %d transcript lines", n, len(sc.Steps), len(tr))
				}
				for i, s := range tr {
					if s.Step != i+1 {
						t.Errorf("%s: line %d is step %d", n, i+1, s.Step)
						break
					}
				}
				total += len(tr)
			}
			if len(scen) != c.files || total != c.steps {
				t.Errorf("%d scenarios with %d steps, the README has %d with %d", len(scen), total, c.files, c.steps)
			}
		})
	}
}

func walkMaps(v any, fn func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		fn(x)
		for _, e := range x {
			walkMaps(e, fn)
		}
	case []any:
		for _, e := range x {
			walkMaps(e, fn)
		}
	}
}
