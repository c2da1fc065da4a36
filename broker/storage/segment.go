package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// File name suffixes, Kafka's LogFileUtils.
const (
	logFileSuffix       = ".log"
	indexFileSuffix     = ".index"
	timeIndexFileSuffix = ".timeindex"
	deletedFileSuffix   = ".deleted"
	cleanedFileSuffix   = ".cleaned"
	swapFileSuffix      = ".swap"
	txnIndexFileSuffix  = ".txnindex"
	snapshotFileSuffix  = ".snapshot"
)

// segmentFileName is the base offset zero-padded to 20 digits plus suffix.
func segmentFileName(base int64, suffix string) string {
	return fmt.Sprintf("%020d%s", base, suffix)
}

// segment is one .log file with its .index and .timeindex, Kafka's
// LogSegment. Fields marked "writer" are touched only under Log.mu; size and
// maxTs are read by readers.
type segment struct {
	base      int64
	dir       string
	file      *os.File
	index     *offsetIndex
	timeIndex *timeIndex

	size  atomic.Int64 // bytes of complete batches, published after the write
	maxTs atomic.Int64 // largest batch max timestamp, -1 if none

	// writer
	offsetOfMaxTs   int64
	bytesSinceIndex int64
	rollBaseTs      int64 // max timestamp of the first batch, -1 until one is appended
	createdMs       int64
	rollJitterMs    int64
	deleted         bool
}

func (s *segment) logPath() string {
	return filepath.Join(s.dir, segmentFileName(s.base, logFileSuffix))
}

// createSegment creates an empty active segment, replacing stale files with
// the same base offset.
func createSegment(dir string, base int64, cfg *LogConfig, now time.Time) (*segment, error) {
	for _, suf := range []string{logFileSuffix, indexFileSuffix, timeIndexFileSuffix} {
		if err := os.Remove(filepath.Join(dir, segmentFileName(base, suf))); err != nil && !os.IsNotExist(err) {
			return nil, err
		}
	}
	s, err := openSegment(dir, base, true, cfg.IndexMaxBytes)
	if err != nil {
		return nil, err
	}
	s.createdMs = now.UnixMilli()
	if cfg.SegmentJitterMs > 0 {
		s.rollJitterMs = rand.Int64N(min(cfg.SegmentJitterMs, cfg.SegmentMs))
	}
	return s, nil
}

