package migration

import (
	"errors"
	"os"
	"path/filepath"
)

// LoadDir is Load for a folder of the operating system's file system. Files
// (of migrations and of errors) are reported as dir joined with the file
// name, so messages show the path the way the user wrote it.
func LoadDir(dir string) ([]*Migration, error) {
	ms, err := Load(os.DirFS(dir), ".")
	for _, m := range ms {
		m.File = filepath.Join(dir, m.File)
	}
	var ve ValidationErrors
	if errors.As(err, &ve) {
		for _, e := range ve {
			e.File = filepath.Join(dir, e.File)
		}
	}
	return ms, err
}
