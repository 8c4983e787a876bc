package engine

import "syscall"

// SetFreeDisk makes the disk check see free bytes of free disk, until the
// returned function restores it.
func SetFreeDisk(free uint64) (restore func()) {
	old := statfs
	statfs = func(path string, fs *syscall.Statfs_t) error {
		if err := old(path, fs); err != nil {
			return err
		}
		fs.Bsize, fs.Bavail = 1, free
		return nil
	}
	return func() { statfs = old }
}
