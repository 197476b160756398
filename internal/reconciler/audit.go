package reconciler

import (
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
//
// The file only ever holds whole lines, so that every line parses (jq, a
// log shipper): events are buffered as whole lines and written with one
// write each batch; when a write fails or is short (a full disk), the file
// is truncated back to its size before that write, and until that truncate
// succeeds nothing more is written.
type Audit struct {
	log *zap.Logger

	mu  sync.Mutex
	f   auditFile // nil: the log stream only
	buf []byte    // whole lines not written yet
	// cut is the size the file must be truncated to before the next
	// write (a truncate after a failed write failed too); -1 when none.
	cut int64
	err error // the first write error, reported by Flush
}

// auditFile is what the audit trail needs of its file (*os.File).
type auditFile interface {
	io.Writer
	Stat() (os.FileInfo, error)
	Truncate(size int64) error
	Sync() error
	Close() error
}

// auditBuffer is the size of buffered lines that starts a write before the
// end of the cycle.
const auditBuffer = 64 << 10

// NewAudit returns an audit trail that only logs. log may be nil.
func NewAudit(log *zap.Logger) *Audit {
	if log == nil {
		log = zap.NewNop()
	}
	return &Audit{log: log.Named("audit"), cut: -1}
}

// OpenAudit opens (creating it, mode 0600) and appends to the file at path.
func OpenAudit(path string, log *zap.Logger) (*Audit, error) {
	a := NewAudit(log)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	a.f = f
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
	if a.f == nil {
		return
	}
	if err == nil {
		a.buf = append(append(a.buf, line...), '\n')
		if len(a.buf) >= auditBuffer {
			err = a.writeLocked()
		}
	}
	if err != nil && a.err == nil {
		a.err = err
	}
}

// writeLocked writes the buffered lines with one write. On failure they
// are dropped (they are in the log stream) and the file is truncated back
// to its size before the write, so that no partial line stays in it.
func (a *Audit) writeLocked() error {
	if len(a.buf) == 0 {
		return nil
	}
	buf := a.buf
	a.buf = a.buf[:0]
	if a.cut >= 0 {
		if err := a.f.Truncate(a.cut); err != nil {
			return fmt.Errorf("remove a partly written line: %w", err)
		}
		a.cut = -1
	}
	fi, err := a.f.Stat()
	if err != nil {
		return err
	}
	n, err := a.f.Write(buf)
	if err == nil && n < len(buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		if terr := a.f.Truncate(fi.Size()); terr != nil {
			a.cut = fi.Size()
			err = errors.Join(err, fmt.Errorf("remove a partly written line: %w", terr))
		}
		return err
	}
	return nil
}

// Flush writes buffered events and syncs the file. It returns the first
// error since the previous Flush.
func (a *Audit) Flush() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.flushLocked()
}

func (a *Audit) flushLocked() error {
	if a.f == nil {
		return nil
	}
	err := a.err
	a.err = nil
	if werr := a.writeLocked(); werr != nil && err == nil {
		err = werr
	}
	if serr := a.f.Sync(); serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return nil
}

// Close flushes and closes the file.
func (a *Audit) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return nil
	}
	err := a.flushLocked()
	cerr := a.f.Close()
	a.f = nil
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
