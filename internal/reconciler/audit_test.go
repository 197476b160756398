package reconciler

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"
)

// Every audit event, in the file and in the log stream (the audit trail of
// a pod whose logs are shipped), carries the target, the revision, the
// commit's author and message, the resource, the action, the masked field
// changes and the result (design.md §10, docs/operations.md).
func TestAuditEventsCarryTheCommit(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	if c := h.once(); c.Result != ResultSuccess {
		t.Fatalf("first cycle = %+v", c)
	}
	h.gw.editRoute(t, routeID(1), "edited by hand")
	if c := h.once(); c.Counts.Drift != 1 || c.Counts.Applied != 1 {
		t.Fatalf("cycle after a hand edit = %+v, want 1 drift corrected", c.Counts)
	}

	const author, message = "Alice Example <alice@example.com>", "first"
	type logged struct {
		Logger   string `json:"logger"`
		Event    string `json:"event"`
		Target   string `json:"target"`
		Revision string `json:"revision"`
		Commit   Commit `json:"commit"`
		Kind     string `json:"kind"`
		Key      string `json:"key"`
		Action   string `json:"action"`
		Type     string `json:"type"`
		Changes  []Field
		Result   string `json:"result"`
	}
	var lines []logged
	for _, l := range strings.Split(h.logs.String(), "\n") {
		var ev logged
		if l == "" || json.Unmarshal([]byte(l), &ev) != nil || ev.Logger != "audit" {
			continue
		}
		var raw struct {
			Changes []Field `json:"changes"`
		}
		_ = json.Unmarshal([]byte(l), &raw)
		ev.Changes = raw.Changes
		lines = append(lines, ev)
	}
	file := h.auditEvents()
	// 4 creates, then the drift and its correction.
	if len(lines) != 6 || len(file) != 6 {
		t.Fatalf("%d audit log lines and %d audit file events, want 6 each:\n%s", len(lines), len(file), h.logs.String())
	}
	for i, ev := range file {
		l := lines[i]
		if ev.Target != "prod" || !strings.HasPrefix(ev.Revision, "main@sha1:") || ev.Commit.Author != author ||
			strings.TrimSpace(ev.Commit.Message) != message || ev.Commit.Hash == "" || ev.Kind == "" || ev.Key == "" || ev.Action == "" || ev.Result == "" {
			t.Errorf("audit file event %d = %+v", i, ev)
		}
		if l.Target != ev.Target || l.Revision != ev.Revision || l.Commit.Author != author ||
			strings.TrimSpace(l.Commit.Message) != message || l.Commit.Hash != ev.Commit.Hash || l.Kind != ev.Kind || l.Key != ev.Key ||
			l.Action != ev.Action || l.Type != string(ev.Type) || l.Result != ev.Result || l.Event != string(ev.Event) {
			t.Errorf("audit log line %d = %+v, want the file's %+v", i, l, ev)
		}
	}
	last := lines[4]
	if last.Event != string(AuditDrift) || len(last.Changes) != 1 || last.Changes[0].Path != "/description" ||
		last.Changes[0].Old != "edited by hand" || last.Changes[0].New != "v1" {
		t.Errorf("drift log line = %+v, want the masked field change", last)
	}
}

