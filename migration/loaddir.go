package migration

import (
	"errors"
	"path/filepath"
)

// LoadDir is Load for a folder of the operating system's file system. Files
// (of migrations and of errors) are reported as dir joined with the file
// name, so messages (also those of the file system) show the path the way
// the user wrote it. Files are opened without blocking, so a named pipe put
// in place of a file after it was checked is refused, not waited on.
func LoadDir(dir string) ([]*Migration, error) {
	ms, err := Load(osFS{dir: dir}, ".")
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
