package convert

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestZZDebugPgroll(t *testing.T) {
	dir := "/work/wt-pgroll/test/peercorpus/testdata/pgroll"
	ents, _ := os.ReadDir(dir)
	var in []Input
	for _, e := range ents {
		if e.Name() == "README.md" {
			continue
		}
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		in = append(in, Input{Name: e.Name(), Data: b})
	}
	res, err := fromPgroll(in)
	if err != nil {
		t.Fatal(err)
	}
	os.RemoveAll("/tmp/pgout")
	os.MkdirAll("/tmp/pgout", 0o777)
	w := map[string][]string{}
	for _, x := range res.Warnings {
		id := strings.TrimSuffix(OutputName(x.File), ".toml")
		w[id] = append(w[id], x.String())
	}
	var b strings.Builder
	for _, f := range res.Files {
		os.WriteFile(filepath.Join("/tmp/pgout", f.Name), f.Data, 0o666)
		id := strings.TrimSuffix(f.Name, ".toml")
		fmt.Fprintf(&b, "%s\tpass", id)
		for _, s := range w[id] {
			b.WriteString("\t" + s)
		}
		b.WriteString("\n")
	}
	os.WriteFile("/tmp/pgout.tsv", []byte(b.String()), 0o666)
}
