// Package planreport annotates a strata plan for reviewers: for every
// statement, the locks it takes on which relations, whether it rewrites or
// scans them, whether it runs in a transaction, and the linter's verdict on
// it. The plan is linted as one script with its real transaction boundaries,
// so rules see the context (a check validated at start makes SET NOT NULL at
// complete safe).
package planreport

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/stratapg/strata/backfill"
	"github.com/stratapg/strata/lint"
	"github.com/stratapg/strata/pglock"
	"github.com/stratapg/strata/plan"
)

// Statement is one SQL statement of a step.
type Statement struct {
	SQL           string         `json:"sql"`
	InTransaction bool           `json:"in_transaction"`
	Locks         []pglock.Lock  `json:"locks"`
	Findings      []lint.Finding `json:"findings"`
}

// Step is one step of a phase.
type Step struct {
	ID         string        `json:"id"`
	Desc       string        `json:"desc"`
	Kind       plan.StepKind `json:"kind"`
	Statements []Statement   `json:"statements"`
}

// Phase is one of start, backfill, complete and abort.
type Phase struct {
	Name  string `json:"name"`
	Steps []Step `json:"steps"`
}

// Report is an annotated plan.
type Report struct {
	Schema         string  `json:"schema"`
	VersionSchema  string  `json:"version_schema"`
	PreviousSchema string  `json:"previous_schema,omitempty"`
	Phases         []Phase `json:"phases"`
	Errors         int     `json:"errors"`
	Warnings       int     `json:"warnings"`
	// Space is the size report of the tables the backfill fills (set by
	// the caller, which reads the sizes and the free disk; nil when the
	// plan has no backfill or was not sized, e.g. a phase's stored plan).
	Space *Space `json:"space,omitempty"`
}

// Space is what a plan's backfills may need: each table's size, the extra
// size expected with space reuse and the worst case, and the free disk
// strata can see.
type Space struct {
	Tables []TableSpace `json:"tables"`
	// FreeBytes is the free space of the file system holding the tables,
	// -1 when strata cannot see it; FreeWhere names that file system, or
	// says why it is not visible.
	FreeBytes int64  `json:"free_bytes"`
	FreeWhere string `json:"free_where"`
}

// TableSpace is the size report of one table a plan backfills.
type TableSpace struct {
	Table string `json:"table"`
	// SizeBytes is pg_total_relation_size (heap, TOAST, indexes) now.
	SizeBytes int64 `json:"size_bytes"`
	// ExpectedExtraBytes is the growth expected with space reuse;
	// WorstExtraBytes the growth when nothing can be reused (every row
	// written twice).
	ExpectedExtraBytes int64 `json:"expected_extra_bytes"`
	WorstExtraBytes    int64 `json:"worst_extra_bytes"`
}

// HasErrors reports whether the linter found an error in the plan.
func (r *Report) HasErrors() bool { return r.Errors > 0 }

type slot struct {
	phase, step, stmt int
	line              int // first line of the statement in the script
}

// Build annotates plan for the given PostgreSQL major version.
func Build(p *plan.Plan, pgVersion int) (*Report, error) {
	r := &Report{Schema: p.Schema, VersionSchema: p.VersionSchema, PreviousSchema: p.PreviousSchema}
	var start, fill []plan.Step
	for _, st := range p.Start {
		if st.Kind == plan.KindBackfill {
			fill = append(fill, st)
		} else {
			start = append(start, st)
		}
	}
	groups := []struct {
		name  string
		steps []plan.Step
	}{{"start", start}, {"backfill", fill}, {"complete", p.Complete}, {"abort", p.Abort}}
	for _, g := range groups {
		ph := Phase{Name: g.name}
		for _, st := range g.steps {
			s := Step{ID: st.ID, Desc: st.Desc, Kind: st.Kind}
			sqls := st.SQL
			if st.Kind == plan.KindBackfill && st.Backfill != nil {
				b := st.Backfill
				sqls = backfill.BatchSQL(*b)
			}
			for _, q := range sqls {
				s.Statements = append(s.Statements, Statement{SQL: q, InTransaction: st.Tx || st.Kind == plan.KindBackfill})
			}
			ph.Steps = append(ph.Steps, s)
		}
		r.Phases = append(r.Phases, ph)
	}
	cfg := lint.Config{PGVersion: pgVersion, AssumeLockTimeout: true}
	// start, backfill and complete run in that order; abort runs after start.
	if err := r.annotate([]int{0, 1, 2}, map[int]bool{0: true, 1: true, 2: true}, cfg); err != nil {
		return nil, err
	}
	if err := r.annotate([]int{0, 1, 3}, map[int]bool{3: true}, cfg); err != nil {
		return nil, err
	}
	for _, ph := range r.Phases {
		for _, st := range ph.Steps {
			for _, s := range st.Statements {
				for _, f := range s.Findings {
					switch f.Severity {
					case lint.SeverityError:
						r.Errors++
					case lint.SeverityWarning:
						r.Warnings++
					}
				}
			}
		}
	}
	return r, nil
}

