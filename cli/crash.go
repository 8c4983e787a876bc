package cli

import (
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/stratapg/strata/engine"
)

// installCrashHooks implements STRATA_CRASH_AFTER, a fault-injection hook for
// crash tests: the process kills itself with SIGKILL, exactly as an operator's
// kill -9 or a lost machine would, after the named point:
//
//	STRATA_CRASH_AFTER=start:<step id>      after that start step is recorded
//	STRATA_CRASH_AFTER=complete:<step id>   likewise for complete
//	STRATA_CRASH_AFTER=abort:<step id>      likewise for abort
//	STRATA_CRASH_AFTER=batch:<n>            after the n-th backfill batch commits
func installCrashHooks(opts *engine.Options) {
	spec := os.Getenv("STRATA_CRASH_AFTER")
	if spec == "" {
		return
	}
	kind, arg, _ := strings.Cut(spec, ":")
	if kind == "batch" {
		n, _ := strconv.Atoi(arg)
		opts.AfterBatch = func(b int) {
			if b == n {
				kill()
			}
		}
		return
	}
	opts.AfterStep = func(phase string, st engine.Step) {
		if phase == kind && st.ID == arg {
			kill()
		}
	}
}

func kill() {
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}
