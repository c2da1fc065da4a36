package storage

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// indexFile is the memory-mapped file under an offset or time index, Kafka's
// AbstractIndex. The active segment's index is preallocated to
// log.index.size.max.bytes and mapped read-write; a sealed segment's index is
// trimmed to its entries and mapped read-only on first use (Kafka's
// LazyIndex), so idle segments cost neither heap nor mappings.
//
// Concurrency: entries is written by the log's single writer and read
// atomically; mu guards the mapping itself, which readers hold shared while
// they search it so that a trim or close cannot unmap it under them.
type indexFile struct {
	path      string
	entrySize int

	mu       sync.RWMutex
	data     []byte // the mapping; nil when not mapped
	writable bool   // data is a read-write mapping of maxEntries entries
	closed   bool

	entries    atomic.Int64
	maxEntries int   // capacity while writable
	openedSize int64 // file length when opened, before any preallocation
}

var errIndexClosed = errors.New("storage: index closed")

// openIndexFile opens (creating if needed) an index file. A writable index is
// preallocated to maxBytes; a read-only one is not mapped until used.
func openIndexFile(path string, entrySize int, writable bool, maxBytes int32) (*indexFile, error) {
	ix := &indexFile{path: path, entrySize: entrySize}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	ix.openedSize = st.Size()
	ix.entries.Store(st.Size() / int64(entrySize))
	if writable {
		if err := ix.mapWritableLocked(f, maxBytes); err != nil {
			return nil, err
		}
	}
	return ix, nil
}

// fileLengthValid reports whether the file length was a whole number of
// entries when opened (Kafka's sanity check).
func (ix *indexFile) mapWritableLocked(f *os.File, maxBytes int32) error {
	n := int(ix.entries.Load())
	maxEntries := int(maxBytes) / ix.entrySize
	if maxEntries < n {
		maxEntries = n
	}
	if maxEntries < 1 {
		maxEntries = 1
	}
	size := maxEntries * ix.entrySize
	if err := f.Truncate(int64(size)); err != nil {
		return fmt.Errorf("preallocate index %s: %w", ix.path, err)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mmap index %s: %w", ix.path, err)
	}
	ix.data, ix.writable, ix.maxEntries = data, true, maxEntries
	return nil
}

// makeWritable maps the index read-write with room for maxBytes (a sealed
// segment that becomes active again after truncation).
func (ix *indexFile) makeWritable(maxBytes int32) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return errIndexClosed
	}
	if ix.writable {
		return nil
	}
	ix.unmapLocked()
	f, err := os.OpenFile(ix.path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	return ix.mapWritableLocked(f, maxBytes)
}

func (ix *indexFile) unmapLocked() {
	if ix.data != nil {
		_ = unix.Munmap(ix.data)
		ix.data = nil
	}
	ix.writable = false
}

// acquire locks the mapping for reading and maps a sealed index on first use.
// It returns the mapped bytes (nil when empty or closed) and must be paired
// with release.
func (ix *indexFile) acquire() []byte {
	ix.mu.RLock()
	if ix.data != nil || ix.closed || ix.entries.Load() == 0 {
		return ix.data
	}
	ix.mu.RUnlock()
	ix.mu.Lock()
	if ix.data == nil && !ix.closed && ix.entries.Load() > 0 {
		_ = ix.mapReadOnlyLocked()
	}
	ix.mu.Unlock()
	ix.mu.RLock()
	return ix.data
}

func (ix *indexFile) release() { ix.mu.RUnlock() }

func (ix *indexFile) mapReadOnlyLocked() error {
	f, err := os.Open(ix.path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := int(ix.entries.Load()) * ix.entrySize
	if int64(size) > st.Size() {
		size = int(st.Size()) / ix.entrySize * ix.entrySize
		ix.entries.Store(int64(size / ix.entrySize))
	}
	if size == 0 {
		return nil
	}
	data, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return err
	}
	ix.data = data
	return nil
}

// full reports whether a writable index has no room for another entry.
func (ix *indexFile) full() bool {
	return !ix.writable || int(ix.entries.Load()) >= ix.maxEntries
}

// appendEntry writes one entry. Writer only; the index must be writable.
func (ix *indexFile) appendEntry(fill func(b []byte)) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	n := int(ix.entries.Load())
	if !ix.writable || n >= ix.maxEntries {
		return false
	}
	off := n * ix.entrySize
	// An entry whose end lies in a page not written before (a time-index
	// entry of 12 bytes may straddle two pages).
	firstOfPage := off == 0 || (off+ix.entrySize-1)/pageSize != (off-1)/pageSize
	if firstOfPage && ix.writeFirstOfPage(off, fill) {
		ix.entries.Store(int64(n + 1))
		return true
	}
	fill(ix.data[off : off+ix.entrySize])
	ix.entries.Store(int64(n + 1))
	return true
}

var pageSize = os.Getpagesize()

// writeFirstOfPage writes the first entry of a page of the preallocated
// (sparse) file with pwrite instead of through the mapping: the first store
// to a hole of a shared mapping is a page fault in which the filesystem
// allocates the block (ext4's page_mkwrite), measured at ~3 ms per page on a
// busy disk against ~5 µs for a pwrite; with a thousand partitions writing
// their first index entries at once that was seconds of produce and
// replication stall. The page cache is shared, so the mapping sees the entry,
// and the rest of the page is written through it cheaply.
func (ix *indexFile) writeFirstOfPage(off int, fill func(b []byte)) bool {
	b := make([]byte, ix.entrySize)
	fill(b)
	f, err := os.OpenFile(ix.path, os.O_WRONLY, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	_, err = f.WriteAt(b, int64(off))
	return err == nil
}

// truncateEntries keeps the first n entries. Writer only.
func (ix *indexFile) truncateEntries(n int) {
	if int64(n) < ix.entries.Load() {
		ix.entries.Store(int64(n))
	}
}

// seal trims the file to its entries and drops the writable mapping (Kafka's
// trimToValidSize on roll and close).
func (ix *indexFile) seal() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.sealLocked()
}

func (ix *indexFile) sealLocked() error {
	if ix.closed {
		return nil
	}
	var err error
	if ix.writable {
		ix.unmapLocked()
		err = os.Truncate(ix.path, ix.entries.Load()*int64(ix.entrySize))
	}
	return err
}

// flush msyncs a writable mapping.
func (ix *indexFile) flush() error {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.writable && ix.data != nil && syncEnabled {
		return unix.Msync(ix.data, unix.MS_SYNC)
	}
	return nil
}

// close trims the file and unmaps it. Idempotent.
func (ix *indexFile) close() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	err := ix.sealLocked()
	ix.unmapLocked()
	ix.closed = true
	return err
}

// rename moves the file (the mapping, if any, stays valid).
func (ix *indexFile) rename(path string) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if err := os.Rename(ix.path, path); err != nil && !os.IsNotExist(err) {
		return err
	}
	ix.path = path
	return nil
}

func (ix *indexFile) remove() error {
	ix.mu.Lock()
	p := ix.path
	ix.mu.Unlock()
	if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}
