// Package reconciler is the daemon: one loop per target that keeps a
// gateway in step with its desired state.
//
// Each cycle reads like the pipeline:
//
//		fetch → load → read → compare → apply → record
//
//	  - fetch asks the Source for its snapshot. When the revision did not
//	    move, nothing is loaded again, but the gateway is still read, so that
//	    hand edits are seen. When the fetch fails, or the new revision is
//	    invalid, unverified, encrypted or refused, the last good revision
//	    keeps serving drift detection and correction.
//	  - read lists the gateway's owned objects (a partial read is an error:
//	    nothing is written after it) and the server's defaults.
//	  - compare diffs, and classifies each difference as pending or drift
//	    (see below); drift is logged and audited with its masked field
//	    changes.
//	  - apply, in apply mode, plans (with the deletion and ownership guards)
//	    and executes, one write per resource at most. Detect mode, a
//	    suspended target, writes paused by a 401, and a replica without the
//	    lease only report.
//	  - record sets the conditions (a closed set of reasons), the metrics,
//	    the status and its history, and syncs the audit file.
//
// # Drift
//
// A difference is pending when Git moved: the desired state of that
// resource changed (created, changed or removed by a new revision) since the
// gateway last matched it. It is drift when the gateway moved: the desired
// state of that resource is what it was when the gateway last matched it,
// yet the gateway now differs (a hand edit, a hand delete, or an object
// created with our label). The classification is per resource, so a commit
// that changes one route does not turn a hand edit of another into pending.
// The first cycle after a start has nothing to compare with: its
// differences are pending.
//
// A resource corrected in one cycle and drifted again at the next is being
// fought over by another writer: reconciler_conflict_flapping_total counts
// it, and its correction is held back for a growing time (the interval,
// doubled each time, capped at five minutes or the interval).
//
// # Timing
//
// Cycles run every interval with ±10% jitter; after a failed cycle, sooner
// or later by an exponential backoff (5 s doubled per failure, capped at
// 5 min); a webhook or a reloaded token runs one at once. The clock and the
// random source are injected, so tests advance time instead of sleeping.
package reconciler