// openSegment opens the files of a segment. writable maps the indexes for
// appends (the active segment); otherwise they are mapped lazily.
func openSegment(dir string, base int64, writable bool, indexMaxBytes int32) (*segment, error) {
	s := &segment{base: base, dir: dir, rollBaseTs: -1, offsetOfMaxTs: base}
	s.maxTs.Store(-1)
	f, err := os.OpenFile(s.logPath(), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	s.file = f
	s.size.Store(st.Size())
	s.createdMs = st.ModTime().UnixMilli()
	if s.index, err = openOffsetIndex(filepath.Join(dir, segmentFileName(base, indexFileSuffix)), base, writable, indexMaxBytes); err != nil {
		f.Close()
		return nil, err
	}
	if s.timeIndex, err = openTimeIndex(filepath.Join(dir, segmentFileName(base, timeIndexFileSuffix)), base, writable, indexMaxBytes); err != nil {
		s.index.f.close()
		f.Close()
		return nil, err
	}
	return s, nil
}

// loadTimestamps restores the max timestamp of a segment opened from disk
// from the last time index entry (written on roll and close).
func (s *segment) loadTimestamps() {
	ts, off := s.timeIndex.lastEntry()
	s.maxTs.Store(ts)
	s.offsetOfMaxTs = off
	if ts >= 0 && s.size.Load() > 0 {
		s.rollBaseTs = ts
	}
}

// indexBatch records a batch appended at pos in the indexes, Kafka's
// LogSegment.append bookkeeping. Writer only.
func (s *segment) indexBatch(last int64, pos int32, size int32, maxTs int64, interval int32) {
	if maxTs > s.maxTs.Load() {
		s.maxTs.Store(maxTs)
		s.offsetOfMaxTs = last
	}
	if s.bytesSinceIndex > int64(interval) {
		s.index.append(last, pos)
		s.timeIndex.maybeAppend(s.maxTs.Load(), s.offsetOfMaxTs)
		s.bytesSinceIndex = 0
	}
	s.bytesSinceIndex += int64(size)
}

// append writes validated batches at the end of the segment and indexes them.
// The new size is published last. Writer only.
func (s *segment) append(records []byte, metas []batchMeta, interval int32) error {
	pos := s.size.Load()
	if _, err := s.file.WriteAt(records, pos); err != nil {
		// Cut anything partly written so the file ends on a batch boundary.
		_ = s.file.Truncate(pos)
		return fmt.Errorf("append to segment %d at %d: %w", s.base, pos, err)
	}
	if pos == 0 && s.rollBaseTs < 0 && len(metas) > 0 {
		s.rollBaseTs = metas[0].maxTs
	}
	for i := range metas {
		m := &metas[i]
		s.indexBatch(m.last, int32(pos)+m.pos, m.size, m.maxTs, interval)
	}
	s.size.Store(pos + int64(len(records)))
	return nil
}

// shouldRoll is Kafka's LogSegment.shouldRoll for an append of size bytes
// whose offsets end at lastOffset.
func (s *segment) shouldRoll(cfg *LogConfig, size int64, numBatches int, lastOffset int64, nowMs int64) bool {
	cur := s.size.Load()
	if cur == 0 {
		return false
	}
	if cur > cfg.SegmentBytes-size || cur+size > math.MaxInt32 {
		return true
	}
	base := s.rollBaseTs
	if base < 0 {
		base = s.createdMs
	}
	if nowMs-base > cfg.SegmentMs-s.rollJitterMs {
		return true
	}
	if s.index.entries()+numBatches >= s.index.f.maxEntries || s.timeIndex.entries()+numBatches >= s.timeIndex.f.maxEntries {
		return true
	}
	return lastOffset-s.base > math.MaxInt32
}

// batchPos locates a batch inside a segment.
type batchPos struct {
	pos  int64
	size int64
	base int64
	last int64
}

var scanBufPool = sync.Pool{New: func() any { b := make([]byte, 4096); return &b }}

// find returns the first batch whose last offset is >= target, starting from
// the offset index, among the bytes below size. ok is false when there is
// none. It reads headers only.
//
// An index entry (last offset, position) is trusted only when a batch holding
// that offset starts at that position: a corrupt index that passed the
// loader's sanity check (which, like Kafka's, looks only at sizes and order)
// could otherwise point into the middle of a batch, where record bytes read
// as a batch header. A mismatch falls back to a scan from the start.
func (s *segment) find(target int64, size int64) (bp batchPos, ok bool, err error) {
	idxOff, start := s.index.lookup(target)
	if start == 0 {
		return s.scanFrom(0, target, size, noVerify)
	}
	bp, ok, err = s.scanFrom(int64(start), target, size, idxOff)
	if errors.Is(err, errBadIndexEntry) {
		return s.scanFrom(0, target, size, noVerify)
	}
	return bp, ok, err
}

// noVerify tells scanFrom there is no index entry to check.
const noVerify = math.MinInt64

// errBadIndexEntry is scanFrom's answer when the batch at the starting
// position does not hold the offset the index entry names.
var errBadIndexEntry = errors.New("index entry does not point at its batch")

// scanFrom walks the batch headers from position p. Unless verify is noVerify, the
// batch at p must hold offset verify (the index entry p came from), else
// errBadIndexEntry.
func (s *segment) scanFrom(p int64, target int64, size int64, verify int64) (bp batchPos, ok bool, err error) {
	if p < 0 || p >= size {
		p, verify = 0, noVerify
	}
	first := p
	bufp := scanBufPool.Get().(*[]byte)
	defer scanBufPool.Put(bufp)
	buf := *bufp
	var bufStart, bufLen int64 = 0, 0
	for p < size {
		if p < bufStart || p+batchOffLastOffsetDelta+4 > bufStart+bufLen {
			n := min(int64(len(buf)), size-p)
			if n < batchOffLastOffsetDelta+4 {
				return bp, false, nil // torn tail, ignored by readers
			}
			m, err := s.file.ReadAt(buf[:n], p)
			if m < batchOffLastOffsetDelta+4 {
				if err == nil || err == io.EOF {
					return bp, false, nil
				}
				return bp, false, err
			}
			bufStart, bufLen = p, int64(m)
		}
		h := buf[p-bufStart:]
		length := int64(batchLength(h))
		base := batchBaseOffset(h)
		last := base + int64(batchLastOffsetDelta(h))
		if verify != noVerify && p == first && (verify < s.base || h[batchOffMagic] != 2 || base < s.base ||
			length < batchMinLength || p+batchLogOverhead+length > size || base > verify || last < verify) {
			return bp, false, errBadIndexEntry
		}
		if length < batchMinLength || p+batchLogOverhead+length > size {
			return bp, false, nil
		}
		if last >= target {
			return batchPos{pos: p, size: batchLogOverhead + length, base: base, last: last}, true, nil
		}
		p += batchLogOverhead + length
	}
	return bp, false, nil
}

// nextOffset scans from the last index entry to the end and returns the
// offset after the last batch (Kafka's readNextOffset) and whether the scan
// found the file to end on a well-framed batch boundary.
func (s *segment) nextOffset() (int64, bool, error) {
	size := s.size.Load()
	_, p := s.index.lastEntry()
	next := s.base
	pos := int64(p)
	if pos >= size {
		return next, false, nil
	}
	var hdr [batchHeaderSize]byte
	for pos < size {
		if size-pos < batchHeaderSize {
			return next, false, nil
		}
		if _, err := s.file.ReadAt(hdr[:], pos); err != nil {
			return next, false, err
		}
		length := int64(batchLength(hdr[:]))
		if length < batchMinLength || pos+batchLogOverhead+length > size {
			return next, false, nil
		}
		next = batchBaseOffset(hdr[:]) + int64(batchLastOffsetDelta(hdr[:])) + 1
		pos += batchLogOverhead + length
	}
	return next, true, nil
}

// recoverResult is what recover learned about a segment.
type recoverResult struct {
	validBytes int64
	truncated  int64 // bytes cut from the end
	next       int64 // offset after the last valid batch; expectedNext when empty
}

// recover rebuilds the indexes from the log, validating every batch (framing,
// magic 2, CRC-32C, offsets), and truncates the file at the first invalid
// byte (Kafka's LogSegment.recover). expectedNext is the offset the first
// batch must have (-1: any offset >= base); with strict set, batches must be
// contiguous, otherwise only increasing (compacted logs have gaps). Writer
// (or start-up) only; the indexes must be writable.
func (s *segment) recover(expectedNext int64, strict bool, interval int32, buf []byte) (recoverResult, error) {
	s.index.reset()
	s.timeIndex.reset()
	s.maxTs.Store(-1)
	s.offsetOfMaxTs = s.base
	s.bytesSinceIndex = 0
	s.rollBaseTs = -1
	st, err := s.file.Stat()
	if err != nil {
		return recoverResult{}, err
	}
	fileSize := st.Size()
	next := expectedNext
	var pos, bufStart, bufLen int64
	first := true
	for pos < fileSize {
		if fileSize-pos < batchHeaderSize {
			break
		}
		if pos+batchHeaderSize > bufStart+bufLen {
			n, err := s.file.ReadAt(buf[:min(int64(len(buf)), fileSize-pos)], pos)
			if n < batchHeaderSize {
				if err != nil && err != io.EOF {
					return recoverResult{}, err
				}
				break
			}
			bufStart, bufLen = pos, int64(n)
		}
		h := buf[pos-bufStart : bufLen]
		length := int64(batchLength(h))
		size := batchLogOverhead + length
		if length < batchMinLength || pos+size > fileSize || h[batchOffMagic] != 2 {
			break
		}
		base := batchBaseOffset(h)
		lod := int64(batchLastOffsetDelta(h))
		maxTs := batchMaxTimestamp(h)
		last := base + lod
		if base < s.base || lod < 0 || last < base || last-s.base > math.MaxInt32 {
			break
		}
		if next >= 0 && (base < next || (strict && base != next)) {
			break
		}
		want := binary.BigEndian.Uint32(h[batchOffCRC:])
		var crc uint32
		if pos+size <= bufStart+bufLen {
			crc = crc32.Checksum(h[batchOffAttributes:size], castagnoli)
		} else if size <= int64(len(buf)) {
			n, err := s.file.ReadAt(buf[:size], pos)
			if int64(n) < size {
				if err != nil && err != io.EOF {
					return recoverResult{}, err
				}
				break
			}
			bufStart, bufLen = pos, int64(n)
			crc = crc32.Checksum(buf[batchOffAttributes:size], castagnoli)
		} else {
			// Larger than the buffer: checksum it in pieces.
			bufStart, bufLen = 0, 0
			crc, err = s.streamCRC(pos+batchOffAttributes, size-batchOffAttributes, buf)
			if err != nil {
				break
			}
		}
		if crc != want {
			break
		}
		if first && s.rollBaseTs < 0 {
			s.rollBaseTs = maxTs
		}
		first = false
		s.indexBatch(last, int32(pos), int32(size), maxTs, interval)
		next = last + 1
		pos += size
	}
	res := recoverResult{validBytes: pos, truncated: fileSize - pos, next: next}
	if next < 0 {
		res.next = s.base
	}
	if res.truncated > 0 {
		if err := s.file.Truncate(pos); err != nil {
			return res, fmt.Errorf("truncate segment %d to %d: %w", s.base, pos, err)
		}
	}
	s.size.Store(pos)
	return res, nil
}

func (s *segment) streamCRC(pos, n int64, buf []byte) (uint32, error) {
	var crc uint32
	for n > 0 {
		k := min(n, int64(len(buf)))
		m, err := s.file.ReadAt(buf[:k], pos)
		if int64(m) < k {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		crc = crc32.Update(crc, castagnoli, buf[:k])
		pos += k
		n -= k
	}
	return crc, nil
}

// truncateTo removes every batch that contains or follows offset (Kafka's
// LogSegment.truncateTo) and returns the bytes removed. Writer only.
func (s *segment) truncateTo(offset int64) (int64, error) {
	size := s.size.Load()
	bp, ok, err := s.find(offset, size)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, nil
	}
	s.index.truncateTo(offset)
	s.timeIndex.truncateTo(offset)
	s.size.Store(bp.pos)
	if err := s.file.Truncate(bp.pos); err != nil {
		return 0, fmt.Errorf("truncate segment %d to %d: %w", s.base, bp.pos, err)
	}
	s.bytesSinceIndex = 0
	ts, off := s.timeIndex.lastEntry()
	s.maxTs.Store(ts)
	s.offsetOfMaxTs = off
	if bp.pos == 0 {
		s.rollBaseTs = -1
		s.createdMs = time.Now().UnixMilli()
	}
	return size - bp.pos, nil
}

// largestTimestamp is the max timestamp, or the file's mtime when the
// segment has none (Kafka's LogSegment.largestTimestamp).
func (s *segment) largestTimestamp() int64 {
	if ts := s.maxTs.Load(); ts >= 0 {
		return ts
	}
	st, err := s.file.Stat()
	if err != nil {
		return 0
	}
	return st.ModTime().UnixMilli()
}

// seal makes the segment inactive: a final time index entry for its max
// timestamp, then trimmed indexes (Kafka's onBecomeInactiveSegment).
func (s *segment) seal() error {
	if s.index.f.writable {
		s.timeIndex.maybeAppend(s.maxTs.Load(), s.offsetOfMaxTs)
	}
	return errors.Join(s.index.f.seal(), s.timeIndex.f.seal())
}

// makeActive maps the indexes writable again (a truncation made this the
// last segment).
func (s *segment) makeActive(indexMaxBytes int32) error {
	return errors.Join(s.index.f.makeWritable(indexMaxBytes), s.timeIndex.f.makeWritable(indexMaxBytes))
}

// flush fsyncs the log and indexes.
func (s *segment) flush() error {
	err := fsync(s.file)
	if errors.Is(err, os.ErrClosed) {
		return nil
	}
	return errors.Join(err, s.index.f.flush(), s.timeIndex.f.flush())
}

// close seals the indexes and closes the file.
func (s *segment) close() error {
	var errs []error
	if s.index.f.writable {
		s.timeIndex.maybeAppend(s.maxTs.Load(), s.offsetOfMaxTs)
	}
	errs = append(errs, s.index.f.close(), s.timeIndex.f.close())
	if err := s.file.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// markDeleted renames the files to *.deleted (Kafka's asynchronous segment
// deletion); the file stays open for readers until remove.
func (s *segment) markDeleted() error {
	s.deleted = true
	var errs []error
	lp := s.logPath()
	if err := os.Rename(lp, lp+deletedFileSuffix); err != nil && !os.IsNotExist(err) {
		errs = append(errs, err)
	}
	errs = append(errs,
		s.index.f.rename(filepath.Join(s.dir, segmentFileName(s.base, indexFileSuffix+deletedFileSuffix))),
		s.timeIndex.f.rename(filepath.Join(s.dir, segmentFileName(s.base, timeIndexFileSuffix+deletedFileSuffix))))
	return errors.Join(errs...)
}

// remove closes the segment and deletes its files: the *.deleted names
// after markDeleted (a new segment may reuse the base offset by then),
// otherwise the live names.
func (s *segment) remove() error {
	errs := []error{s.index.f.close(), s.timeIndex.f.close()}
	_ = s.file.Close()
	d := ""
	if s.deleted {
		d = deletedFileSuffix
	}
	for _, suf := range []string{logFileSuffix, indexFileSuffix, timeIndexFileSuffix} {
		if err := os.Remove(filepath.Join(s.dir, segmentFileName(s.base, suf+d))); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
