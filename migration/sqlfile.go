package migration

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/stratapg/strata/internal/pgquery"
)

// Kinds of migration files, as recorded in the history.
const (
	KindSQL  = "sql"
	KindTOML = "toml"
	KindJSON = "json"
)

// Formats of .sql files: the runner whose conventions the file follows.
const (
	FormatStrata        = "strata"
	FormatGoose         = "goose"
	FormatGolangMigrate = "golang-migrate"
	FormatFlyway        = "flyway"
)

// DirectiveNoTransaction, as the first line of a .sql file, runs its
// statements one by one outside a transaction.
const DirectiveNoTransaction = "-- strata:no-transaction"

// SQL is the runnable part of a plain .sql migration.
type SQL struct {
	// Format is the convention the file follows (FormatStrata, ...).
	Format string
	// Version is the version the file's name gives (leading digits, or
	// Flyway's V<digits>), without leading zeros; "" when it has none.
	Version string
	// NoTransaction: the statements run one by one, outside a transaction.
	NoTransaction bool
	// Source is the file's text with every line that does not run (goose
	// annotations, its Down part) blanked, so positions stay the file's.
	Source string
	// Statements are the statements that run, in order.
	Statements []SQLStatement
}

// SQLStatement is one statement of a .sql migration.
type SQLStatement struct {
	Text string
	Line int
	// Node is the statement's parse tree (the runner reads what kind of
	// statement it is without parsing it again).
	Node *pgquery.Node `json:"-"`
}

var (
	gooseRE     = regexp.MustCompile(`^\s*--\s*\+goose\s+(.*?)\s*$`)
	flywayRE    = regexp.MustCompile(`^[Vv](\d+(?:[._]\d+)*)__(.+)$`)
	leadDigitRE = regexp.MustCompile(`^(\d+)`)
)

// IsSQLFile reports whether a file name is a .sql migration that runs
// (golang-migrate's .down.sql files do not).
func IsSQLFile(name string) bool {
	return strings.HasSuffix(name, ".sql") && !strings.HasSuffix(name, ".down.sql")
}

// sqlName is the migration name of a .sql file: its base name without
// ".sql" (and without golang-migrate's ".up").
func sqlName(file string) string {
	base := path.Base(filepath.ToSlash(file))
	base = strings.TrimSuffix(base, ".sql")
	return strings.TrimSuffix(base, ".up")
}

// FileVersion is the version a migration name carries: Flyway's V<n>, else
// its leading digits, without leading zeros; "" when it has none.
func FileVersion(name string) string {
	v := ""
	if m := flywayRE.FindStringSubmatch(name); m != nil {
		v = m[1]
	} else if m := leadDigitRE.FindStringSubmatch(name); m != nil {
		v = m[1]
	}
	if v == "" {
		return ""
	}
	if t := strings.TrimLeft(v, "0"); t != "" {
		return t
	}
	return "0"
}

