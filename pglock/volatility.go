package pglock

import "github.com/stratapg/strata/internal/pgquery"

// nonVolatileFuncs are built-in functions that are STABLE or IMMUTABLE: a
// column default calling only these is evaluated once by ADD COLUMN
// (PostgreSQL 11 and later) and stored in the catalog, without a rewrite.
var nonVolatileFuncs = map[string]bool{
	// date and time (STABLE: fixed for the transaction)
	"now": true, "transaction_timestamp": true, "statement_timestamp": true, "current_timestamp": true,
	"current_date": true, "localtimestamp": true, "localtime": true, "date_trunc": true, "date_part": true,
	"extract": true, "make_date": true, "make_time": true, "make_timestamp": true, "make_timestamptz": true,
	"make_interval": true, "to_timestamp": true, "to_date": true, "to_char": true, "timezone": true,
	"age": true, "date_bin": true, "justify_interval": true,
	// strings
	"lower": true, "upper": true, "trim": true, "btrim": true, "ltrim": true, "rtrim": true, "concat": true,
	"concat_ws": true, "format": true, "length": true, "char_length": true, "substr": true, "substring": true,
	"replace": true, "left": true, "right": true, "lpad": true, "rpad": true, "repeat": true, "md5": true,
	"encode": true, "decode": true, "initcap": true, "split_part": true, "translate": true,
	// numbers
	"abs": true, "round": true, "floor": true, "ceil": true, "ceiling": true, "trunc": true, "greatest": true,
	"least": true, "coalesce": true, "nullif": true, "power": true, "sqrt": true, "mod": true,
	// json and arrays
	"jsonb_build_object": true, "jsonb_build_array": true, "json_build_object": true, "json_build_array": true,
	"to_json": true, "to_jsonb": true, "array_fill": true, "array_length": true, "cardinality": true,
	"jsonb_object": true, "json_object": true, "row_to_json": true, "array_to_json": true,
	// settings and session
	"current_setting": true, "current_user": true, "session_user": true, "current_schema": true,
	"current_database": true, "version": true, "inet_server_addr": true, "pg_backend_pid": true,
}

// volatileCall returns the first function call in expr that is volatile or
// not known to be stable, and whether there is one.
func volatileCall(expr *pgquery.Node) (string, bool) {
	var found string
	pgquery.Walk(expr, func(n *pgquery.Node) bool {
		if found != "" {
			return false
		}
		if fc := n.GetFuncCall(); fc != nil {
			name := pgquery.FuncName(fc)
			if !nonVolatileFuncs[name] {
				found = name
				return false
			}
		}
		return true
	})
	return found, found != ""
}
