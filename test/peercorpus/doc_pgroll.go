// Package peercorpus runs peer tools' migration corpora through strata.
package peercorpus
