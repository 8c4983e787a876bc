package engine

import (
	"syscall"
	"time"
)

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

// SetKeepaliveEvery makes the lock connection's keepalive ping every d,
// until the returned function restores it.
func SetKeepaliveEvery(d time.Duration) (restore func()) {
	old := keepaliveEvery
	keepaliveEvery = d
	return func() { keepaliveEvery = old }
}
