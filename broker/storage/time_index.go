package storage

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
)

// timeIndexEntrySize is the size of one .timeindex entry: int64 timestamp,
// int32 relative offset, big-endian (Kafka's TimeIndex).
const timeIndexEntrySize = 12

// timeIndex maps timestamps to offsets in one segment. Entries are appended
// only when the segment's max timestamp grows, so both columns increase.
type timeIndex struct {
	base int64
	f    *indexFile
}

func openTimeIndex(path string, base int64, writable bool, maxBytes int32) (*timeIndex, error) {
	f, err := openIndexFile(path, timeIndexEntrySize, writable, maxBytes)
	if err != nil {
		return nil, err
	}
	return &timeIndex{base: base, f: f}, nil
}

func (x *timeIndex) entries() int { return int(x.f.entries.Load()) }

func decodeTimeEntry(data []byte, i int) (ts int64, rel int32) {
	e := data[i*timeIndexEntrySize:]
	return int64(binary.BigEndian.Uint64(e)), int32(binary.BigEndian.Uint32(e[8:]))
}

func (x *timeIndex) mapped(data []byte) int {
	n := x.entries()
	if len(data) < n*timeIndexEntrySize {
		n = len(data) / timeIndexEntrySize
	}
	return n
}

// lookup returns the last entry whose timestamp is <= ts, or (-1, base).
func (x *timeIndex) lookup(ts int64) (int64, int64) {
	data := x.f.acquire()
	defer x.f.release()
	n := x.mapped(data)
	i := sort.Search(n, func(i int) bool {
		t, _ := decodeTimeEntry(data, i)
		return t > ts
	})
	if i == 0 {
		return -1, x.base
	}
	t, r := decodeTimeEntry(data, i-1)
	return t, x.base + int64(r)
}

// lastEntry returns the last entry, or (-1, base) (Kafka's TimestampOffset.Unknown position).
func (x *timeIndex) lastEntry() (int64, int64) {
	data := x.f.acquire()
	defer x.f.release()
	n := x.mapped(data)
	if n == 0 {
		return -1, x.base
	}
	t, r := decodeTimeEntry(data, n-1)
	return t, x.base + int64(r)
}

// maybeAppend adds (ts, offset) when ts is larger than the last entry's
// timestamp. Writer only.
func (x *timeIndex) maybeAppend(ts, offset int64) {
	rel := offset - x.base
	if rel < 0 || rel > math.MaxInt32 || ts < 0 {
		return
	}
	lastTs, lastOff := x.lastEntry()
	if ts <= lastTs || offset < lastOff {
		return
	}
	x.f.appendEntry(func(b []byte) {
		binary.BigEndian.PutUint64(b, uint64(ts))
		binary.BigEndian.PutUint32(b[8:], uint32(rel))
	})
}

// truncateTo removes entries with offset >= target. Writer only.
func (x *timeIndex) truncateTo(target int64) {
	data := x.f.acquire()
	n := x.mapped(data)
	i := sort.Search(n, func(i int) bool {
		_, r := decodeTimeEntry(data, i)
		return x.base+int64(r) >= target
	})
	x.f.release()
	x.f.truncateEntries(i)
}

func (x *timeIndex) reset() { x.f.truncateEntries(0) }

// check validates the whole index: whole entries, timestamps and offsets
// increasing, offsets not past lastOffset of the segment.
func (x *timeIndex) check(fileSize int64, lastOffset int64) error {
	if fileSize%timeIndexEntrySize != 0 {
		return fmt.Errorf("time index size %d is not a multiple of %d", fileSize, timeIndexEntrySize)
	}
	data := x.f.acquire()
	defer x.f.release()
	n := x.entries()
	if len(data) < n*timeIndexEntrySize {
		return fmt.Errorf("time index mapping holds %d bytes, want %d", len(data), n*timeIndexEntrySize)
	}
	prevTs, prevRel := int64(-1), int32(-1)
	for i := 0; i < n; i++ {
		t, r := decodeTimeEntry(data, i)
		if t <= prevTs || r < prevRel || r < 0 || x.base+int64(r) > lastOffset {
			return fmt.Errorf("time index entry %d (%d, %d) after (%d, %d), last offset %d", i, t, r, prevTs, prevRel, lastOffset)
		}
		prevTs, prevRel = t, r
	}
	return nil
}