// RunnableSQL returns the part of a .sql file that runs, with every other
// line blanked (so line numbers stay the file's), and whether it runs
// outside a transaction. It reads goose annotations; it fails on a goose
// file without "-- +goose Up".
func RunnableSQL(file string, data []byte) (src string, noTx bool, format string, err *Error) {
	text := string(data)
	base := path.Base(filepath.ToSlash(file))
	format = FormatStrata
	switch {
	case strings.HasSuffix(base, ".up.sql") || strings.HasSuffix(base, ".down.sql"):
		format = FormatGolangMigrate
	case flywayRE.MatchString(strings.TrimSuffix(base, ".sql")):
		format = FormatFlyway
	}
	lines := strings.SplitAfter(text, "\n")
	if len(lines) > 0 && strings.TrimRight(lines[0], "\r\n \t") == DirectiveNoTransaction {
		noTx = true
	}
	isGoose := false
	for _, l := range lines {
		if gooseRE.MatchString(l) {
			isGoose = true
			break
		}
	}
	if !isGoose {
		for i, l := range lines {
			if i > 0 && strings.TrimSpace(l) == DirectiveNoTransaction {
				return "", false, format, &Error{File: file, Line: i + 1, Msg: "-- strata:no-transaction must be the first line of the file"}
			}
		}
		return text, noTx, format, nil
	}
	format = FormatGoose
	var b strings.Builder
	section := "" // "", "up", "down"
	sawUp := false
	for i, l := range lines {
		m := gooseRE.FindStringSubmatch(l)
		if m == nil {
			if section == "up" {
				b.WriteString(l)
			} else {
				b.WriteString(blank(l))
			}
			continue
		}
		switch ann := strings.ToLower(strings.Fields(m[1] + " ")[0]); ann {
		case "up":
			if sawUp {
				return "", false, format, &Error{File: file, Line: i + 1, Msg: "a second -- +goose Up annotation"}
			}
			section, sawUp = "up", true
		case "down":
			section = "down"
		case "no":
			if strings.EqualFold(strings.TrimSpace(m[1]), "NO TRANSACTION") {
				noTx = true
			}
		case "statementbegin", "statementend", "envsub":
		default:
			return "", false, format, &Error{File: file, Line: i + 1, Msg: fmt.Sprintf("unknown goose annotation %q", strings.TrimSpace(m[1]))}
		}
		b.WriteString(blank(l))
	}
	if !sawUp {
		return "", false, format, &Error{File: file, Line: 1, Msg: "a goose file without a -- +goose Up annotation: nothing would run (hint: mark the statements to run with -- +goose Up)"}
	}
	return b.String(), noTx, format, nil
}

// blank keeps only the line terminator of l.
func blank(l string) string {
	if strings.HasSuffix(l, "\r\n") {
		return "\r\n"
	}
	if strings.HasSuffix(l, "\n") {
		return "\n"
	}
	return ""
}

// ParseSQL reads a plain .sql migration: its runnable part, its statements
// (a statement that does not parse is an error naming file, line and
// column) and its transaction shape. Transaction control statements are
// refused: strata runs the file in one transaction, or statement by
// statement when its first line is -- strata:no-transaction.
func ParseSQL(file string, data []byte) (*Migration, error) {
	sum := sha256.Sum256(data)
	name := sqlName(file)
	m := &Migration{Name: name, File: file, Checksum: hex.EncodeToString(sum[:]), Kind: KindSQL}
	src, noTx, format, perr := RunnableSQL(file, data)
	if perr != nil {
		return nil, ValidationErrors{perr}
	}
	m.SQL = &SQL{Format: format, Version: FileVersion(name), NoTransaction: noTx, Source: src}
	f, err := pgquery.Parse(src)
	if err != nil {
		if se, ok := err.(*pgquery.SyntaxError); ok {
			return nil, ValidationErrors{{File: file, Line: se.Pos.Line, Msg: fmt.Sprintf("column %d: the SQL does not parse: %s", se.Pos.Column, se.Message)}}
		}
		return nil, ValidationErrors{{File: file, Msg: "the SQL does not parse: " + err.Error()}}
	}
	var errs ValidationErrors
	for _, s := range f.Statements {
		if s.Node.GetTransactionStmt() != nil {
			shape := "strata runs the file in one transaction"
			if noTx {
				shape = "the file runs without a transaction (-- strata:no-transaction), statement by statement"
			}
			errs = append(errs, &Error{File: file, Line: s.Pos.Line, Msg: fmt.Sprintf("column %d: %s: transaction control is not allowed: %s (hint: remove it)", s.Pos.Column, firstWord(s.Text), shape)})
			continue
		}
		m.SQL.Statements = append(m.SQL.Statements, SQLStatement{Text: s.Text, Line: s.Pos.Line, Node: s.Node})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return m, nil
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return strings.ToUpper(f[0])
	}
	return s
}
