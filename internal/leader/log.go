package leader

import (
	"fmt"

	"github.com/go-logr/logr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newLogr adapts l for client-go, which logs through logr (klog): its
// verbosity 0 becomes info, anything more verbose becomes debug, and its
// key-value pairs go under the "k8s" field so that they never collide with
// the daemon's own field names.
func newLogr(l *zap.Logger) logr.Logger {
	return logr.New(zapSink{l: l.Named("leader")})
}

type zapSink struct {
	l  *zap.Logger
	kv []any
}

func (zapSink) Init(logr.RuntimeInfo) {}

func (s zapSink) Enabled(level int) bool { return s.l.Core().Enabled(zapLevel(level)) }

func (s zapSink) Info(level int, msg string, kv ...any) {
	if ce := s.l.Check(zapLevel(level), msg); ce != nil {
		ce.Write(s.fields(nil, kv)...)
	}
}

func (s zapSink) Error(err error, msg string, kv ...any) {
	s.l.Warn(msg, s.fields(err, kv)...)
}

func (s zapSink) WithValues(kv ...any) logr.LogSink {
	return zapSink{l: s.l, kv: append(append([]any(nil), s.kv...), kv...)}
}

func (s zapSink) WithName(name string) logr.LogSink {
	return zapSink{l: s.l.Named(name), kv: s.kv}
}

func zapLevel(v int) zapcore.Level {
	if v > 0 {
		return zapcore.DebugLevel
	}
	return zapcore.InfoLevel
}

func (s zapSink) fields(err error, kv []any) []zap.Field {
	all := append(append([]any(nil), s.kv...), kv...)
	var fs []zap.Field
	if err != nil {
		fs = append(fs, zap.Error(err))
	}
	if len(all) == 0 {
		return fs
	}
	m := make(map[string]any, len(all)/2)
	for i := 0; i+1 < len(all); i += 2 {
		k := fmt.Sprint(all[i])
		if e, ok := all[i+1].(error); ok && k == "err" {
			if err == nil {
				fs = append(fs, zap.Error(e))
			}
			continue
		}
		m[k] = all[i+1]
	}
	if len(m) > 0 {
		fs = append(fs, zap.Any("k8s", m))
	}
	return fs
}
