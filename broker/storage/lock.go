package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

const lockFileName = ".lock"

// lockDir takes the exclusive lock on dir/.lock that Kafka's LogManager takes
// (FileChannel.tryLock). On Linux it is an open-file-description lock, which
// conflicts with the POSIX lock a running Kafka holds and with a second
// Manager in the same process; elsewhere it is flock(2).
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFileName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := tryLock(f); err != nil {
		f.Close()
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLogDirLocked, dir)
		}
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return f, nil
}

// unlockDir releases the lock by closing the file.
func unlockDir(f *os.File) error { return f.Close() }