// annotate renders the given phases as one script with explicit
// transactions, classifies and lints it, and attaches locks and findings to
// the statements of the target phases (the others are context).
func (r *Report) annotate(phases []int, targets map[int]bool, cfg lint.Config) error {
	var b strings.Builder
	line := 1
	write := func(s string) {
		b.WriteString(s)
		line += strings.Count(s, "\n")
	}
	write("-- " + lint.DirectiveNoTransaction + "\n")
	var slots []slot
	for _, pi := range phases {
		for si, st := range r.Phases[pi].Steps {
			tx := len(st.Statements) > 0 && st.Statements[0].InTransaction
			if tx {
				write("BEGIN;\n")
			}
			for ti, s := range st.Statements {
				slots = append(slots, slot{pi, si, ti, line})
				write(parsable(s.SQL) + ";\n")
			}
			if tx {
				write("COMMIT;\n")
			}
		}
	}
	script := b.String()
	locks, err := pglock.ClassifySQL(script, pglock.Config{PGVersion: cfg.PGVersion, InTransaction: cfg.InTransaction})
	if err != nil {
		return err
	}
	byLine := map[int]*Statement{}
	for _, sl := range slots {
		byLine[sl.line] = &r.Phases[sl.phase].Steps[sl.step].Statements[sl.stmt]
	}
	for _, l := range locks {
		if s := byLine[l.Line]; s != nil && isTarget(slots, l.Line, targets) {
			s.Locks = l.Locks
		}
	}
	findings, err := lint.LintSQL("plan", []byte(script), cfg)
	if err != nil {
		return err
	}
	for _, f := range findings {
		// A finding belongs to the statement that starts at or before its line.
		sl := owner(slots, f.Line)
		if sl == nil || !targets[sl.phase] {
			continue
		}
		s := &r.Phases[sl.phase].Steps[sl.step].Statements[sl.stmt]
		f.File, f.Line, f.Column = "", 0, 0
		s.Findings = append(s.Findings, f)
	}
	return nil
}

func isTarget(slots []slot, line int, targets map[int]bool) bool {
	sl := owner(slots, line)
	return sl != nil && targets[sl.phase]
}

func owner(slots []slot, line int) *slot {
	i := sort.Search(len(slots), func(i int) bool { return slots[i].line > line })
	if i == 0 {
		return nil
	}
	return &slots[i-1]
}

// WriteJSON writes the report as JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for people.
func WriteText(w io.Writer, r *Report) error {
	old := r.PreviousSchema
	if old == "" {
		old = "(base tables)"
	}
	fmt.Fprintf(w, "schema %s: new version schema %s, old version %s\n", r.Schema, r.VersionSchema, old)
	for _, ph := range r.Phases {
		fmt.Fprintf(w, "\n== %s ==\n", ph.Name)
		if len(ph.Steps) == 0 {
			fmt.Fprintln(w, "(nothing)")
		}
		for i, st := range ph.Steps {
			fmt.Fprintf(w, "%d. %s\n", i+1, st.Desc)
			if st.Kind == plan.KindBackfill {
				fmt.Fprintln(w, "   batched: each batch is one short transaction over a bounded key range")
			}
			for _, s := range st.Statements {
				tx := "in a transaction"
				if !s.InTransaction {
					tx = "outside a transaction"
				}
				fmt.Fprintf(w, "   -- %s; %s\n", lockText(s.Locks), tx)
				fmt.Fprintf(w, "   %s;\n", strings.ReplaceAll(s.SQL, "\n", "\n   "))
				for _, f := range s.Findings {
					fmt.Fprintf(w, "   !! %s %s: %s\n", f.Severity, f.Code, f.Message)
				}
			}
		}
	}
	fmt.Fprintf(w, "\nlint: %d error(s), %d warning(s)\n", r.Errors, r.Warnings)
	if sp := r.Space; sp != nil && len(sp.Tables) > 0 {
		fmt.Fprintln(w)
		for _, t := range sp.Tables {
			fmt.Fprintf(w, "space: backfill of %s: table %s, expected extra ~%s with space reuse, worst case %s\n",
				t.Table, BytesText(t.SizeBytes), BytesText(t.ExpectedExtraBytes), BytesText(t.WorstExtraBytes))
		}
		if sp.FreeBytes >= 0 {
			fmt.Fprintf(w, "space: free disk %s at %s\n", BytesText(sp.FreeBytes), sp.FreeWhere)
		} else {
			fmt.Fprintf(w, "space: free disk %s\n", sp.FreeWhere)
		}
	}
	return nil
}

// BytesText renders a size for people (backfill.BytesText).
func BytesText(n int64) string { return backfill.BytesText(n) }

func lockText(locks []pglock.Lock) string {
	if len(locks) == 0 {
		return "no table lock"
	}
	var parts []string
	for _, l := range locks {
		parts = append(parts, fmt.Sprintf("%s on %s (%s)", l.Mode, l.Relation, l.Effect()))
	}
	return strings.Join(parts, ", ")
}

// notNullConstraint is the statement the planner adds NOT NULL with on
// PostgreSQL 18 (ADD CONSTRAINT name NOT NULL column NOT VALID), a syntax
// the SQL parser (PostgreSQL 17's grammar) does not know.
var notNullConstraint = regexp.MustCompile(`^(ALTER TABLE (?:"(?:[^"]|"")*"|\w+)(?:\.(?:"(?:[^"]|"")*"|\w+))? ADD CONSTRAINT (?:"(?:[^"]|"")*"|\w+)) NOT NULL ((?:"(?:[^"]|"")*"|\w+)) NOT VALID$`)

// parsable returns sql as the lock classifier and the linter are to read
// it: the PostgreSQL 18 NOT VALID NOT NULL constraint as the NOT VALID check
// of the same column, which takes the same lock (ACCESS EXCLUSIVE, briefly,
// no scan) and is as safe. The report still shows the statement as planned.
func parsable(sql string) string {
	return notNullConstraint.ReplaceAllString(sql, "$1 CHECK ($2 IS NOT NULL) NOT VALID")
}
