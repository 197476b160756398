package reconciler

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	yaml "sigs.k8s.io/yaml/goyaml.v3"

	"github.com/gitops-gateway/reconciler/pkg/apply"
	"github.com/gitops-gateway/reconciler/pkg/diff"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// MaxConfigSize bounds the daemon's configuration file.
const MaxConfigSize = 1 << 20

// ErrConfig is matched by every error of ParseConfig.
var ErrConfig = errors.New("invalid daemon configuration")

// FileConfig is the daemon's configuration file (--config): the targets.
// Secrets are never inline: tokens, passwords and keys are named by file.
type FileConfig struct {
	Targets []TargetSpec `yaml:"targets"`
}

// TargetSpec is one target of the file.
type TargetSpec struct {
	Name    string      `yaml:"name"`
	Source  SourceSpec  `yaml:"source"`
	Gateway GatewaySpec `yaml:"gateway"`
	Sync    SyncSpec    `yaml:"sync"`
	Webhook WebhookSpec `yaml:"webhook"`
	// Line is where the target starts in the file (0 for flags).
	Line int `yaml:"-"`
}

// SourceSpec says where the desired state comes from.
type SourceSpec struct {
	// URL is a Git URL or a local directory.
	URL      string     `yaml:"url"`
	Ref      string     `yaml:"ref"`
	Path     string     `yaml:"path"`
	Auth     SourceAuth `yaml:"auth"`
	Verify   VerifySpec `yaml:"verify"`
	CacheDir string     `yaml:"cacheDir"`
	Timeout  Duration   `yaml:"timeout"`
}

// SourceAuth names the Git credential files.
type SourceAuth struct {
	TokenFile         string `yaml:"tokenFile"`
	Username          string `yaml:"username"`
	PasswordFile      string `yaml:"passwordFile"`
	SSHKeyFile        string `yaml:"sshKeyFile"`
	SSHPassphraseFile string `yaml:"sshPassphraseFile"`
	KnownHostsFile    string `yaml:"knownHostsFile"`
	CAFile            string `yaml:"caFile"`
}

// VerifySpec configures commit signature verification.
type VerifySpec struct {
	Mode                  string `yaml:"mode"`
	PGPKeyringFile        string `yaml:"pgpKeyringFile"`
	SSHAllowedSignersFile string `yaml:"sshAllowedSignersFile"`
}

// GatewaySpec says how to reach the Admin API. There is no way to switch
// TLS verification off here: that comes only from the command line.
type GatewaySpec struct {
	Backend        string   `yaml:"backend"`
	Server         string   `yaml:"server"`
	TokenFile      string   `yaml:"tokenFile"`
	TokenTransport string   `yaml:"tokenTransport"`
	GatewayGroup   string   `yaml:"gatewayGroup"`
	CACertFile     string   `yaml:"caCertFile"`
	ClientCertFile string   `yaml:"clientCertFile"`
	ClientKeyFile  string   `yaml:"clientKeyFile"`
	Timeout        Duration `yaml:"timeout"`
	Concurrency    int      `yaml:"concurrency"`
}

// SyncSpec says what the target may do.
type SyncSpec struct {
	Interval Duration `yaml:"interval"`
	Mode     string   `yaml:"mode"`
	Suspend  bool     `yaml:"suspend"`
	// Prune must be stated: a target never deletes by default or by
	// accident.
	Prune               *bool    `yaml:"prune"`
	MaxDeletes          *int     `yaml:"maxDeletes"`
	MaxDeletePercent    *float64 `yaml:"maxDeletePercent"`
	AllowEmpty          bool     `yaml:"allowEmpty"`
	ManagedBy           string   `yaml:"managedBy"`
	Adopt               bool     `yaml:"adopt"`
	PruneUnlabeled      bool     `yaml:"pruneUnlabeled"`
	AllowHistoryRewrite *bool    `yaml:"allowHistoryRewrite"`
	// AcceptHistoryRewrite, with allowHistoryRewrite false, is the full
	// hash of the one commit that may replace the last good commit
	// without descending from it: the acknowledgement of one force-push.
	AcceptHistoryRewrite string `yaml:"acceptHistoryRewrite"`
	// DeletionGuardOverride is the full hash of the one commit whose plan
	// may delete more than maxDeletes and maxDeletePercent allow; it
	// expires once that commit is applied.
	DeletionGuardOverride string       `yaml:"deletionGuardOverride"`
	Ignore                []IgnoreSpec `yaml:"ignore"`
}

