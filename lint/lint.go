// Package lint checks PostgreSQL migration SQL for lock-safety: which lock
// each statement takes, on which relations, whether it rewrites or scans the
// table under that lock, what breaks for the application version still
// running, and the safe way to do the same.
//
// LintSQL and LintPaths run the rules (see Rules and docs/lint.md) over SQL
// text. The lock classification the rules build on is package pglock.
package lint

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/stratapg/strata/internal/pgquery"
	"github.com/stratapg/strata/migration"
	"github.com/stratapg/strata/pglock"
)

// Finding is one problem found in a file.
type Finding struct {
	File string `json:"file"`
	// Line and Column are 1-based; Column counts characters.
	Line   int `json:"line"`
	Column int `json:"column"`
	// Code is the rule's code, Rule its name.
	Code     string `json:"code"`
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	// Message is specific to this finding; Why and SafeWay are the rule's.
	Message string `json:"message"`
	Why     string `json:"why"`
	SafeWay string `json:"safe_way"`
	// Statement is the source text of the statement the finding is about
	// (empty for syntax errors and comments).
	Statement string `json:"statement,omitempty"`
}

// found is a finding and the index of its statement in the file (-1 if none).
type found struct {
	Finding
	stmt int
}

// HasErrors reports whether any finding has error severity.
func HasErrors(findings []Finding) bool {
	for _, f := range findings {
		if f.Severity == SeverityError {
			return true
		}
	}
	return false
}

// DirectiveNoTransaction in a comment of a file says the file runs without a
// wrapping transaction, whatever Config.InTransaction says.
const DirectiveNoTransaction = "strata:no-transaction"

// DirectiveIgnore starts a suppression comment:
//
//	-- strata:ignore SA001[,SA002...] reason
const DirectiveIgnore = "strata:ignore"

// LintSQL lints src, the content of file (used only to label findings). A
// syntax error is a finding (SA000), not an error: the statements around it
// are still linted. The error is for a bad Config.
func LintSQL(file string, src []byte, cfg Config) ([]Finding, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.normalized()
	cat := pglock.NewCatalog()
	if err := cat.AddColumnTypes(cfg.ColumnTypes); err != nil {
		return nil, errorf("%w", err)
	}
	return lintFile(file, string(src), &cfg, cat), nil
}

// LintPaths lints files and directories (searched recursively for *.sql
// files, in lexical order; files named explicitly are linted whatever their
// extension). Files are read as migration.ReadFile reads them: a file that is
// not a regular file, or is larger than migration.MaxFileSize, is an error
// (a *migration.Error naming it) before it is read; such files do not stop
// the others: LintPaths returns every other file's findings together with
// an error joining one *migration.Error per unreadable file. Other errors
// (a path that does not exist) return no findings. Files are linted in order, and column types learnt from
// earlier files (CREATE TABLE, ADD COLUMN, ...) are known in later ones, so
// that a type change can be checked against the column's type.
func LintPaths(paths []string, cfg Config) ([]Finding, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.normalized()
	files, err := sqlFiles(paths)
	if err != nil {
		return nil, err
	}
	cat := pglock.NewCatalog()
	if err := cat.AddColumnTypes(cfg.ColumnTypes); err != nil {
		return nil, errorf("%w", err)
	}
	var out []Finding
	var unreadable []error
	for _, f := range files {
		src, err := migration.ReadFile(f)
		var fe *migration.Error
		if errors.As(err, &fe) {
			// Names the file and says why; the other files are still
			// linted, so one bad file hides no finding.
			unreadable = append(unreadable, fe)
			continue
		}
		if err != nil {
			return nil, errorf("read: %w", err)
		}
		out = append(out, lintRunnable(f, src, &cfg, cat)...)
	}
	return out, errors.Join(unreadable...)
}

