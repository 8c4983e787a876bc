package migration

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Load reads every *.toml, *.json and *.sql file (except golang-migrate's
// *.down.sql, which do not run; see ParseSQL) directly in dir of fsys (not in
// subdirectories; other files, directories and files whose name starts with
// "." are ignored), parses each with Parse, checks that no two files give the
// same migration name, and returns the migrations in natural order of their
// file names (see NaturalLess), as every migration runner orders them: a
// top-level `name` key labels a migration and never reorders it. File is
// path.Join(dir, filename).
//
// Invalid files do not stop loading: the error is then a ValidationErrors
// with the problems of all files (matching ErrInvalid) and no migrations are
// returned. A file that is not a regular file (a named pipe, a device; a
// symbolic link is followed) or is larger than MaxFileSize is one of these
// problems, found before the file is read. An error reading the folder or a
// file is returned as is (wrapped), without migrations. An empty folder is
// not an error: the result is then empty.
func Load(fsys fs.FS, dir string) ([]*Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read folder %s: %w", dir, err)
	}
	var (
		ms   []*Migration
		errs ValidationErrors
	)
	for _, e := range entries {
		name := e.Name()
		ext := path.Ext(name)
		if ext != ".toml" && ext != ".json" && !IsSQLFile(name) || strings.HasPrefix(name, ".") {
			continue
		}
		file := path.Join(dir, name)
		if e.IsDir() {
			continue
		}
		if !e.Type().IsRegular() {
			// A symlink that may point to a folder.
			if info, err := fs.Stat(fsys, file); err == nil && info.IsDir() {
				continue
			}
		}
		data, err := readFile(fsys, file, file)
		var fe *Error
		if errors.As(err, &fe) {
			errs = append(errs, fe)
			continue
		}
		if err != nil {
			return nil, err
		}
		if ext == ".sql" {
			m, err := ParseSQL(file, data)
			if err != nil {
				errs = append(errs, err.(ValidationErrors)...)
				continue
			}
			ms = append(ms, m)
			continue
		}
		m, l := decode(file, data, ext == ".json")
		if len(l.errs) > 0 {
			errs = append(errs, l.errs...)
			continue
		}
		ms = append(ms, m)
	}

	// Duplicate names: the later file (in natural order) is reported.
	slices.SortFunc(ms, func(a, b *Migration) int { return naturalCmp(a.File, b.File) })
	byName := make(map[string]*Migration, len(ms))
	for _, m := range ms {
		if first, dup := byName[m.Name]; dup {
			errs = append(errs, &Error{
				File: m.File, Line: lineOf(m.Lines, "name"), Key: "name",
				Msg: fmt.Sprintf("duplicate migration name %q: %s has the same name", m.Name, first.File),
			})
			continue
		}
		byName[m.Name] = m
	}
	// Two files with the same version, one of them a .sql file (other
	// runners' files are matched by version).
	byVersion := map[string]*Migration{}
	for _, m := range ms {
		v := FileVersion(m.Name)
		if v == "" {
			continue
		}
		if first, dup := byVersion[v]; dup && (m.Kind == KindSQL || first.Kind == KindSQL) && first.Name != m.Name {
			errs = append(errs, &Error{File: m.File, Line: 1,
				Msg: fmt.Sprintf("duplicate migration version %s: %s has the same version (hint: renumber one of them)", v, first.File)})
			continue
		}
		byVersion[v] = m
	}
	if len(errs) > 0 {
		sortErrors(errs)
		return nil, errs
	}
	// ms is already in natural order of the file names (sorted above).
	return ms, nil
}

// naturalCmp is NaturalLess as a comparison function.
func naturalCmp(a, b string) int {
	switch {
	case a == b:
		return 0
	case NaturalLess(a, b):
		return -1
	}
	return 1
}
