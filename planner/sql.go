package planner

import (
	"fmt"
	"strings"

	"github.com/stratapg/strata/internal/pgexec"
	"github.com/stratapg/strata/internal/pgquery"
)

// SQL helpers of the planner. The generic ones are internal/pgquery's; these
// short names keep the SQL the planner composes readable.

func ident(name string) string                { return pgquery.Ident(name) }
func qual(schema, name string) string         { return pgquery.Qual(schema, name) }
func identList(names []string) string         { return pgquery.IdentList(names) }
func literal(s string) string                 { return pgquery.Literal(s) }
func internalName(prefix, name string) string { return pgquery.InternalName(prefix, name) }

// pgMessage renders a PostgreSQL error without the SQLSTATE noise.
func pgMessage(err error) string { return pgexec.Message(err) }

// dollarQuote quotes a function body (or DO block) with the first tag of
// $strata$, $strata1$, ... that the body does not contain, on lines of their
// own.
func dollarQuote(body string) string {
	tag := "$strata$"
	for i := 1; strings.Contains(body, tag); i++ {
		tag = fmt.Sprintf("$strata%d$", i)
	}
	return tag + "\n" + body + "\n" + tag
}

// deparse renders a statement; the trees come from the parser, so a
// failure is a bug.
func deparse(n *pgquery.Node) string {
	s, err := pgquery.Deparse(n)
	if err != nil {
		panic(fmt.Sprintf("deparse: %v", err))
	}
	return s
}

// grantee renders the grantee of a Grant.
func grantee(g string) string {
	if g == "" {
		return "PUBLIC"
	}
	return g // already quoted by regrole output
}

// lockAllOrNone renders a statement (a DO block) that takes ACCESS EXCLUSIVE on every
// existing table of tables (physical tables of schema) without ever holding one of them while waiting
// for another. App transactions lock these tables in any order (a
// new-version insert into users locks users, then its sync trigger reads
// account_users; a new-version write to account_users locks it, then its
// trigger updates users), so taking them one by one, as the statements that
// drop the triggers would, can close a cycle with an app transaction, and
// the app transaction, which usually waited first, is the one PostgreSQL's
// deadlock check cancels. Instead it waits (under lock_timeout) for one
// table while holding none, takes the others with NOWAIT, and when one is
// busy lets go of all of them, inside a subtransaction, and waits for that
// one first.
func lockAllOrNone(schema string, tables []string) string {
	var names []string
	for _, phys := range tables {
		names = append(names, literal(qual(schema, phys)))
	}
	body := `DECLARE
  _strata_tables text[];
  _strata_first int := 1;
  _strata_busy int;
BEGIN
  -- A table created in the phase may not exist (abort after a failed start).
  SELECT array_agg(t ORDER BY o) INTO _strata_tables FROM unnest(ARRAY[` + strings.Join(names, ", ") + `]) WITH ORDINALITY AS u(t, o)
    WHERE to_regclass(t) IS NOT NULL;
  IF _strata_tables IS NULL THEN
    RETURN;
  END IF;
  LOOP
    BEGIN
      EXECUTE 'LOCK TABLE ' || _strata_tables[_strata_first] || ' IN ACCESS EXCLUSIVE MODE';
      _strata_busy := 0;
      FOR i IN 1 .. array_length(_strata_tables, 1) LOOP
        CONTINUE WHEN i = _strata_first;
        BEGIN
          EXECUTE 'LOCK TABLE ' || _strata_tables[i] || ' IN ACCESS EXCLUSIVE MODE NOWAIT';
        EXCEPTION WHEN lock_not_available THEN
          _strata_busy := i;
        END;
        EXIT WHEN _strata_busy > 0;
      END LOOP;
      IF _strata_busy = 0 THEN
        RETURN;
      END IF;
      RAISE EXCEPTION 'busy' USING ERRCODE = 'SR001';
    EXCEPTION WHEN SQLSTATE 'SR001' THEN
      _strata_first := _strata_busy;
    END;
  END LOOP;
END`
	return "DO " + dollarQuote(body)
}
