package lint

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stratapg/strata/pglock"
)

// Severities.
const (
	// SeverityError: long work under a lock that blocks reads or writes, a
	// statement that fails at run time, or data loss.
	SeverityError = "error"
	// SeverityWarning: breaks the application version still running, or a
	// brief strong lock that needs a lock_timeout.
	SeverityWarning = "warning"
	// SeverityInfo: style; info rules are off unless enabled.
	SeverityInfo = "info"
)

// Rule groups, usable in Config.Enable and Config.Disable.
const (
	GroupLocking     = "locking"     // long work under a strong lock
	GroupTimeout     = "timeout"     // brief strong locks and lock_timeout
	GroupCompat      = "compat"      // changes that break the running application version
	GroupTransaction = "transaction" // transaction shape
	GroupCorrectness = "correctness" // statements that fail or leave a mess when run or re-run
	GroupHygiene     = "hygiene"     // opt-in type and naming hygiene (info)
	GroupMeta        = "meta"        // syntax errors and suppression comments
)

// Rule is one lint rule.
type Rule struct {
	// Code is the stable identifier, e.g. "SA001".
	Code string `json:"code"`
	// Name is a stable kebab-case name, e.g. "adding-volatile-default".
	Name string `json:"name"`
	// Group is one of the Group constants.
	Group string `json:"group"`
	// Severity is one of the Severity constants.
	Severity string `json:"severity"`
	// Message is the rule's one-line summary; findings carry a specific one.
	Message string `json:"message"`
	// Why explains what goes wrong in production.
	Why string `json:"why"`
	// SafeWay is how to get the same result safely.
	SafeWay string `json:"safe_way"`
}

// rule is a Rule with its checks.
type rule struct {
	Rule
	check  func(p *pass, s *stmtCtx) // per statement, before the statement is applied to the state
	finish func(p *pass)             // at the end of the file
}

var groups = []string{GroupLocking, GroupTimeout, GroupCompat, GroupTransaction, GroupCorrectness, GroupHygiene, GroupMeta}

// selects reports whether a selector (code, name, group or "all") names r,
// and whether the selector is known at all.
func selects(sel string, r *rule) (match, known bool) {
	sel = strings.TrimSpace(sel)
	switch {
	case strings.EqualFold(sel, "all"):
		return true, true
	case slices.ContainsFunc(groups, func(g string) bool { return strings.EqualFold(g, sel) }):
		return strings.EqualFold(r.Group, sel), true
	case lookupRule(sel) != nil:
		return lookupRule(sel) == r, true
	}
	return false, false
}

// Config configures the linter. The zero value lints for PostgreSQL 15,
// with each statement running in its own transaction and the info rules off.
type Config struct {
	// PGVersion is the target PostgreSQL major version (e.g. 16); 0 means 15.
	PGVersion int `json:"pg_version,omitempty"`
	// InTransaction tells that the runner wraps each file in one
	// transaction. A file saying "-- strata:no-transaction" runs outside one
	// whatever this says. Explicit BEGIN/COMMIT in a file are tracked either
	// way.
	InTransaction bool `json:"in_transaction,omitempty"`
	// AssumeLockTimeout tells that the runner sets lock_timeout itself (as
	// strata's own plan does), so statements need not.
	AssumeLockTimeout bool `json:"assume_lock_timeout,omitempty"`
	// EnableInfo turns on every info-severity rule.
	EnableInfo bool `json:"enable_info,omitempty"`
	// Enable turns rules on (info rules are off by default) and Disable turns
	// them off; each entry is a code ("SA001"), a rule name
	// ("adding-volatile-default"), a group ("hygiene") or "all". Disable wins.
	Enable  []string `json:"enable,omitempty"`
	Disable []string `json:"disable,omitempty"`
	// ColumnTypes are the known types of existing columns, keyed
	// "table.column" or "schema.table.column", valued with a SQL type
	// ("varchar(20)"), e.g. read from the database. They let the linter tell
	// binary-coercible type changes from rewriting ones.
	ColumnTypes map[string]string `json:"column_types,omitempty"`
	// NotNullColumns are existing columns known to be NOT NULL, as
	// "table.column" or "schema.table.column" (e.g. read from the
	// database): an up expression that reads only such columns cannot
	// yield NULL because of them (SA030).
	NotNullColumns []string `json:"not_null_columns,omitempty"`
}

// DefaultPGVersion is the PostgreSQL major version assumed when
// Config.PGVersion is 0.
const DefaultPGVersion = pglock.DefaultPGVersion

func (c Config) normalized() Config {
	if c.PGVersion == 0 {
		c.PGVersion = DefaultPGVersion
	}
	return c
}

// validate checks the selectors of Enable and Disable.
func (c Config) validate() error {
	for _, list := range [][]string{c.Enable, c.Disable} {
		for _, sel := range list {
			if _, known := selects(sel, registry["SA001"]); !known {
				return errorf("unknown rule or group %q", sel)
			}
		}
	}
	if c.PGVersion != 0 && (c.PGVersion < 9 || c.PGVersion > 99) {
		return errorf("PostgreSQL major version %d out of range", c.PGVersion)
	}
	return nil
}

// Enabled reports whether the configuration turns rule r on.
func (c Config) Enabled(r Rule) bool {
	reg := registry[r.Code]
	if reg == nil {
		return false
	}
	for _, sel := range c.Disable {
		if m, _ := selects(sel, reg); m {
			return false
		}
	}
	if reg.Severity != SeverityInfo || c.EnableInfo {
		return true
	}
	for _, sel := range c.Enable {
		if m, _ := selects(sel, reg); m {
			return true
		}
	}
	return false
}

func errorf(format string, args ...any) error {
	return fmt.Errorf(""+format, args...)
}
