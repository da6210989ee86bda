//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockData takes an exclusive lock on the data directory dir for as long
// as the returned file stays open: one kcred server per SQLite database.
// The kernel drops the lock when the process ends, even by SIGKILL, so a
// lock held means a live server. held is false where locks are not
// supported (see datalock_other.go).
func lockData(dir string) (f *os.File, held bool, err error) {
	f, err = os.OpenFile(filepath.Join(dir, "kcred.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("lock --data: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, fmt.Errorf("another kcred server is using the data directory %s", dir)
		}
		return nil, false, fmt.Errorf("lock --data: %w", err)
	}
	return f, true, nil
}
