// Package peercorpus runs strata's peers' migration files (the compatibility
// corpus vendored in testdata/, see testdata/README.md) against a real
// PostgreSQL and checks each case's outcome against a table of expected
// results. It holds tests only.
package peercorpus
