package api7

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

// maxTokenFile bounds what is read from a token file.
const maxTokenFile = 64 << 10

// tokenSource holds the current token: a fixed one, or one read from a file
// that is re-read when its directory changes and when a request gets a 401.
type tokenSource struct {
	path string // empty for a fixed token
	log  *zap.Logger
	hook func()

	// cur is the token and its generation, read without a lock by every
	// request. It is an unsafe.Pointer inside: fmt prints it as an address
	// under every verb, whereas a model.Secret in an unexported field would
	// be printed field by field through reflection, past its Format
	// method, by %v (or %!s(…) of %s) of a tokenSource value
	// (reliability A2).
	cur atomic.Pointer[tokenState]
	mu  sync.Mutex // serialises reloads

	watcher *fsnotify.Watcher
	done    chan struct{}
}

// tokenState is one token and its generation, bumped on every change.
type tokenState struct {
	tok model.Secret
	gen uint64
}

func newTokenSource(cfg Config, log *zap.Logger) (*tokenSource, error) {
	ts := &tokenSource{path: cfg.TokenFile, log: log, hook: cfg.Hooks.TokenReloaded}
	if ts.path == "" {
		tok := strings.TrimSpace(cfg.Token.Reveal())
		if err := checkToken(tok); err != nil {
			return nil, err
		}
		ts.cur.Store(&tokenState{tok: model.NewSecret(tok)})
		return ts, nil
	}
	tok, err := readTokenFile(ts.path)
	if err != nil {
		return nil, err
	}
	ts.cur.Store(&tokenState{tok: tok})
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch token file: %w", err)
	}
	// The directory, not the file: Kubernetes replaces a ..data symlink, and
	// editors replace files by renaming, both invisible to a watch on the
	// file itself.
	if err := w.Add(filepath.Dir(ts.path)); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("watch token file directory %s: %w", filepath.Dir(ts.path), err)
	}
	ts.watcher = w
	ts.done = make(chan struct{})
	go ts.watch()
	return ts, nil
}

// readTokenFile reads and trims a token file, refusing an empty one.
func readTokenFile(path string) (model.Secret, error) {
	f, err := os.Open(path)
	if err != nil {
		return model.Secret{}, fmt.Errorf("token file: %w", err)
	}
	defer f.Close()
	buf, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return model.Secret{}, fmt.Errorf("token file %s: %w", path, err)
	}
	if len(buf) > maxTokenFile {
		return model.Secret{}, fmt.Errorf("token file %s: larger than %d bytes", path, maxTokenFile)
	}
	tok := strings.TrimSpace(string(buf))
	if tok == "" {
		return model.Secret{}, fmt.Errorf("token file %s: empty or blank", path)
	}
	if err := checkToken(tok); err != nil {
		return model.Secret{}, fmt.Errorf("token file %s: %w", path, err)
	}
	return model.NewSecret(tok), nil
}

// checkToken refuses a token that cannot travel in a header or a cookie:
// only printable ASCII without spaces, quotes, commas, semicolons or
// backslashes. The error never quotes the token.
func checkToken(tok string) error {
	if tok == "" {
		return errors.New("empty or blank token")
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\' {
			return fmt.Errorf("the token holds a character not allowed in a header or cookie (at byte %d)", i)
		}
	}
	return nil
}

// current returns the token and its generation.
func (ts *tokenSource) current() (model.Secret, uint64) {
	st := ts.cur.Load()
	return st.tok, st.gen
}

// reload re-reads the token file. It reports whether the token is now of a
// newer generation than gen (changed by this call or by the watcher since
// the caller read it). A fixed token never changes. An unreadable or blank
// file keeps the old token.
func (ts *tokenSource) reload(gen uint64) bool {
	if ts.path == "" {
		return false
	}
	tok, err := readTokenFile(ts.path)
	ts.mu.Lock()
	st := ts.cur.Load()
	if err != nil {
		ts.mu.Unlock()
		ts.log.Warn("token file not reloaded; keeping the current token", zap.Error(err))
		return st.gen != gen
	}
	if tok.Reveal() == st.tok.Reveal() {
		ts.mu.Unlock()
		return st.gen != gen
	}
	ts.cur.Store(&tokenState{tok: tok, gen: st.gen + 1})
	ts.mu.Unlock()
	ts.log.Info("token reloaded from file")
	if ts.hook != nil {
		ts.hook()
	}
	return true
}

func (ts *tokenSource) watch() {
	defer close(ts.done)
	for {
		select {
		case _, ok := <-ts.watcher.Events:
			if !ok {
				return
			}
			_, gen := ts.current()
			ts.reload(gen)
		case err, ok := <-ts.watcher.Errors:
			if !ok {
				return
			}
			ts.log.Warn("watching the token file", zap.Error(err))
		}
	}
}

// close stops the watcher and waits for its goroutine.
func (ts *tokenSource) close() error {
	if ts.watcher == nil {
		return nil
	}
	err := ts.watcher.Close()
	<-ts.done
	return err
}

// Format renders the source without the token.
func (ts *tokenSource) Format(f fmt.State, _ rune) {
	if ts.path == "" {
		_, _ = fmt.Fprint(f, "token{fixed}")
		return
	}
	_, _ = fmt.Fprintf(f, "token{file %s}", ts.path)
}