// IgnoreSpec is a field-level ignore rule (diff.IgnoreRule).
type IgnoreSpec struct {
	Kind  string   `yaml:"kind"`
	Name  string   `yaml:"name"`
	Paths []string `yaml:"paths"`
}

// WebhookSpec configures POST /webhook/{target}.
type WebhookSpec struct {
	// SecretFile holds the shared secret; empty falls back to
	// --webhook-secret-file. Without any, the target accepts no webhook.
	SecretFile string `yaml:"secretFile"`
}

// Duration is a time.Duration written as "1m30s".
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: want a duration such as 30s or 1m", n.Line)
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a duration such as 30s or 1m", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// Defaults of a target's sync settings.
const (
	DefaultMaxDeletes       = 50
	DefaultMaxDeletePercent = 25
	DefaultManagedBy        = "reconciler"
)

// ParseConfig parses and checks a configuration file; name is used in
// errors. Unknown fields are errors, with their line. Defaults are filled
// in: interval 1m, mode apply, backend apisix, concurrency 32, maxDeletes
// 50, maxDeletePercent 25, managedBy reconciler, allowHistoryRewrite true.
func ParseConfig(name string, data []byte) (FileConfig, error) {
	if len(data) > MaxConfigSize {
		return FileConfig{}, fmt.Errorf("%w: %s: larger than %d bytes", ErrConfig, name, MaxConfigSize)
	}
	var cfg FileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return FileConfig{}, fmt.Errorf("%w: %s: %s", ErrConfig, name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err == nil {
		if tn := mappingValue(&doc, "targets"); tn != nil && tn.Kind == yaml.SequenceNode {
			for i, n := range tn.Content {
				if i < len(cfg.Targets) {
					cfg.Targets[i].Line = n.Line
				}
			}
		}
	}
	var errs []error
	if len(cfg.Targets) == 0 {
		errs = append(errs, fmt.Errorf("%s: no targets", name))
	}
	seen := map[string]int{}
	gateways := map[string]string{}
	for i := range cfg.Targets {
		t := &cfg.Targets[i]
		where := fmt.Sprintf("%s:%d: target %q", name, t.Line, t.Name)
		for _, err := range t.Check() {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
		}
		if line, dup := seen[t.Name]; dup && t.Name != "" {
			errs = append(errs, fmt.Errorf("%s: the name is also used at line %d", where, line))
		}
		seen[t.Name] = t.Line
		g := t.Gateway.Server + "|" + t.Gateway.GatewayGroup + "|" + t.Sync.ManagedBy
		if other, dup := gateways[g]; dup && t.Gateway.Server != "" {
			errs = append(errs, fmt.Errorf("%s: manages the same gateway with the same managedBy as target %q: they would undo each other's changes", where, other))
		}
		gateways[g] = t.Name
	}
	if len(errs) > 0 {
		return FileConfig{}, fmt.Errorf("%w:\n%w", ErrConfig, errors.Join(errs...))
	}
	return cfg, nil
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// FieldError is a problem with one field of a target. Field is the field's
// path in the configuration file (sync.interval); Detail follows it in the
// message (" 500ms: at least 1s"), so that a caller that took the target
// from flags can name the flag instead.
type FieldError struct {
	Field  string
	Detail string
}

func (e *FieldError) Error() string { return e.Field + e.Detail }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Detail: fmt.Sprintf(format, args...)}
}

