package peercorpus

import (
	"testing"

	"github.com/strata-db/strata/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
