package backfill

import (
	"testing"
	"time"
)

// Lock waits shorten the batches; an active application gets a rest after
// each batch; an idle one gets none; --max-app-latency caps the target and
// lengthens the rest while a statement runs longer.
func TestPace(t *testing.T) {
	p := newPace(&Runner{})
	if p.base != 150*time.Millisecond {
		t.Fatalf("base %s, want 150ms", p.base)
	}
	if rest := p.after(100 * time.Millisecond); rest != 0 {
		t.Errorf("idle application: rest %s, want 0", rest)
	}
	p.waiters, p.active = 2, 3
	if rest := p.after(100 * time.Millisecond); rest != 100*time.Millisecond {
		t.Errorf("active application: rest %s, want 100ms", rest)
	}
	if p.target != 75*time.Millisecond {
		t.Errorf("after lock waits: target %s, want 75ms", p.target)
	}
	p.waiters = 0
	p.after(time.Millisecond)
	if p.target <= 75*time.Millisecond || p.target > 150*time.Millisecond {
		t.Errorf("without waits the target grows back: %s", p.target)
	}
	// While the application is active: batches aim at appTarget at most,
	// and a VACUUM gets a rest too.
	if !p.busy() || p.batchTarget() != appTarget {
		t.Errorf("active application: busy %v, batch target %s, want %s", p.busy(), p.batchTarget(), appTarget)
	}
	if rest := p.restAfter(80 * time.Millisecond); rest != 80*time.Millisecond {
		t.Errorf("active application: rest after an 80ms VACUUM %s, want 80ms", rest)
	}
	idle := newPace(&Runner{})
	idle.after(time.Millisecond)
	if idle.busy() || idle.batchTarget() != 150*time.Millisecond || idle.restAfter(time.Second) != 0 {
		t.Errorf("idle application: busy %v, batch target %s, rest after a VACUUM %s; want false, 150ms, 0",
			idle.busy(), idle.batchTarget(), idle.restAfter(time.Second))
	}
	q := newPace(&Runner{MaxAppLatency: 40 * time.Millisecond})
	if q.base != 20*time.Millisecond {
		t.Errorf("max app latency 40ms: base %s, want 20ms", q.base)
	}
	q.active, q.oldest = 1, 100*time.Millisecond
	if rest := q.after(10 * time.Millisecond); rest != 20*time.Millisecond {
		t.Errorf("statement over the target: rest %s, want 20ms (2x)", rest)
	}
	off := newPace(&Runner{AppRest: -1})
	off.active = 5
	if off.on() || off.after(time.Second) != 0 {
		t.Errorf("AppRest < 0: pacing should be off")
	}
}
