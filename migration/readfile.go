package migration

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// MaxFileSize is the largest file strata reads as a migration (TOML, JSON,
// or SQL for strata lint): 16 MiB. Larger files are refused before they are
// read, as are files that are not regular files (a named pipe would block the
// reader, a symbolic link to /dev/zero never ends); a symbolic link to a
// regular file is fine.
const MaxFileSize = 16 << 20

// ReadFile reads a file of the operating system's file system the way Load
// reads migration files: it must be a regular file (symbolic links are
// followed) of at most MaxFileSize bytes. A file that breaks these rules is
// reported as an *Error naming name (matching ErrInvalid); other errors are
// the file system's.
func ReadFile(name string) ([]byte, error) {
	return readFile(osFS{}, name, name)
}

// readFile reads name from fsys after checking that it is a regular file of
// at most MaxFileSize bytes, both before opening it and on the file opened.
// file names it in errors.
func readFile(fsys fs.FS, name, file string) ([]byte, error) {
	info, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, err
	}
	if e := checkFile(info, file); e != nil {
		return nil, e
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The file may have been replaced since: check the one opened.
	if info, err = f.Stat(); err != nil {
		return nil, err
	}
	if e := checkFile(info, file); e != nil {
		return nil, e
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, tooLarge(file)
	}
	return data, nil
}

func tooLarge(file string) *Error {
	return &Error{File: file, Msg: fmt.Sprintf("larger than the %d MiB limit for a migration file; hint: split it into several migrations", MaxFileSize>>20)}
}

// checkFile returns an *Error if info is not a regular file of at most
// MaxFileSize bytes.
func checkFile(info fs.FileInfo, file string) *Error {
	mode := info.Mode()
	if !mode.IsRegular() {
		kind := "not a regular file"
		switch {
		case mode&fs.ModeNamedPipe != 0:
			kind = "a named pipe"
		case mode&fs.ModeDevice != 0 || mode&fs.ModeCharDevice != 0:
			kind = "a device"
		case mode&fs.ModeSocket != 0:
			kind = "a socket"
		case mode.IsDir():
			kind = "a folder"
		}
		return &Error{File: file, Msg: fmt.Sprintf("not a regular file (%s); hint: replace it with a regular file", kind)}
	}
	if info.Size() > MaxFileSize {
		return tooLarge(file)
	}
	return nil
}

// osFS opens files of the operating system's file system (names as the OS
// writes them, relative to dir when dir is set) without blocking on named
// pipes: a pipe swapped in after the check is then refused, not waited on.
type osFS struct{ dir string }

func (o osFS) path(name string) string {
	if o.dir == "" {
		return name
	}
	return filepath.Join(o.dir, filepath.FromSlash(name))
}

func (o osFS) Open(name string) (fs.File, error) {
	f, err := os.OpenFile(o.path(name), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (o osFS) Stat(name string) (fs.FileInfo, error) { return os.Stat(o.path(name)) }

func (o osFS) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(o.path(name)) }

var (
	_ fs.StatFS    = osFS{}
	_ fs.ReadDirFS = osFS{}
)