// Condition messages are cut to a bound without splitting a character.
func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc…"},
		{"abé", 3, "ab…"},   // é is 2 bytes: cut before it
		{"ab€d", 4, "ab…"},  // € is 3 bytes
		{"ab€d", 5, "ab€…"}, // the cut falls after it
	} {
		if got := truncate(tc.in, tc.n); got != tc.want || !utf8.ValidString(got) {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

// failing fails its writes while on is set, as a full disk does.
type failing struct {
	auditFile
	on bool
}

func (f *failing) Write(p []byte) (int, error) {
	if f.on {
		return 0, syscall.ENOSPC
	}
	return f.auditFile.Write(p)
}

// partial is a disk that fills up in the middle of a write: while writes
// is above zero, a write stores half of its bytes and fails; while
// truncates is above zero, a truncate fails.
type partial struct {
	auditFile
	writes, truncates int
}

func (f *partial) Write(p []byte) (int, error) {
	if f.writes > 0 {
		f.writes--
		n, _ := f.auditFile.Write(p[:len(p)/2])
		return n, syscall.ENOSPC
	}
	return f.auditFile.Write(p)
}

func (f *partial) Truncate(size int64) error {
	if f.truncates > 0 {
		f.truncates--
		return syscall.EIO
	}
	return f.auditFile.Truncate(size)
}

// A write that fails in the middle of a line (a disk filling up) leaves no
// partial line in the audit file, whether the write comes at the end of a
// cycle (Flush) or from a full buffer (Record), and whether or not the
// truncate that removes it fails at first: every line parses, and the
// events recorded once the disk has room are all there.
func TestAuditFileHoldsWholeLinesAfterAFailedWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	a, err := OpenAudit(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	disk := &partial{auditFile: a.f}
	a.f = disk
	ev := func(key string) AuditEvent {
		return AuditEvent{Event: AuditDrift, Target: "prod", Key: key, Result: "detected",
			Fields: []Field{{Path: "/description", Old: strings.Repeat("x", 300), New: "v1"}}}
	}
	var want []string
	record := func(key string, kept bool) {
		a.Record(ev(key))
		if kept {
			want = append(want, key)
		}
	}

	record("route/before", true)
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	// The write at the end of a cycle fails mid-line.
	disk.writes = 1
	record("route/lost-at-flush", false)
	if err := a.Flush(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("flush on a full disk = %v, want ENOSPC", err)
	}
	record("route/after-flush", true)
	if err := a.Flush(); err != nil {
		t.Fatalf("flush once the disk has room = %v", err)
	}
	// A full buffer is written during a cycle and fails mid-line, and the
	// truncate fails too: nothing more is written until it succeeds.
	disk.writes, disk.truncates = 1, 2
	n := auditBuffer/len(mustJSON(t, ev("route/lost-in-batch"))) + 1
	for range n {
		record("route/lost-in-batch", false)
	}
	record("route/lost-behind-the-cut", false)
	if err := a.Flush(); !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("flush after a failed batch = %v, want ENOSPC and EIO", err)
	}
	for i := range 3 {
		record(fmt.Sprintf("route/after-batch-%d", i), true)
	}
	if err := a.Flush(); err != nil {
		t.Fatalf("flush once the disk has room = %v", err)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) == 0 || data[len(data)-1] != '\n' {
		t.Fatalf("the audit file does not end with a whole line: %q", data)
	}
	var got []string
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		var e AuditEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %d does not parse (%v): %q", i+1, err, line)
		}
		got = append(got, e.Key)
	}
	if !slices.Equal(got, want) {
		t.Errorf("audit file events = %q, want %q", got, want)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A failed write of the audit file (a full disk) is reported by that
// cycle's Flush, and the events of later cycles are written once the
// file accepts writes again: the file does not stay broken until a
// restart.
func TestAuditFileRecoversAfterAFailedWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	a, err := OpenAudit(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	disk := &failing{auditFile: a.f, on: true}
	a.f = disk

	a.Record(AuditEvent{Event: AuditDrift, Target: "prod", Key: "route/lost", Result: "detected"})
	if err := a.Flush(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("flush on a full disk = %v, want ENOSPC", err)
	}
	disk.on = false
	a.Record(AuditEvent{Event: AuditDrift, Target: "prod", Key: "route/kept", Result: "detected"})
	if err := a.Flush(); err != nil {
		t.Fatalf("flush once the disk has room = %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ev AuditEvent
	if err := json.Unmarshal(data, &ev); err != nil || ev.Key != "route/kept" {
		t.Errorf("audit file = %q (%v), want the later event alone", data, err)
	}
}
