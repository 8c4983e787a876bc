package pgquery

import pg_query "github.com/pganalyze/pg_query_go/v6"

// StrNode returns a String node, as the parser makes for name parts.
func StrNode(s string) *Node { return pg_query.MakeStrNode(s) }
