//go:build !linux

package storage

import "golang.org/x/sys/unix"

// syncFS flushes every file system (sync(2)): where syncfs(2) is missing,
// the whole machine's dirty data, which includes dir's.
func syncFS(dir string) error {
	if syncEnabled {
		unix.Sync()
	}
	return nil
}
