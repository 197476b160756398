package reconciler

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// AuditEventType says what an audit event records.
type AuditEventType string

// The audit event types.
const (
	// AuditDrift: an out-of-band change was found on the gateway.
	AuditDrift AuditEventType = "drift"
	// AuditApply: a change was written to or deleted from the gateway (or
	// the attempt failed).
	AuditApply AuditEventType = "apply"
)

// AuditEvent is one line of the audit log. Field values are masked: it
// never holds a secret.
type AuditEvent struct {
	Time     time.Time      `json:"time"`
	Event    AuditEventType `json:"event"`
	Target   string         `json:"target"`
	Revision string         `json:"revision,omitempty"`
	Commit   Commit         `json:"commit"`
	Kind     string         `json:"kind"`
	Key      string         `json:"key"`
	Name     string         `json:"name,omitempty"`
	Action   string         `json:"action"`
	// Type is pending (from Git) or drift (out of band).
	Type   DriftType `json:"type"`
	Fields []Field   `json:"fields,omitempty"`
	// Result is detected for drift, and applied or failed for apply.
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
}

// Audit writes audit events to the log stream and, when a file is open, to
// that file as JSON lines. Flush makes what was written durable (fsync); the
// loops call it at the end of every cycle. It is safe for concurrent use.
type Audit struct {
	log *zap.Logger

	mu  sync.Mutex
	f   *os.File
	out io.Writer // what w writes to: f
	w   *bufio.Writer
	err error // the first write error, reported by Flush
}

// NewAudit returns an audit trail that only logs. log may be nil.
func NewAudit(log *zap.Logger) *Audit {
	if log == nil {
		log = zap.NewNop()
	}
	return &Audit{log: log.Named("audit")}
}

// OpenAudit opens (creating it, mode 0600) and appends to the file at path.
func OpenAudit(path string, log *zap.Logger) (*Audit, error) {
	a := NewAudit(log)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	a.f, a.out, a.w = f, f, bufio.NewWriter(f)
	return a, nil
}

// Record writes one event: to the log stream with the fields of the file
// (its commit as an object, its field changes as "changes"), which is the
// audit trail of a daemon whose logs are shipped, and to the file.
func (a *Audit) Record(ev AuditEvent) {
	fields := []zap.Field{
		zap.String("event", string(ev.Event)), zap.String("target", ev.Target),
		zap.String("revision", ev.Revision), zap.Object("commit", ev.Commit),
		zap.String("kind", ev.Kind), zap.String("key", ev.Key), zap.String("name", ev.Name),
		zap.String("action", ev.Action), zap.String("type", string(ev.Type)),
		zap.Any("changes", ev.Fields), zap.String("result", ev.Result),
	}
	if ev.Error != "" {
		fields = append(fields, zap.String("error", ev.Error))
	}
	switch {
	case ev.Result == "failed":
		a.log.Warn("audit", fields...)
	default:
		a.log.Info("audit", fields...)
	}
	line, err := json.Marshal(ev)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.w == nil {
		return
	}
	if err == nil {
		line = append(line, '\n')
		_, err = a.w.Write(line)
	}
	if err != nil && a.err == nil {
		a.err = err
	}
}

// Flush writes buffered events and syncs the file. It returns the first
// error since the previous Flush.
func (a *Audit) Flush() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.flushLocked()
}

func (a *Audit) flushLocked() error {
	if a.w == nil {
		return nil
	}
	err := a.err
	a.err = nil
	if ferr := a.w.Flush(); ferr != nil && err == nil {
		err = ferr
	}
	if serr := a.f.Sync(); serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		// A bufio.Writer keeps its first error and refuses everything
		// after it: drop what it holds (those events are in the log
		// stream) so that the next cycles are written once the file
		// takes writes again (a full disk freed).
		a.w.Reset(a.out)
		return fmt.Errorf("audit log: %w", err)
	}
	return nil
}

// Close flushes and closes the file.
func (a *Audit) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.w == nil {
		return nil
	}
	err := a.flushLocked()
	cerr := a.f.Close()
	a.w = nil
	return errors.Join(err, cerr)
}

// MarshalLogObject logs a commit with the keys of its JSON.
func (c Commit) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	if c.Hash != "" {
		enc.AddString("hash", c.Hash)
	}
	if c.Author != "" {
		enc.AddString("author", c.Author)
	}
	if c.Message != "" {
		enc.AddString("message", c.Message)
	}
	if !c.Date.IsZero() {
		enc.AddString("date", c.Date.Format(time.RFC3339Nano)) // as in the file, whatever the log's time encoder
	}
	return nil
}
