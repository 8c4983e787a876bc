package archtest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestNoticeNamesEveryModule checks that NOTICE names every third-party
// module linked into the strata binary, so a new dependency cannot ship
// without its attribution.
func TestNoticeNamesEveryModule(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}", "../../cmd/strata").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	notice, err := os.ReadFile("../../NOTICE")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range strings.Fields(string(out)) {
		if m == module[:len(module)-1] || seen[m] {
			continue
		}
		seen[m] = true
		if !strings.Contains(string(notice), m) {
			t.Errorf("NOTICE does not name %s, which cmd/strata links: add it with its licence", m)
		}
	}
	if len(seen) < 5 {
		t.Errorf("go list found only %d modules: %v", len(seen), seen)
	}
	if _, err := os.Stat("../../LICENSE"); err != nil {
		t.Errorf("LICENSE: %v", err)
	}
}
