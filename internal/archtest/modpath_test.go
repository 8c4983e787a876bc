package archtest

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// oldModulePath is the module path strata used before it moved to
// github.com/stratapg/strata. It belongs to another public project, so no
// file may name it: imports, docs and snippets would point users there.
// The string is built so that this file does not name it either.
var oldModulePath = "github.com/" + "strata" + "-db/strata"

// TestNoFileNamesOldModulePath walks the repository (tracked sources, docs,
// scripts and test data) and fails on any file that names the old path.
func TestNoFileNamesOldModulePath(t *testing.T) {
	root := "../.."
	var checked int
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "dist", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil || info.Size() > 8<<20 || !info.Mode().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checked++
		if strings.Contains(string(b), oldModulePath) {
			t.Errorf("%s names the old module path %s: use github.com/stratapg/strata", path, oldModulePath)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("walked only %d files: is the test running from internal/archtest?", checked)
	}
	if !strings.Contains(module, "github.com/stratapg/strata") {
		t.Errorf("archtest's module prefix is %q, want github.com/stratapg/strata/", module)
	}
}
