// Package plan is the data strata computes before it changes anything: the
// steps of the start, complete and abort phases of one migration phase, each
// with its SQL. It is plain, JSON-stable data (stored in the state schema at
// start so complete and abort do not depend on the migration files any
// more), printed by `strata plan` and golden-tested without a server. It
// imports nothing of strata's: every other package may use it.
//
// Locks are not part of the data: the lock classifier (package pglock)
// derives them from the SQL.
package plan

// Version is the layout version of a stored plan.
const Version = 1

// StepKind says how the runner executes a step.
type StepKind string

// Step kinds.
const (
	// KindSQL runs the step's statements, in one transaction with the
	// cursor update when Tx is set.
	KindSQL StepKind = "sql"
	// KindBackfill fills a table in batches as Step.Backfill says.
	KindBackfill StepKind = "backfill"
	// KindIndex builds one index with CREATE INDEX CONCURRENTLY (its only
	// statement), outside a transaction: an INVALID index left by a failed
	// or interrupted build is dropped and the build retried.
	KindIndex StepKind = "index"
)

// Phase names one of the three step lists of a plan.
type Phase string

// Phases.
const (
	Start    Phase = "start"
	Complete Phase = "complete"
	Abort    Phase = "abort"
)

// Step is one unit of work of a phase: plain data, so it can be stored,
// printed, linted and golden-tested. A transactional step runs all its
// statements in one transaction together with the cursor update that records
// it, so it happens exactly once; a non-transactional step must be safe to
// re-run.
type Step struct {
	ID       string        `json:"id"`
	Kind     StepKind      `json:"kind"`
	Desc     string        `json:"desc"`
	SQL      []string      `json:"sql,omitempty"`
	Tx       bool          `json:"tx"`
	Backfill *BackfillSpec `json:"backfill,omitempty"`
	Index    *IndexSpec    `json:"index,omitempty"`
}

// IndexSpec names the index a KindIndex step builds.
type IndexSpec struct {
	Schema string `json:"schema"`
	Table  string `json:"table"`
	Name   string `json:"name"`
}

// BackfillSpec says which table a KindBackfill step fills and how. Package
// backfill executes it (backfill.Spec is this type).
type BackfillSpec struct {
	Schema   string   `json:"schema"`
	Table    string   `json:"table"` // physical table
	Key      []string `json:"key"`   // physical key columns; empty: ctid page ranges
	KeyTypes []string `json:"key_types"`
	// Set is the SET list of the batch UPDATE. With Direct it computes the
	// new columns itself and the sync trigger stands aside; otherwise it is
	// a no-op assignment that fires the sync trigger, which computes them.
	Set    string `json:"set"`
	Direct bool   `json:"direct,omitempty"`
	// Statement, when set, replaces the UPDATE ... SET of a batch: a whole
	// statement (e.g. an INSERT ... SELECT filling another table) in which
	// RangePlaceholder stands for the batch's key range predicate over
	// Table's key columns.
	Statement string `json:"statement,omitempty"`
}

// RangePlaceholder marks where a BackfillSpec.Statement takes the batch's
// key range.
const RangePlaceholder = "{{strata_range}}"

// Plan is every step of one phase, computed at start and stored, so that
// complete and abort do not depend on the migration files any more.
type Plan struct {
	Version        int    `json:"version"`
	PGMajor        int    `json:"pg_major"`
	Schema         string `json:"schema"`
	VersionSchema  string `json:"version_schema"`
	PreviousSchema string `json:"previous_schema,omitempty"`
	// VersionStyle is the version schema style of the phase ("reshape":
	// a view of every table; "" is strata's, views only where a table's
	// shape differs). See migration.Styles.
	VersionStyle string `json:"version_style,omitempty"`
	Start        []Step `json:"start"`
	Complete     []Step `json:"complete"`
	Abort        []Step `json:"abort"`
}

// Steps returns the steps of one phase (nil for an unknown phase).
func (p *Plan) Steps(ph Phase) []Step {
	switch ph {
	case Start:
		return p.Start
	case Complete:
		return p.Complete
	case Abort:
		return p.Abort
	}
	return nil
}

// EnumAddValuePrefix starts the ID of a start step that adds a value to an
// enum: "enum-add-value:<enum>:<value>". PostgreSQL cannot remove the value,
// so abort leaves it, and a later start of the same step accepts it.
const EnumAddValuePrefix = "enum-add-value:"
