// Package pgquery is strata's only door to the PostgreSQL parser
// (github.com/pganalyze/pg_query_go, which embeds PostgreSQL's own grammar).
// It splits SQL text into statements located by byte offset, line and column,
// exposes their parse trees through type aliases (nodes_gen.go), with
// helpers to read names, types and constants from them (nodes.go), and finds
// comments with their lines.
//
// No other strata package imports pg_query_go.
package pgquery

//go:generate go run gen_nodes.go
