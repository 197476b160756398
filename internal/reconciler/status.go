package reconciler

import (
	"time"

	"github.com/gitops-gateway/reconciler/internal/metrics"
	"github.com/gitops-gateway/reconciler/pkg/diff"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// HistorySize is the number of cycles kept in a target's status.
const HistorySize = 10

// maxStatusDrift bounds the drift list of a status; the rest is counted.
const maxStatusDrift = 500

// maxStatusWarnings bounds the warnings of a status; the rest is counted.
const maxStatusWarnings = 500

// DriftType says who moved: Git or the gateway.
type DriftType string

// The drift types.
const (
	// DriftPending: the desired state changed (a new revision) and the
	// gateway does not reflect it yet.
	DriftPending DriftType = "pending"
	// Drift: the gateway changed while the desired state of that resource
	// did not: someone edited it behind Git's back.
	Drift DriftType = "drift"
)

// ItemState is what the cycle did about one difference.
type ItemState string

// The item states.
const (
	StateCorrected ItemState = "corrected" // written (apply mode)
	StateFailed    ItemState = "failed"    // the write or delete failed
	StateSkipped   ItemState = "skipped"   // a dependency failed, or shutdown
	StateHeld      ItemState = "held"      // a guard held it back (prune off, deletion guard, ownership)
	StateReported  ItemState = "reported"  // detect mode: reported, never written
	StateSuspended ItemState = "suspended" // the target is suspended
	StatePaused    ItemState = "paused"    // writes paused by a 401 until the token changes
	StateBackoff   ItemState = "backoff"   // another writer keeps changing it: self-heal held back
	StateStandby   ItemState = "standby"   // another replica holds the lease
)

// Trigger is why a cycle ran.
type Trigger string

// The triggers.
const (
	TriggerStart    Trigger = "start"
	TriggerInterval Trigger = "interval"
	TriggerRetry    Trigger = "retry"
	TriggerWebhook  Trigger = "webhook"
	TriggerToken    Trigger = "token"
	TriggerManual   Trigger = "manual"
)

// Result is the outcome of a cycle.
type Result string

// The results.
const (
	ResultSuccess     Result = "success"
	ResultFailure     Result = "failure"
	ResultInterrupted Result = "interrupted" // shutdown stopped it
)

// Field is one changed location of a resource, with masked values.
type Field struct {
	Path   string `json:"path"`
	Old    any    `json:"old,omitempty"`
	New    any    `json:"new,omitempty"`
	Secret bool   `json:"secret,omitempty"`
}

// Item is one resource whose live state differs from its desired state.
type Item struct {
	Kind   model.Kind  `json:"kind"`
	Key    string      `json:"key"`
	Name   string      `json:"name,omitempty"`
	Action diff.Action `json:"action"`
	Type   DriftType   `json:"type"`
	Origin string      `json:"origin,omitempty"` // file:line of the desired resource
	Fields []Field     `json:"fields,omitempty"`
	State  ItemState   `json:"state"`
	Error  string      `json:"error,omitempty"`
}

// Warning is a problem of the revision being served that does not stop it
// from being applied: a secret written in plain text in Git (reliability
// row B5). It names where the secret is, never its value.
type Warning struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Resource string `json:"resource"`
	Field    string `json:"field"`
	Message  string `json:"message"`
}

// Condition is one reason the target is not Ready.
type Condition struct {
	Reason  metrics.Reason `json:"reason"`
	Message string         `json:"message"`
	Since   time.Time      `json:"since"`
}

// Counts summarise a cycle.
type Counts struct {
	Drift   int `json:"drift"`   // out-of-band changes seen
	Pending int `json:"pending"` // changes waiting from Git
	Applied int `json:"applied"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
}

// Cycle records one reconcile.
type Cycle struct {
	Number   int64            `json:"number"`
	Start    time.Time        `json:"start"`
	Duration time.Duration    `json:"durationNanoseconds"`
	Trigger  Trigger          `json:"trigger"`
	Revision string           `json:"revision,omitempty"`
	Result   Result           `json:"result"`
	Reasons  []metrics.Reason `json:"reasons,omitempty"`
	Error    string           `json:"error,omitempty"`
	Counts   Counts           `json:"counts"`
	// Read reports that the gateway was read and compared with a desired
	// state.
	Read bool `json:"read"`
	// Items are the differences this cycle found (not in the JSON of the
	// history: the status has the latest ones).
	Items []Item `json:"-"`
	// Changes is the number of differences found.
	Changes int `json:"changes"`
}

// Status is what a target reports at /status.
type Status struct {
	Name      string `json:"name"`
	Mode      Mode   `json:"mode"`
	Suspended bool   `json:"suspended"`
	// Ready reports that the target completed a read and no condition is
	// active.
	Ready bool `json:"ready"`
	// Observed reports that the target has compared the gateway with a
	// desired state at least once (what /readyz waits for).
	Observed bool `json:"observed"`
	// Revision is the revision being served (the last good one); Source
	// Revision the newest one fetched when it differs (invalid,
	// unverified or refused).
	Revision       string    `json:"revision,omitempty"`
	SourceRevision string    `json:"sourceRevision,omitempty"`
	Commit         Commit    `json:"commit"`
	Source         string    `json:"source,omitempty"`
	Server         string    `json:"server,omitempty"`
	InSync         bool      `json:"inSync"`
	LastResult     Result    `json:"lastResult,omitempty"`
	LastTime       time.Time `json:"lastTime,omitzero"`
	LastSuccess    time.Time `json:"lastSuccess,omitzero"`
	LastError      string    `json:"lastError,omitempty"`
	NextCycle      time.Time `json:"nextCycle,omitzero"`
	// WritesPaused reports that a 401 paused writes until the token
	// changes.
	WritesPaused bool `json:"writesPaused"`
	// Leader is false while another replica holds this target's lease.
	Leader     bool        `json:"leader"`
	Conditions []Condition `json:"conditions"`
	Drift      []Item      `json:"drift"`
	// DriftTruncated counts the differences left out of Drift.
	DriftTruncated int `json:"driftTruncated,omitempty"`
	// Warnings are those of the revision being served.
	Warnings []Warning `json:"warnings"`
	// WarningsTruncated counts the warnings left out of Warnings.
	WarningsTruncated int     `json:"warningsTruncated,omitempty"`
	History           []Cycle `json:"history"`
}
