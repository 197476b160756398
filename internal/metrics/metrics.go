// Package metrics holds every Prometheus collector of the daemon, created on
// an explicit registry. Label values come from small closed sets (target
// names from the configuration, kinds, actions, results, reasons, HTTP
// methods and status codes); resource IDs never become label values.
package metrics

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

const namespace = "reconciler"

// Reason is why a target is not Ready: the closed set of reliability.md O1.
type Reason string

// The condition reasons.
const (
	ReasonFetchFailed             Reason = "FetchFailed"
	ReasonGitAuthenticationFailed Reason = "GitAuthenticationFailed"
	ReasonVerificationFailed      Reason = "VerificationFailed"
	ReasonHistoryRewritten        Reason = "HistoryRewritten"
	ReasonValidationFailed        Reason = "ValidationFailed"
	ReasonInputTooLarge           Reason = "InputTooLarge"
	ReasonGitTimeout              Reason = "GitTimeout"
	ReasonApplyFailed             Reason = "ApplyFailed"
	ReasonReadFailed              Reason = "ReadFailed"
	ReasonPruneFailed             Reason = "PruneFailed"
	ReasonDeletionGuardTripped    Reason = "DeletionGuardTripped"
	ReasonOwnershipConflict       Reason = "OwnershipConflict"
	ReasonAuthenticationFailed    Reason = "AuthenticationFailed"
	ReasonAdminUnreachable        Reason = "AdminUnreachable"
	ReasonRateLimited             Reason = "RateLimited"
	ReasonDecryptionRequired      Reason = "DecryptionRequired"
)

// Reasons returns the closed set of reasons, in a fixed order.
func Reasons() []Reason {
	return []Reason{
		ReasonFetchFailed, ReasonGitAuthenticationFailed, ReasonVerificationFailed,
		ReasonHistoryRewritten, ReasonValidationFailed, ReasonInputTooLarge, ReasonGitTimeout,
		ReasonApplyFailed, ReasonReadFailed, ReasonPruneFailed, ReasonDeletionGuardTripped,
		ReasonOwnershipConflict, ReasonAuthenticationFailed, ReasonAdminUnreachable,
		ReasonRateLimited, ReasonDecryptionRequired,
	}
}

// FetchReasons are the reasons a fetch of the desired state fails with:
// the reason label values of reconciler_git_fetch_errors_total.
func FetchReasons() []Reason {
	return []Reason{
		ReasonFetchFailed, ReasonGitAuthenticationFailed, ReasonVerificationFailed, ReasonHistoryRewritten,
		ReasonValidationFailed, ReasonInputTooLarge, ReasonGitTimeout,
	}
}

// DeletionGuardReasons are the deletion guards of pkg/apply (its Reason
// values): the reason label values of reconciler_deletes_blocked_total.
func DeletionGuardReasons() []string {
	return []string{"MaxDeletes", "MaxDeletePercent", "EmptyDesired"}
}

// Change is the kind of difference a drifted resource shows.
type Change string

// The changes.
const (
	ChangeCreate Change = "create"
	ChangeUpdate Change = "update"
	ChangeDelete Change = "delete"
)

// Changes returns every change, in a fixed order.
func Changes() []Change { return []Change{ChangeCreate, ChangeUpdate, ChangeDelete} }

// Result is the outcome of a reconcile or of one apply operation.
type Result string

// The results.
const (
	ResultSuccess Result = "success"
	ResultFailure Result = "failure"
	ResultSkipped Result = "skipped"
)

// Build identifies the running binary for reconciler_build_info.
type Build struct {
	Version   string
	Revision  string
	GoVersion string
}

// Metrics are the daemon's collectors. Use the methods: they keep label
// values inside their closed sets.
type Metrics struct {
	driftResources       *prometheus.GaugeVec
	inSync               *prometheus.GaugeVec
	reconcileTotal       *prometheus.CounterVec
	reconcileDuration    *prometheus.HistogramVec
	lastSuccess          *prometheus.GaugeVec
	sourceRevision       *prometheus.GaugeVec
	driftDetected        *prometheus.CounterVec
	applyOperations      *prometheus.CounterVec
	deletesBlocked       *prometheus.CounterVec
	gitFetchDuration     *prometheus.HistogramVec
	gitFetchErrors       *prometheus.CounterVec
	gitLastSuccess       *prometheus.GaugeVec
	gitHistoryRewritten  *prometheus.CounterVec
	adminRequests        *prometheus.CounterVec
	adminRequestDuration *prometheus.HistogramVec
	adminThrottled       *prometheus.CounterVec
	condition            *prometheus.GaugeVec
	tlsVerifyDisabled    *prometheus.GaugeVec
	conflictFlapping     *prometheus.CounterVec
	pruneFailures        *prometheus.CounterVec
	buildInfo            *prometheus.GaugeVec

	mu        sync.Mutex
	revisions map[string]string // target → revision label currently exported
}

