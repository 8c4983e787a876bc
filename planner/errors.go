package planner

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratapg/strata/internal/pgexec"
)

// ErrInvalid is matched (errors.Is) by errors about a migration that cannot
// be applied to this database, found before anything was changed.
var ErrInvalid = errors.New("invalid migration")

// PlanError locates a problem in a migration file.
type PlanError struct {
	Where string // "file:line: key"
	Msg   string
}

func (e *PlanError) Error() string { return e.Where + ": " + e.Msg }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *PlanError) Is(target error) bool { return target == ErrInvalid }

// pgDetail renders a PostgreSQL error with its detail, if any.
func pgDetail(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Detail != "" {
		return pgErr.Message + " (" + strings.TrimSuffix(pgErr.Detail, ".") + ")"
	}
	return pgMessage(err)
}

// unsafeEnumValue reports an "unsafe use of new value" error: an enum value
// added in the current transaction was used before commit.
func unsafeEnumValue(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55P04"
}

// verdict judges the error of a check (a Prober method that runs in a
// rolled-back savepoint). An enum value added earlier in this phase cannot
// be used before its ALTER TYPE ... ADD VALUE commits: no verdict, so no
// error. A lock timeout (or deadlock) is no verdict either: the first one is
// kept, and planning fails with it (see lockOr) so that the caller retries.
func (p *planner) verdict(err error) error {
	if unsafeEnumValue(err) {
		return nil
	}
	if p.lockErr == nil && pgexec.Retryable(err) {
		p.lockErr = err
	}
	return err
}

// try runs statements as a check (Prober.Try) and returns the verdict.
func (p *planner) try(ctx context.Context, stmts ...string) error {
	_, err := p.pr.Try(ctx, stmts)
	return p.verdict(err)
}

// lockOr returns the lock timeout a check met, if any, rather than err:
// the check could not judge, and the caller retries.
func (p *planner) lockOr(err error) error {
	if p.lockErr != nil {
		return fmt.Errorf("plan the migrations: %w", p.lockErr)
	}
	return err
}

func (p *planner) errf(key, format string, args ...any) error {
	where := p.mig.File
	if w := p.mig.Where(fmt.Sprintf("actions[%d]", p.idx) + key); w != "" {
		where = w
	}
	return &PlanError{Where: where, Msg: fmt.Sprintf(format, args...)}
}