// Check fills in defaults and returns every problem of the target, each a
// *FieldError.
func (t *TargetSpec) Check() []error {
	var errs []error
	if !validName(t.Name) {
		errs = append(errs, fieldErr("name", ": want 1-63 lowercase letters, digits, '-', '_' or '.', starting and ending with a letter or digit"))
	}
	if t.Source.URL == "" {
		errs = append(errs, fieldErr("source.url", ": required (a Git URL or a local directory)"))
	}
	if t.Gateway.Backend == "" {
		t.Gateway.Backend = "apisix"
	}
	if t.Gateway.Backend != "apisix" && t.Gateway.Backend != "api7ee" {
		errs = append(errs, fieldErr("gateway.backend", " %q: want apisix or api7ee", t.Gateway.Backend))
	}
	switch t.Gateway.TokenTransport {
	case "", "header", "cookie":
	default:
		errs = append(errs, fieldErr("gateway.tokenTransport", " %q: want header or cookie", t.Gateway.TokenTransport))
	}
	if t.Gateway.Server == "" {
		errs = append(errs, fieldErr("gateway.server", ": required"))
	} else if detail := ServerURLProblem(t.Gateway.Backend, t.Gateway.Server); detail != "" {
		errs = append(errs, fieldErr("gateway.server", " %q: %s", t.Gateway.Server, detail))
	}
	if t.Gateway.TokenFile == "" && t.Line > 0 {
		errs = append(errs, fieldErr("gateway.tokenFile", ": required (tokens are never written in the configuration)"))
	}
	switch {
	case t.Gateway.Concurrency == 0:
		t.Gateway.Concurrency = apply.DefaultConcurrency
	case t.Gateway.Concurrency < 0:
		errs = append(errs, fieldErr("gateway.concurrency", " %d: must be positive", t.Gateway.Concurrency))
	}
	if t.Sync.Interval == 0 {
		t.Sync.Interval = Duration(DefaultInterval)
	}
	if time.Duration(t.Sync.Interval) < time.Second {
		errs = append(errs, fieldErr("sync.interval", " %s: at least 1s", time.Duration(t.Sync.Interval)))
	}
	if _, err := ParseMode(t.Sync.Mode); err != nil {
		errs = append(errs, fieldErr("sync.mode", " %q: want apply or detect", t.Sync.Mode))
	}
	if t.Sync.Mode == "" {
		t.Sync.Mode = string(ModeApply)
	}
	if t.Sync.Prune == nil {
		errs = append(errs, fieldErr("sync.prune", ": required: say whether objects removed from Git are deleted from the gateway (true or false)"))
	}
	if t.Sync.MaxDeletes == nil {
		v := DefaultMaxDeletes
		t.Sync.MaxDeletes = &v
	}
	if t.Sync.MaxDeletePercent == nil {
		v := float64(DefaultMaxDeletePercent)
		t.Sync.MaxDeletePercent = &v
	}
	if p := *t.Sync.MaxDeletePercent; p < 0 {
		errs = append(errs, fieldErr("sync.maxDeletePercent", " %g: must be 0 or more", p))
	}
	if t.Sync.ManagedBy == "" {
		t.Sync.ManagedBy = DefaultManagedBy
	}
	if t.Sync.AllowHistoryRewrite == nil {
		v := true
		t.Sync.AllowHistoryRewrite = &v
	}
	if a := t.Sync.AcceptHistoryRewrite; a != "" {
		switch {
		case *t.Sync.AllowHistoryRewrite:
			errs = append(errs, fieldErr("sync.acceptHistoryRewrite", ": accepts one rewrite when allowHistoryRewrite is false; rewritten history is followed anyway"))
		case len(a) != 40 || !isHash(a):
			errs = append(errs, fieldErr("sync.acceptHistoryRewrite", " %q: want the full 40-digit hash of the commit", a))
		}
	}
	if o := t.Sync.DeletionGuardOverride; o != "" && !isHash(o) {
		errs = append(errs, fieldErr("sync.deletionGuardOverride", " %q: want the full hash of the commit (40 or 64 hex digits)", o))
	}
	if _, err := diff.New(diff.Options{Ignore: t.IgnoreRules()}); err != nil {
		errs = append(errs, fieldErr("sync.ignore", ": %v", err))
	}
	return errs
}

// ServerURLProblem says what is wrong with the Admin API base URL of a
// backend that the client would otherwise take and then fail on with a
// confusing answer: no scheme, or the Admin API's own path, which the
// client adds itself (/apisix/admin, and /api for api7ee; a proxy's prefix
// before them is fine). It returns "" for a URL it has nothing against.
func ServerURLProblem(backend, s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "want a URL such as http://127.0.0.1:9180"
	}
	p := strings.TrimRight(u.Path, "/")
	suffixes := []string{"/apisix/admin"}
	if backend == "api7ee" {
		suffixes = append(suffixes, "/api")
	}
	for _, suffix := range suffixes {
		if strings.HasSuffix(p, suffix) {
			return "give the Admin API's base URL, without " + suffix + " (the client adds it)"
		}
	}
	return ""
}

// IgnoreRules converts the ignore rules.
func (t *TargetSpec) IgnoreRules() []diff.IgnoreRule {
	out := make([]diff.IgnoreRule, len(t.Sync.Ignore))
	for i, r := range t.Sync.Ignore {
		out[i] = diff.IgnoreRule{Kind: model.Kind(r.Kind), Name: r.Name, Paths: r.Paths}
	}
	return out
}