// New creates the collectors and registers them on reg.
func New(reg prometheus.Registerer, build Build) *Metrics {
	m := &Metrics{
		driftResources: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "drift_resources",
			Help: "Resources whose live state differs from the desired state, by kind and change.",
		}, []string{"target", "kind", "change"}),
		inSync: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "in_sync",
			Help: "1 when the last read of the gateway found it equal to the desired state, else 0.",
		}, []string{"target"}),
		reconcileTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "reconcile_total",
			Help: "Reconcile cycles, by result.",
		}, []string{"target", "result"}),
		reconcileDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "reconcile_duration_seconds",
			Help:    "Duration of reconcile cycles.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"target"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "last_success_timestamp_seconds",
			Help: "Unix time of the last successful reconcile.",
		}, []string{"target"}),
		sourceRevision: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "source_revision_info",
			Help: "The source revision last loaded, as a label; the value is always 1.",
		}, []string{"target", "revision"}),
		driftDetected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "drift_detected_total",
			Help: "Out-of-band changes seen on the gateway while the source revision did not move, by kind.",
		}, []string{"target", "kind"}),
		applyOperations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "apply_operations_total",
			Help: "Writes and deletes sent to the gateway, by kind, action and result.",
		}, []string{"target", "kind", "action", "result"}),
		deletesBlocked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "deletes_blocked_total",
			Help: "Plans whose deletes a guard refused, by reason.",
		}, []string{"target", "reason"}),
		gitFetchDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "git_fetch_duration_seconds",
			Help:    "Duration of Git fetches, including no-change polls.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"target"}),
		gitFetchErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "git_fetch_errors_total",
			Help: "Failed Git fetches, by reason.",
		}, []string{"target", "reason"}),
		gitLastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "git_last_success_timestamp_seconds",
			Help: "Unix time of the last successful Git fetch or poll.",
		}, []string{"target"}),
		gitHistoryRewritten: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "git_history_rewritten_total",
			Help: "Fetches whose new tip does not descend from the previous one (force-pushes).",
		}, []string{"target"}),
		adminRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "admin_requests_total",
			Help: "Admin API requests, by method and status code (\"error\" when no response came).",
		}, []string{"target", "method", "code"}),
		adminRequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "admin_request_duration_seconds",
			Help:    "Duration of Admin API requests.",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10},
		}, []string{"target", "method"}),
		adminThrottled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "admin_throttled_total",
			Help: "Admin API answers of 429 that made the client wait.",
		}, []string{"target"}),
		condition: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "condition",
			Help: "1 for each reason that currently keeps a target from being Ready, 0 for the others.",
		}, []string{"target", "reason"}),
		tlsVerifyDisabled: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "tls_verify_disabled",
			Help: "1 when TLS verification of the Admin API is switched off for the target.",
		}, []string{"target"}),
		conflictFlapping: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "conflict_flapping_total",
			Help: "Resources corrected again right after a correction: another writer is fighting the reconciler.",
		}, []string{"target", "kind"}),
		pruneFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "prune_failures_total",
			Help: "Deletes of resources no longer declared that failed.",
		}, []string{"target"}),
		buildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "build_info",
			Help: "The running binary's version, commit and Go version; the value is always 1.",
		}, []string{"version", "revision", "goversion"}),
		revisions: make(map[string]string),
	}
	reg.MustRegister(
		m.driftResources, m.inSync, m.reconcileTotal, m.reconcileDuration, m.lastSuccess,
		m.sourceRevision, m.driftDetected, m.applyOperations, m.deletesBlocked,
		m.gitFetchDuration, m.gitFetchErrors, m.gitLastSuccess, m.gitHistoryRewritten,
		m.adminRequests, m.adminRequestDuration, m.adminThrottled, m.condition,
		m.tlsVerifyDisabled, m.conflictFlapping, m.pruneFailures, m.buildInfo,
	)
	m.buildInfo.WithLabelValues(build.Version, build.Revision, build.GoVersion).Set(1)
	return m
}

// InitTarget exports every series of a target at its starting value, so
// that dashboards and alerts see zeros rather than absent series. Counters
// an alert watches with increase() start at 0: a series born at 1 has no
// earlier sample, and its first event would not count.
func (m *Metrics) InitTarget(target string, tlsVerifyDisabled bool) {
	for _, k := range model.Kinds() {
		for _, c := range Changes() {
			m.driftResources.WithLabelValues(target, string(k), string(c)).Set(0)
		}
		m.driftDetected.WithLabelValues(target, string(k))
		m.conflictFlapping.WithLabelValues(target, string(k))
		for _, a := range Changes() { // an apply's action is the change it makes
			for _, r := range []Result{ResultSuccess, ResultFailure} {
				m.applyOperations.WithLabelValues(target, string(k), string(a), string(r))
			}
		}
	}
	for _, r := range DeletionGuardReasons() {
		m.deletesBlocked.WithLabelValues(target, r)
	}
	for _, r := range FetchReasons() {
		m.gitFetchErrors.WithLabelValues(target, string(r))
	}
	for _, r := range Reasons() {
		m.condition.WithLabelValues(target, string(r)).Set(0)
	}
	for _, r := range []Result{ResultSuccess, ResultFailure} {
		m.reconcileTotal.WithLabelValues(target, string(r))
	}
	m.inSync.WithLabelValues(target).Set(0)
	m.adminThrottled.WithLabelValues(target)
	m.pruneFailures.WithLabelValues(target)
	m.gitHistoryRewritten.WithLabelValues(target)
	m.tlsVerifyDisabled.WithLabelValues(target).Set(boolFloat(tlsVerifyDisabled))
}

