package cli

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/lint"
)

// withColumnFacts returns cfg with the types and NOT NULL flags of the
// managed schema's columns read from the database, for linting migration
// files (SA030 then knows which casts cannot fail and which sources cannot
// be NULL). Without a connection, or when the database cannot be read, cfg
// is returned as it is, with a note: the rule then assumes the worst.
func (g *globals) withColumnFacts(ctx context.Context, cfg lint.Config) lint.Config {
	url := g.connString()
	if url == "" && !pgEnvSet() {
		return cfg
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		g.logf("note: lint: the database is not reachable, so column types and NOT NULLs are not known (%s)", oneLine(err.Error()))
		return cfg
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `
		SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
		FROM pg_attribute a
		JOIN pg_class c ON c.oid = a.attrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped`, g.schema)
	if err != nil {
		g.logf("note: lint: column types and NOT NULLs not read (%s)", oneLine(err.Error()))
		return cfg
	}
	types := map[string]string{}
	var notNull []string
	for rows.Next() {
		var table, column, typ string
		var nn bool
		if err := rows.Scan(&table, &column, &typ, &nn); err != nil {
			g.logf("note: lint: column types and NOT NULLs not read (%s)", oneLine(err.Error()))
			return cfg
		}
		types[table+"."+column] = typ
		if nn {
			notNull = append(notNull, table+"."+column)
		}
	}
	if rows.Err() != nil {
		g.logf("note: lint: column types and NOT NULLs not read (%s)", oneLine(rows.Err().Error()))
		return cfg
	}
	for k, v := range cfg.ColumnTypes {
		types[k] = v // the caller's win
	}
	with := cfg
	with.ColumnTypes = types
	with.NotNullColumns = append(notNull, cfg.NotNullColumns...)
	if _, err := lint.LintSQL("types.sql", nil, with); err != nil {
		// A type the linter cannot read: keep the NOT NULLs only.
		with.ColumnTypes = cfg.ColumnTypes
	}
	return with
}