// lintRunnable lints the part of a .sql file that its runner runs, read as
// strata's runner reads it (migration.RunnableSQL): a goose file's Up part
// (its Down part and annotations are blanked, line numbers stay), in the
// transaction shape its annotations give; golang-migrate's .up.sql and
// .down.sql files and Flyway's files as they are.
func lintRunnable(file string, src []byte, cfg *Config, cat *pglock.Catalog) []Finding {
	if !strings.EqualFold(filepath.Ext(file), ".sql") {
		return lintFile(file, string(src), cfg, cat)
	}
	text, noTx, _, perr := migration.RunnableSQL(file, src)
	if perr != nil {
		r := registry[codeSyntax]
		return []Finding{{File: file, Line: max(perr.Line, 1), Column: 1, Code: r.Code, Rule: r.Name, Severity: r.Severity,
			Message: perr.Msg, Why: r.Why, SafeWay: r.SafeWay}}
	}
	if noTx && cfg.InTransaction {
		c := *cfg
		c.InTransaction = false
		cfg = &c
	}
	return lintFile(file, text, cfg, cat)
}

// sqlFiles expands paths into the list of files to lint.
func sqlFiles(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, errorf("%w", err)
		}
		if !info.IsDir() {
			files = append(files, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.EqualFold(filepath.Ext(path), ".sql") {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, errorf("walk %s: %w", p, err)
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, nil
}

// stmtCtx is a statement being checked, with its locks.
type stmtCtx struct {
	*pgquery.Statement
	locks []pglock.Lock
}

// pass is one run of the rules over one file.
type pass struct {
	cfg      *Config
	file     string
	f        *pgquery.File
	st       *pglock.State
	rule     *rule
	stmts    []*stmtCtx
	findings []found
}

// report records a finding of the current rule about statement s at byte
// offset off (use s.Pos.Offset for the statement's start).
func (p *pass) report(s *stmtCtx, off int, format string, args ...any) {
	p.reportRule(p.rule, s, off, fmt.Sprintf(format, args...))
}

func (p *pass) reportRule(r *rule, s *stmtCtx, off int, msg string) {
	pos := p.f.Position(off)
	f := found{Finding: Finding{
		File:     p.file,
		Line:     pos.Line,
		Column:   pos.Column,
		Code:     r.Code,
		Rule:     r.Name,
		Severity: r.Severity,
		Message:  msg,
		Why:      r.Why,
		SafeWay:  r.SafeWay,
	}, stmt: -1}
	if s != nil {
		f.Statement = s.Text
		f.stmt = s.Index
	}
	p.findings = append(p.findings, f)
}

// existing reports whether rel existed before this file (was not created by
// an earlier statement of the file).
func (p *pass) existing(rel string) bool { return !p.st.IsNew(rel) }

func lintFile(file, src string, cfg *Config, cat *pglock.Catalog) []Finding {
	f := pgquery.ParseTolerant(src)
	fileTx := cfg.InTransaction
	for _, c := range f.Comments {
		if c.Body() == DirectiveNoTransaction {
			fileTx = false
		}
	}
	p := &pass{cfg: cfg, file: file, f: f, st: pglock.NewState(pglock.Config{PGVersion: cfg.PGVersion, InTransaction: fileTx}, cat)}
	var enabled []*rule
	for _, r := range allRules {
		if cfg.Enabled(r.Rule) {
			enabled = append(enabled, r)
		}
	}
	if cfg.Enabled(registry[codeSyntax].Rule) {
		for _, e := range f.Errors {
			p.reportRule(registry[codeSyntax], nil, e.Pos.Offset, e.Message)
		}
	}
	p.stmts = make([]*stmtCtx, len(f.Statements))
	for i, s := range f.Statements {
		ctx := &stmtCtx{Statement: s, locks: p.st.Classify(s)}
		p.stmts[i] = ctx
		for _, r := range enabled {
			if r.check != nil {
				p.rule = r
				r.check(p, ctx)
			}
		}
		p.st.Apply(s, ctx.locks)
	}
	for _, r := range enabled {
		if r.finish != nil {
			p.rule = r
			r.finish(p)
		}
	}
	p.suppress()
	sort.SliceStable(p.findings, func(i, j int) bool {
		a, b := p.findings[i], p.findings[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.Code < b.Code
	})
	out := make([]Finding, len(p.findings))
	for i, f := range p.findings {
		out[i] = f.Finding
	}
	return out
}