// SetDrift exports the number of drifted resources of a target by kind and
// change. Every kind and change absent from counts is set to 0.
func (m *Metrics) SetDrift(target string, counts map[model.Kind]map[Change]int) {
	total := 0
	for _, k := range model.Kinds() {
		for _, c := range Changes() {
			n := counts[k][c]
			total += n
			m.driftResources.WithLabelValues(target, string(k), string(c)).Set(float64(n))
		}
	}
	m.inSync.WithLabelValues(target).Set(boolFloat(total == 0))
}

// DriftDetected counts out-of-band changes of one kind.
func (m *Metrics) DriftDetected(target string, kind model.Kind, n int) {
	m.driftDetected.WithLabelValues(target, string(kind)).Add(float64(n))
}

// ObserveReconcile records one reconcile cycle; a success also moves the
// last-success timestamp to end.
func (m *Metrics) ObserveReconcile(target string, result Result, d time.Duration, end time.Time) {
	m.reconcileTotal.WithLabelValues(target, string(result)).Inc()
	m.reconcileDuration.WithLabelValues(target).Observe(d.Seconds())
	if result == ResultSuccess {
		m.lastSuccess.WithLabelValues(target).Set(float64(end.Unix()))
	}
}

// SetRevision exports the revision a target last loaded, replacing the
// previous one so that one series per target remains.
func (m *Metrics) SetRevision(target, revision string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.revisions[target]; ok && old != revision {
		m.sourceRevision.DeleteLabelValues(target, old)
	}
	m.revisions[target] = revision
	m.sourceRevision.WithLabelValues(target, revision).Set(1)
}

// ApplyOperation counts one write or delete.
func (m *Metrics) ApplyOperation(target string, kind model.Kind, action string, result Result) {
	m.applyOperations.WithLabelValues(target, string(kind), action, string(result)).Inc()
}

// DeletesBlocked counts a plan whose deletes a guard refused.
func (m *Metrics) DeletesBlocked(target, reason string) {
	m.deletesBlocked.WithLabelValues(target, reason).Inc()
}

// ObserveGitFetch records one fetch or poll; reason is empty on success.
func (m *Metrics) ObserveGitFetch(target string, d time.Duration, reason Reason, end time.Time) {
	m.gitFetchDuration.WithLabelValues(target).Observe(d.Seconds())
	if reason != "" {
		m.gitFetchErrors.WithLabelValues(target, string(reason)).Inc()
		return
	}
	m.gitLastSuccess.WithLabelValues(target).Set(float64(end.Unix()))
}

// GitHistoryRewritten counts a force-push seen on the tracked ref.
func (m *Metrics) GitHistoryRewritten(target string) {
	m.gitHistoryRewritten.WithLabelValues(target).Inc()
}

// ObserveAdminRequest records one Admin API request. code is the HTTP status,
// or 0 when no response came (exported as "error").
func (m *Metrics) ObserveAdminRequest(target, method string, code int, d time.Duration) {
	c := "error"
	if code > 0 {
		c = strconv.Itoa(code)
	}
	m.adminRequests.WithLabelValues(target, method, c).Inc()
	m.adminRequestDuration.WithLabelValues(target, method).Observe(d.Seconds())
}

// AdminThrottled counts a 429 that made the client wait.
func (m *Metrics) AdminThrottled(target string) { m.adminThrottled.WithLabelValues(target).Inc() }

// SetConditions exports which reasons currently keep a target from being
// Ready: 1 for each of active, 0 for every other reason.
func (m *Metrics) SetConditions(target string, active ...Reason) {
	on := make(map[Reason]bool, len(active))
	for _, r := range active {
		on[r] = true
	}
	for _, r := range Reasons() {
		m.condition.WithLabelValues(target, string(r)).Set(boolFloat(on[r]))
	}
}

// ConflictFlapping counts a resource that another writer keeps changing.
func (m *Metrics) ConflictFlapping(target string, kind model.Kind) {
	m.conflictFlapping.WithLabelValues(target, string(kind)).Inc()
}

// PruneFailure counts a failed delete of a resource no longer declared.
func (m *Metrics) PruneFailure(target string) { m.pruneFailures.WithLabelValues(target).Inc() }

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
