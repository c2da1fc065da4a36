package storage

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
)

// offsetIndexEntrySize is the size of one .index entry: int32 relative
// offset, int32 file position, big-endian (Kafka's OffsetIndex).
const offsetIndexEntrySize = 8

// offsetIndex maps offsets to file positions in one segment. An entry
// (offset, position) says that the batch starting at position has offset as
// its last offset; entries are strictly increasing in both.
type offsetIndex struct {
	base int64
	f    *indexFile
}

func openOffsetIndex(path string, base int64, writable bool, maxBytes int32) (*offsetIndex, error) {
	f, err := openIndexFile(path, offsetIndexEntrySize, writable, maxBytes)
	if err != nil {
		return nil, err
	}
	return &offsetIndex{base: base, f: f}, nil
}

func (x *offsetIndex) entries() int { return int(x.f.entries.Load()) }

func decodeOffsetEntry(data []byte, i int) (rel int32, pos int32) {
	e := data[i*offsetIndexEntrySize:]
	return int32(binary.BigEndian.Uint32(e)), int32(binary.BigEndian.Uint32(e[4:]))
}

// lookup returns the last entry whose offset is <= target, or (base, 0) when
// there is none: the position from which a scan finds the batch containing
// target.
func (x *offsetIndex) lookup(target int64) (int64, int32) {
	data := x.f.acquire()
	defer x.f.release()
	n := x.entries()
	if len(data) < n*offsetIndexEntrySize {
		n = len(data) / offsetIndexEntrySize
	}
	rel := target - x.base
	if n == 0 || rel < 0 {
		return x.base, 0
	}
	if rel > math.MaxInt32 {
		rel = math.MaxInt32
	}
	// first entry with relative offset > rel
	i := sort.Search(n, func(i int) bool {
		r, _ := decodeOffsetEntry(data, i)
		return int64(r) > rel
	})
	if i == 0 {
		return x.base, 0
	}
	r, p := decodeOffsetEntry(data, i-1)
	return x.base + int64(r), p
}

// lastEntry returns the last entry, or (base, 0).
func (x *offsetIndex) lastEntry() (int64, int32) {
	data := x.f.acquire()
	defer x.f.release()
	n := x.entries()
	if n == 0 || len(data) < n*offsetIndexEntrySize {
		return x.base, 0
	}
	r, p := decodeOffsetEntry(data, n-1)
	return x.base + int64(r), p
}

// append adds (offset, position) if offset is larger than the last entry.
// Writer only.
func (x *offsetIndex) append(offset int64, pos int32) {
	rel := offset - x.base
	if rel < 0 || rel > math.MaxInt32 {
		return
	}
	if x.entries() > 0 {
		if last, _ := x.lastEntry(); offset <= last {
			return
		}
	}
	x.f.appendEntry(func(b []byte) {
		binary.BigEndian.PutUint32(b, uint32(rel))
		binary.BigEndian.PutUint32(b[4:], uint32(pos))
	})
}

// truncateTo removes the entries with offset >= target. Writer only.
func (x *offsetIndex) truncateTo(target int64) {
	data := x.f.acquire()
	n := x.entries()
	if len(data) < n*offsetIndexEntrySize {
		n = len(data) / offsetIndexEntrySize
	}
	i := sort.Search(n, func(i int) bool {
		r, _ := decodeOffsetEntry(data, i)
		return x.base+int64(r) >= target
	})
	x.f.release()
	x.f.truncateEntries(i)
}

func (x *offsetIndex) reset() { x.f.truncateEntries(0) }

// check validates the whole index against a segment of logSize bytes: a
// whole number of entries, offsets and positions strictly increasing,
// positions inside the log. Kafka checks less (OffsetIndex.sanityCheck); a
// full check costs one pass and makes any damaged index a rebuild.
func (x *offsetIndex) check(fileSize, logSize int64) error {
	if fileSize%offsetIndexEntrySize != 0 {
		return fmt.Errorf("offset index size %d is not a multiple of %d", fileSize, offsetIndexEntrySize)
	}
	data := x.f.acquire()
	defer x.f.release()
	n := x.entries()
	if len(data) < n*offsetIndexEntrySize {
		return fmt.Errorf("offset index mapping holds %d bytes, want %d", len(data), n*offsetIndexEntrySize)
	}
	prevRel, prevPos := int32(-1), int32(-1)
	for i := 0; i < n; i++ {
		r, p := decodeOffsetEntry(data, i)
		if r <= prevRel || p <= prevPos || int64(p) >= logSize {
			return fmt.Errorf("offset index entry %d (%d, %d) after (%d, %d), log size %d", i, r, p, prevRel, prevPos, logSize)
		}
		prevRel, prevPos = r, p
	}
	return nil
}
