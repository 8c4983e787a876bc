package engine_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stratapg/strata/engine"
)

// start refuses, before it changes anything, when the free disk it sees is
// less than the worst case of its backfills; --ignore-disk-check goes on.
func TestStartRefusesWithoutDisk(t *testing.T) {
	fx := loadFixture(t, "disk/widen")
	var logs []string
	e := newEnv(t, fx.setup(), func(o *engine.Options) {
		o.Logf = func(f string, a ...any) { logs = append(logs, strings.TrimSpace(fmt.Sprintf(f, a...))) }
	})
	restore := engine.SetFreeDisk(64 << 10)
	defer restore()
	migs := e.migs("", fx.migrations()...)
	_, err := e.m.Start(e.ctx, migs)
	if !errors.Is(err, engine.ErrDiskSpace) {
		t.Fatalf("start with 64 KiB free: %v, want ErrDiskSpace (logs: %v)", err, logs)
	}
	if msg := err.Error(); !strings.Contains(msg, "hint: ") || !strings.Contains(msg, "--ignore-disk-check") || !strings.Contains(msg, "64.0 KiB free") {
		t.Errorf("error %q: want the free space, a hint and the flag", msg)
	}
	st, serr := e.m.Status(e.ctx, migs)
	if serr != nil {
		t.Fatal(serr)
	}
	if st.State != "idle" {
		t.Errorf("state after a refused start: %s, want idle", st.State)
	}
	var cols int
	if err := e.db.Conn(t).QueryRow(e.ctx, `SELECT count(*) FROM pg_attribute WHERE attrelid = 'items'::regclass AND attnum > 0 AND NOT attisdropped`).Scan(&cols); err != nil {
		t.Fatal(err)
	}
	if cols != 2 {
		t.Errorf("items has %d columns after a refused start, want 2", cols)
	}
	found := false
	for _, l := range logs {
		found = found || strings.Contains(l, "expected extra size") && strings.Contains(l, "worst case")
	}
	if !found {
		t.Errorf("no size report in the log: %v", logs)
	}

	e2 := newEnv(t, fx.setup(), func(o *engine.Options) { o.IgnoreDiskCheck = true })
	e2.start(e2.migs("", fx.migrations()...))
	st, err = e2.m.Status(e2.ctx, migs)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Backfills) != 1 || st.Backfills[0].SizeNow <= 0 || st.Backfills[0].ExpectedExtra <= 0 ||
		st.Backfills[0].ExpectedExtra >= st.Backfills[0].SizeBefore {
		t.Errorf("status backfills %+v: want the size now and an expected extra below the size", st.Backfills)
	}
}
