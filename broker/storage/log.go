package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// Log is one partition's log: a <topic>-<partition> directory of segments,
// Kafka's UnifiedLog/LocalLog.
//
// Appends, truncation, retention and SetConfig are serialised by mu (one
// writer). Read, LogEndOffset, LogStartOffset, OffsetForTimestamp, Config and
// the epoch and topic-id getters are safe concurrently with them: the segment
// list is copy-on-write behind an atomic pointer, and the log end offset is
// published after the bytes are written.
//
// Lock order: flushMu before mu.
type Log struct {
	dir       string
	topic     string
	partition int32
	logger    *logrus.Entry

	mu      sync.Mutex // the writer
	flushMu sync.Mutex // serialises flushes

	cfg  atomic.Pointer[LogConfig]
	segs atomic.Pointer[[]*segment] // sorted by base offset; last is active

	logEndOffset   atomic.Int64
	logStartOffset atomic.Int64
	recoveryPoint  atomic.Int64
	truncations    atomic.Int64 // generation, bumped by every truncation
	// flushedTruncations is the truncation generation of the last flush
	// that reached the log end: with it equal to truncations and the
	// recovery point at the log end, the files are on disk as they are.
	flushedTruncations atomic.Int64
	lastFlushMs        atomic.Int64
	closed             atomic.Bool

	epochs *leaderEpochCache

	// producers is the idempotent producers' state (producer_state.go),
	// guarded by mu.
	producers *producerStateManager

	topicIDMu  sync.Mutex
	topicID    [16]byte
	hasTopicID bool

	// writer
	unflushed int64
	metas     []batchMeta
	pending   map[*segment]*time.Timer // segments awaiting deletion

	bg sync.WaitGroup // background flushes after roll
}

// AppendInfo describes a successful append.
type AppendInfo struct {
	FirstOffset    int64 // base offset of the first batch appended
	LastOffset     int64
	NumRecords     int
	MaxTimestamp   int64
	LogAppendTime  int64 // -1 unless the log uses LogAppendTime
	LogStartOffset int64
	// Duplicate: the batch was a resend of one of its producer's last five
	// batches; nothing was written and the offsets are the original ones.
	Duplicate bool
}

// ReadInfo is a region of one segment file; Records holds the same bytes
// (read with pread), or is nil from ReadRegion. Records holds whole batches
// only and belongs to the caller. File must not be closed by the caller; it may be closed by the log
// once the segment is deleted (after file.delete.delay.ms).
type ReadInfo struct {
	Records  []byte
	File     *os.File
	Position int64
	Size     int32
}

// Topic returns the topic name.
func (l *Log) Topic() string { return l.topic }

// Partition returns the partition number.
func (l *Log) Partition() int32 { return l.partition }

// Dir returns the log's directory.
func (l *Log) Dir() string { return l.dir }

// LogStartOffset is the first offset that can be read (Kafka's
// logStartOffset; ListOffsets EARLIEST).
func (l *Log) LogStartOffset() int64 { return l.logStartOffset.Load() }

// LogEndOffset is the offset the next appended record gets.
func (l *Log) LogEndOffset() int64 { return l.logEndOffset.Load() }

// RecoveryPoint is the offset below which the log is known to be fsynced.
func (l *Log) RecoveryPoint() int64 { return l.recoveryPoint.Load() }

// Size is the total size of the log's segments in bytes.
func (l *Log) Size() int64 {
	var n int64
	for _, s := range *l.segs.Load() {
		n += s.size.Load()
	}
	return n
}

// NumSegments returns the number of segments.
func (l *Log) NumSegments() int { return len(*l.segs.Load()) }

// Config returns the log's current configuration.
func (l *Log) Config() LogConfig { return *l.cfg.Load() }

// SetConfig replaces the configuration (a topic config change); it applies
// to the next append or retention pass.
func (l *Log) SetConfig(cfg LogConfig) {
	c := cfg.normalized()
	l.cfg.Store(&c)
}

func (l *Log) segments() []*segment { return *l.segs.Load() }

func (l *Log) active() *segment {
	s := l.segments()
	return s[len(s)-1]
}

func (l *Log) setSegments(s []*segment) { l.segs.Store(&s) }

// AppendAsLeader appends records, one or more magic-2 batches exactly as
// received in a Produce request. Every batch is validated before anything is
// written; on error nothing is written. The base offset and partition leader
// epoch of each batch are rewritten in place (records is modified; the CRC
// does not cover them). With LogAppendTime the timestamp-type bit and max
// timestamp are set to now and the CRC recomputed; with CreateTime a max
// timestamp that disagrees with the records is corrected (Kafka's
// LogValidator does both).
func (l *Log) AppendAsLeader(records []byte, leaderEpoch int32, now time.Time) (AppendInfo, error) {
	info, flush, err := l.appendAsLeader(records, leaderEpoch, now)
	if err == nil && flush {
		err = l.flushUpTo(info.LastOffset + 1)
	}
	return info, err
}

func (l *Log) appendAsLeader(records []byte, leaderEpoch int32, now time.Time) (AppendInfo, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return AppendInfo{}, false, ErrLogClosed
	}
	cfg := l.cfg.Load()
	metas, err := validateLeaderBatches(records, cfg, l.metas)
	l.metas = metas
	if err != nil {
		return AppendInfo{}, false, err
	}
	nowMs := now.UnixMilli()
	appendTime := int64(-1)
	if cfg.logAppendTime() {
		appendTime = nowMs
	}
	next := l.logEndOffset.Load()
	info := AppendInfo{FirstOffset: next, MaxTimestamp: -1, LogAppendTime: appendTime}
	for i := range metas {
		m := &metas[i]
		b := records[m.pos : m.pos+m.size]
		lod := m.last
		m.base, m.last, m.epoch = next, next+lod, leaderEpoch
		next = m.last + 1
		binary.BigEndian.PutUint64(b[batchOffBaseOffset:], uint64(m.base))
		binary.BigEndian.PutUint32(b[batchOffLeaderEpoch:], uint32(leaderEpoch))
		switch {
		case appendTime >= 0:
			attrs := uint16(batchAttributes(b)) | attrTimestampType
			binary.BigEndian.PutUint16(b[batchOffAttributes:], attrs)
			binary.BigEndian.PutUint64(b[batchOffMaxTimestamp:], uint64(appendTime))
			setBatchCRC(b)
			m.maxTs = appendTime
		case m.fixMaxTs:
			binary.BigEndian.PutUint64(b[batchOffMaxTimestamp:], uint64(m.maxTs))
			setBatchCRC(b)
		}
		if m.maxTs > info.MaxTimestamp {
			info.MaxTimestamp = m.maxTs
		}
		info.NumRecords += int(lod + 1)
	}
	info.LastOffset = next - 1
	dup, err := l.producers.prepareLeader(records, metas)
	if err != nil {
		return AppendInfo{}, false, err
	}
	if dup != nil {
		info = AppendInfo{FirstOffset: dup.firstOffset, LastOffset: dup.lastOffset, MaxTimestamp: dup.timestamp,
			LogAppendTime: -1, LogStartOffset: l.logStartOffset.Load(), Duplicate: true}
		if appendTime >= 0 {
			info.LogAppendTime = dup.timestamp
		}
		return info, false, nil
	}
	flush, err := l.appendLocked(records, metas, cfg, now, int64(info.NumRecords))
	if err == nil {
		l.producers.commitLeader()
	}
	info.LogStartOffset = l.logStartOffset.Load()
	return info, flush, err
}

// AppendAsFollower appends batches fetched from the leader. They keep their
// offsets, epochs and timestamps; the first must start at LogEndOffset and
// each must follow the previous one (ErrNotContiguous). Framing, magic and
// CRC are validated; nothing is written on error.
func (l *Log) AppendAsFollower(records []byte) (AppendInfo, error) {
	info, flush, err := l.appendAsFollower(records)
	if err == nil && flush {
		err = l.flushUpTo(info.LastOffset + 1)
	}
	return info, err
}

func (l *Log) appendAsFollower(records []byte) (AppendInfo, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return AppendInfo{}, false, ErrLogClosed
	}
	leo := l.logEndOffset.Load()
	info := AppendInfo{FirstOffset: leo, LastOffset: leo - 1, MaxTimestamp: -1, LogAppendTime: -1, LogStartOffset: l.logStartOffset.Load()}
	if len(records) == 0 {
		return info, false, nil
	}
	cfg := l.cfg.Load()
	metas, err := validateFollowerBatches(records, true, l.metas)
	l.metas = metas
	if err != nil {
		return AppendInfo{}, false, err
	}
	if metas[0].base != leo {
		return AppendInfo{}, false, fmt.Errorf("%w: first offset %d, log end offset %d", ErrNotContiguous, metas[0].base, leo)
	}
	for i := range metas {
		if metas[i].maxTs > info.MaxTimestamp {
			info.MaxTimestamp = metas[i].maxTs
		}
	}
	info.LastOffset = metas[len(metas)-1].last
	info.NumRecords = int(info.LastOffset - leo + 1)
	flush, err := l.appendLocked(records, metas, cfg, time.Now(), int64(info.NumRecords))
	if err == nil {
		l.producers.applyFollower(records, metas)
	}
	return info, flush, err
}

// appendLocked writes validated batches with final offsets, rolling first if
// needed, then publishes the new log end offset. It reports whether
// flush.messages asks for a flush.
func (l *Log) appendLocked(records []byte, metas []batchMeta, cfg *LogConfig, now time.Time, numRecords int64) (bool, error) {
	seg := l.active()
	last := metas[len(metas)-1].last
	if seg.shouldRoll(cfg, int64(len(records)), len(metas), last, now.UnixMilli()) {
		var err error
		if seg, err = l.rollLocked(now); err != nil {
			return false, err
		}
	}
	if err := seg.append(records, metas, cfg.IndexIntervalBytes); err != nil {
		return false, err
	}
	l.logEndOffset.Store(last + 1)
	for i := range metas {
		if err := l.epochs.maybeAssign(metas[i].epoch, metas[i].base); err != nil {
			return false, fmt.Errorf("leader epoch checkpoint: %w", err)
		}
	}
	l.unflushed += numRecords
	if l.unflushed >= cfg.FlushIntervalMessages {
		l.unflushed = 0
		return true, nil
	}
	return false, nil
}

// Roll closes the active segment and starts a new one at the log end offset
// (if the active segment is not empty).
func (l *Log) Roll() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return ErrLogClosed
	}
	if l.active().size.Load() == 0 {
		return nil
	}
	_, err := l.rollLocked(time.Now())
	return err
}

// rollLocked seals the active segment, creates a new one at the log end
// offset and fsyncs the old one in the background (Kafka's roll +
// flushUptoOffsetExclusive).
func (l *Log) rollLocked(now time.Time) (*segment, error) {
	cfg := l.cfg.Load()
	leo := l.logEndOffset.Load()
	old := l.active()
	if old.size.Load() == 0 && old.base == leo {
		return old, nil
	}
	seg, err := createSegment(l.dir, leo, cfg, now)
	if err != nil {
		return nil, fmt.Errorf("roll segment at %d: %w", leo, err)
	}
	segs := append(append(make([]*segment, 0, len(l.segments())+1), l.segments()...), seg)
	l.setSegments(segs)
	if err := old.seal(); err != nil {
		l.logger.WithError(err).WithField("offset", old.base).Warn("seal segment indexes")
	}
	l.logger.WithFields(logrus.Fields{"offset": leo, "segment": old.base}).Debug("rolled segment")
	// The producer state as of the new segment's base, so that a restart
	// after a crash replays at most the active segment (Kafka's roll).
	snap, err := l.producers.takeSnapshot(leo, false)
	if err != nil {
		l.logger.WithError(err).WithField("offset", leo).Warn("producer state snapshot at roll")
	}
	snapPath := l.producers.snapshotPath(leo)
	l.bg.Add(1)
	go func() {
		defer l.bg.Done()
		if err := l.flushUpTo(leo); err != nil {
			l.logger.WithError(err).WithField("offset", leo).Warn("flush after roll")
		}
		if snap {
			if err := syncSnapshot(snapPath); err != nil {
				l.logger.WithError(err).WithField("offset", leo).Warn("fsync producer state snapshot")
			}
		}
	}()
	return seg, nil
}

// Flush fsyncs every segment holding offsets below the log end offset and
// advances the recovery point.
func (l *Log) Flush() error {
	if l.closed.Load() {
		return ErrLogClosed
	}
	return l.flushUpTo(l.logEndOffset.Load())
}

// flushUpTo fsyncs the segments holding offsets in [recoveryPoint, target)
// and moves the recovery point to target unless a truncation intervened.
// Must not be called with mu held.
func (l *Log) flushUpTo(target int64) error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	gen := l.truncations.Load()
	rp := l.recoveryPoint.Load()
	l.lastFlushMs.Store(time.Now().UnixMilli())
	if target <= rp {
		return nil
	}
	segs := l.segments()
	var errs []error
	for i, s := range segs {
		end := int64(math.MaxInt64)
		if i+1 < len(segs) {
			end = segs[i+1].base
		}
		if end > rp && s.base < target {
			errs = append(errs, s.flush())
		}
	}
	// The leader epochs of those offsets must be on disk before the
	// recovery point passes them: recovery rebuilds only what lies past it.
	errs = append(errs, l.epochs.sync())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("flush %s: %w", l.dir, err)
	}
	l.mu.Lock()
	if l.truncations.Load() == gen && target > l.recoveryPoint.Load() && target <= l.logEndOffset.Load() {
		l.recoveryPoint.Store(target)
		l.flushedTruncations.Store(gen)
	}
	l.mu.Unlock()
	return nil
}

// Read returns the batches starting with the one that contains offset, not
// past maxOffset (exclusive: a batch whose base offset is >= maxOffset is not
// returned), up to maxBytes, and at least one whole batch when minOneBatch
// even if it is larger than maxBytes. It reads from one segment. offset ==
// LogEndOffset or >= maxOffset gives an empty ReadInfo; offset below the log
// start or above the log end is ErrOffsetOutOfRange.
func (l *Log) Read(offset int64, maxBytes int32, maxOffset int64, minOneBatch bool) (ReadInfo, error) {
	return l.read(offset, maxBytes, maxOffset, minOneBatch, true)
}

// ReadRegion is Read without reading the records into memory: the returned
// ReadInfo has Records nil and names the same whole batches as a region of
// the segment file (File, Position, Size), found by reading batch headers
// only. It exists for the zero-copy fetch path, which sends the region to
// the socket with sendfile. The caller must not close File; the log closes
// it when the segment is removed (file.delete.delay.ms after deletion) or
// the log is closed, and truncation can shorten it, so a later read of the
// region may come up short or fail with os.ErrClosed.
func (l *Log) ReadRegion(offset int64, maxBytes int32, maxOffset int64, minOneBatch bool) (ReadInfo, error) {
	return l.read(offset, maxBytes, maxOffset, minOneBatch, false)
}

func (l *Log) read(offset int64, maxBytes int32, maxOffset int64, minOneBatch, copyRecords bool) (ReadInfo, error) {
	for attempt := 0; ; attempt++ {
		if l.closed.Load() {
			return ReadInfo{}, ErrLogClosed
		}
		segs := l.segments()
		start, leo := l.logStartOffset.Load(), l.logEndOffset.Load()
		if offset < start || offset > leo {
			return ReadInfo{}, fmt.Errorf("%w: offset %d, log start %d, log end %d", ErrOffsetOutOfRange, offset, start, leo)
		}
		if offset == leo || offset >= maxOffset {
			return ReadInfo{}, nil
		}
		i := sort.Search(len(segs), func(i int) bool { return segs[i].base > offset }) - 1
		if i < 0 {
			i = 0
		}
		var ri ReadInfo
		var found bool
		var err error
		for ; i < len(segs) && !found && err == nil; i++ {
			end := leo
			if i+1 < len(segs) {
				end = segs[i+1].base
			}
			ri, found, err = segs[i].read(offset, maxBytes, maxOffset, end, minOneBatch, copyRecords)
		}
		if err != nil && errors.Is(err, os.ErrClosed) && attempt < 3 {
			continue // the segment was deleted or truncated away under us
		}
		if err != nil {
			return ReadInfo{}, fmt.Errorf("read %s at %d: %w", l.dir, offset, err)
		}
		if start := l.logStartOffset.Load(); offset < start {
			// Retention or DeleteRecords moved the start during the read.
			return ReadInfo{}, fmt.Errorf("%w: offset %d, log start %d", ErrOffsetOutOfRange, offset, start)
		}
		return ri, nil
	}
}

// read is Log.Read within one segment; segEnd is the offset after the
// segment's last batch as the caller saw it. found is false when the segment
// has no batch with last offset >= offset.
func (s *segment) read(offset int64, maxBytes int32, maxOffset, segEnd int64, minOneBatch, copyRecords bool) (ReadInfo, bool, error) {
	size := s.size.Load()
	bp, ok, err := s.find(offset, size)
	if err != nil || !ok {
		return ReadInfo{}, false, err
	}
	if bp.base >= maxOffset {
		return ReadInfo{}, true, nil
	}
	end := size
	if maxOffset < segEnd {
		if bq, ok, err := s.scanFrom(bp.pos, maxOffset, size, noVerify); err != nil {
			return ReadInfo{}, true, err
		} else if ok {
			end = bq.pos
			if bq.base < maxOffset {
				end += bq.size
			}
		}
	}
	n := min(end-bp.pos, int64(max(maxBytes, 0)))
	if n < bp.size {
		if !minOneBatch {
			return ReadInfo{}, true, nil
		}
		n = bp.size
	}
	if !copyRecords {
		p, err := s.wholeBatchesLen(bp, n, end-bp.pos, maxOffset)
		if err != nil {
			return ReadInfo{}, true, err
		}
		return ReadInfo{File: s.file, Position: bp.pos, Size: int32(p)}, true, nil
	}
	buf := make([]byte, n)
	m, err := s.file.ReadAt(buf, bp.pos)
	if m < int(n) && err != nil && !errors.Is(err, os.ErrClosed) {
		err = nil // truncated concurrently: keep the whole batches read
	}
	if err != nil && m < int(n) {
		return ReadInfo{}, true, err
	}
	buf = buf[:m]
	p := 0
	for p+batchHeaderSize <= len(buf) {
		sz := int(batchLength(buf[p:])) + batchLogOverhead
		if sz < batchHeaderSize || p+sz > len(buf) || batchBaseOffset(buf[p:]) >= maxOffset {
			break
		}
		p += sz
	}
	if p == 0 {
		return ReadInfo{}, true, nil
	}
	return ReadInfo{Records: buf[:p:p], File: s.file, Position: bp.pos, Size: int32(p)}, true, nil
}

// wholeBatchesLen is how many of the n bytes from bp (the first batch, which
// fits in n) are whole batches with base offsets below maxOffset, reading
// only the 12-byte batch prefixes. avail is the bytes of complete batches
// from bp.pos below the read bound: when all of them fit, no header is read.
func (s *segment) wholeBatchesLen(bp batchPos, n, avail, maxOffset int64) (int64, error) {
	if n >= avail {
		return avail, nil
	}
	bufp := scanBufPool.Get().(*[]byte)
	defer scanBufPool.Put(bufp)
	hdr := (*bufp)[:batchLogOverhead]
	p := bp.size
	for p+batchHeaderSize <= n {
		m, err := s.file.ReadAt(hdr, bp.pos+p)
		if m < len(hdr) {
			if err == nil || err == io.EOF {
				break // truncated concurrently: keep the whole batches so far
			}
			return 0, err
		}
		sz := int64(batchLength(hdr)) + batchLogOverhead
		if sz < batchHeaderSize || p+sz > n || batchBaseOffset(hdr) >= maxOffset {
			break
		}
		p += sz
	}
	return p, nil
}

// OffsetForTimestamp returns the first offset whose record timestamp is >= ts
// and that timestamp (ListOffsets by time, Kafka's fetchOffsetByTimestamp).
// found is false when no record is that late. The special timestamps of
// ListOffsets (-1 latest, -2 earliest, -3 max) are the caller's job.
func (l *Log) OffsetForTimestamp(ts int64) (offset int64, timestamp int64, found bool) {
	start := l.logStartOffset.Load()
	segs := l.segments()
	for i, s := range segs {
		if i+1 < len(segs) && segs[i+1].base <= start {
			continue
		}
		if s.maxTs.Load() < ts {
			continue
		}
		if off, t, ok := s.findByTimestamp(ts, start); ok {
			return off, t, true
		}
	}
	return 0, 0, false
}

// findByTimestamp is Kafka's LogSegment.findOffsetByTimestamp.
func (s *segment) findByTimestamp(ts int64, startOffset int64) (int64, int64, bool) {
	size := s.size.Load()
	_, tsOff := s.timeIndex.lookup(ts)
	_, p := s.index.lookup(max(tsOff, startOffset))
	pos := int64(p)
	hdr := make([]byte, batchHeaderSize)
	for pos+batchHeaderSize <= size {
		if _, err := s.file.ReadAt(hdr, pos); err != nil {
			return 0, 0, false
		}
		length := int64(batchLength(hdr))
		bsize := batchLogOverhead + length
		if length < batchMinLength || pos+bsize > size {
			return 0, 0, false
		}
		base := batchBaseOffset(hdr)
		last := base + int64(batchLastOffsetDelta(hdr))
		if last >= startOffset && batchMaxTimestamp(hdr) >= ts {
			attrs := batchAttributes(hdr)
			minDelta := int32(max(startOffset-base, 0))
			if attrs&attrTimestampType != 0 {
				return base + int64(minDelta), batchMaxTimestamp(hdr), true
			}
			b := make([]byte, bsize)
			if _, err := s.file.ReadAt(b, pos); err != nil {
				return 0, 0, false
			}
			count := int32(binary.BigEndian.Uint32(b[batchOffNumRecords:]))
			firstTs := int64(binary.BigEndian.Uint64(b[batchOffFirstTimestamp:]))
			var res walkResult
			var err error
			if codec := int8(attrs & attrCompressionMask); codec == codecNone {
				res, err = walkRecords(b[batchHeaderSize:], count, firstTs, ts, minDelta)
			} else {
				res, err = walkCompressedRecords(codec, b[batchHeaderSize:], count, firstTs, ts, minDelta)
			}
			if err == nil && res.hit {
				return base + int64(res.hitDelta), res.hitTs, true
			}
		}
		pos += bsize
	}
	return 0, 0, false
}

// TruncateTo removes every record at or above offset (a follower
// truncating to the leader's epoch end offset). A batch that straddles offset
// is removed whole. Leader epoch entries starting at or after offset are
// dropped even when offset >= LogEndOffset (KAFKA-10706).
func (l *Log) TruncateTo(offset int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return ErrLogClosed
	}
	if offset < 0 {
		return fmt.Errorf("%w: truncate to %d", ErrOffsetOutOfRange, offset)
	}
	if err := l.epochs.truncateFromEnd(offset); err != nil {
		return fmt.Errorf("leader epoch checkpoint: %w", err)
	}
	if offset >= l.logEndOffset.Load() {
		return nil
	}
	segs := l.segments()
	if offset < segs[0].base {
		return l.truncateFullyLocked(offset)
	}
	l.truncations.Add(1)
	keep := sort.Search(len(segs), func(i int) bool { return segs[i].base > offset })
	cfg := l.cfg.Load()
	act := segs[keep-1]
	if keep < len(segs) {
		if err := act.makeActive(cfg.IndexMaxBytes); err != nil {
			return fmt.Errorf("truncate %s to %d: %w", l.dir, offset, err)
		}
		l.setSegments(append([]*segment(nil), segs[:keep]...))
		l.deleteSegmentsLocked(segs[keep:], "truncation")
	}
	if _, err := act.truncateTo(offset); err != nil {
		return fmt.Errorf("truncate %s to %d: %w", l.dir, offset, err)
	}
	next, _, err := act.nextOffset()
	if err != nil {
		return fmt.Errorf("truncate %s to %d: %w", l.dir, offset, err)
	}
	l.logEndOffset.Store(next)
	if l.recoveryPoint.Load() > next {
		l.recoveryPoint.Store(next)
	}
	if l.logStartOffset.Load() > next {
		l.logStartOffset.Store(next)
	}
	// Producer state from the nearest snapshot at or below the new end,
	// then the batches after it (ProducerStateManager.truncateAndReload).
	if err := l.producers.load(l.segments(), l.logStartOffset.Load(), next, time.Now().UnixMilli(), cfg.ProducerIDExpirationMs); err != nil {
		return fmt.Errorf("truncate %s to %d: producer state: %w", l.dir, offset, err)
	}
	l.logger.WithFields(logrus.Fields{"offset": next}).Info("truncated log")
	return nil
}

// TruncateFullyAndStartAt deletes every segment and starts an empty log at
// offset (a follower whose log end is below the leader's log start).
func (l *Log) TruncateFullyAndStartAt(offset int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return ErrLogClosed
	}
	if offset < 0 {
		return fmt.Errorf("%w: start at %d", ErrOffsetOutOfRange, offset)
	}
	return l.truncateFullyLocked(offset)
}

func (l *Log) truncateFullyLocked(offset int64) error {
	l.truncations.Add(1)
	old := l.segments()
	for _, s := range old {
		if err := s.markDeleted(); err != nil {
			return fmt.Errorf("truncate fully %s: %w", l.dir, err)
		}
	}
	seg, err := createSegment(l.dir, offset, l.cfg.Load(), time.Now())
	if err != nil {
		return fmt.Errorf("truncate fully %s: %w", l.dir, err)
	}
	l.setSegments([]*segment{seg})
	l.deleteSegmentsLocked(old, "truncation")
	l.logEndOffset.Store(offset)
	l.logStartOffset.Store(offset)
	l.recoveryPoint.Store(offset)
	if err := l.producers.truncateFully(); err != nil {
		return fmt.Errorf("truncate fully %s: %w", l.dir, err)
	}
	if err := l.epochs.clear(); err != nil {
		return fmt.Errorf("leader epoch checkpoint: %w", err)
	}
	l.logger.WithFields(logrus.Fields{"offset": offset}).Info("truncated log fully")
	return nil
}

// DeleteRecordsBefore advances the log start offset to offset (DeleteRecords)
// and deletes the segments wholly below it. Checking offset against the high
// watermark is the caller's job; offset > LogEndOffset is ErrOffsetOutOfRange.
func (l *Log) DeleteRecordsBefore(offset int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return ErrLogClosed
	}
	if leo := l.logEndOffset.Load(); offset > leo || offset < 0 {
		return fmt.Errorf("%w: delete records before %d, log end %d", ErrOffsetOutOfRange, offset, leo)
	}
	if offset <= l.logStartOffset.Load() {
		return nil
	}
	l.logStartOffset.Store(offset)
	if err := l.epochs.truncateFromStart(offset); err != nil {
		return fmt.Errorf("leader epoch checkpoint: %w", err)
	}
	l.deleteOldSegmentsLocked(func(s, next *segment) bool { return next.base <= offset }, "log start offset breach")
	return nil
}

// deleteSegmentsLocked renames segments to *.deleted and closes and removes
// them after file.delete.delay.ms, so readers holding their file can finish.
// The caller has already removed them from the segment list.
func (l *Log) deleteSegmentsLocked(segs []*segment, reason string) {
	delay := time.Duration(l.cfg.Load().FileDeleteDelayMs) * time.Millisecond
	for _, s := range segs {
		if !s.deleted {
			if err := s.markDeleted(); err != nil {
				l.logger.WithError(err).WithField("offset", s.base).Warn("rename segment for deletion")
			}
		}
		l.logger.WithFields(logrus.Fields{"offset": s.base, "reason": reason}).Info("deleting segment")
		if l.pending == nil {
			l.pending = map[*segment]*time.Timer{}
		}
		s := s
		l.pending[s] = time.AfterFunc(delay, func() {
			l.mu.Lock()
			_, ok := l.pending[s]
			delete(l.pending, s)
			l.mu.Unlock()
			if ok {
				if err := s.remove(); err != nil {
					l.logger.WithError(err).WithField("offset", s.base).Warn("remove deleted segment")
				}
			}
		})
	}
}

// AssignEpoch records that leader epoch epoch starts at startOffset (on
// becoming leader: the current log end offset), Kafka's
// LeaderEpochFileCache.assign.
func (l *Log) AssignEpoch(epoch int32, startOffset int64) error {
	return l.epochs.assign(epoch, startOffset)
}

// LatestEpoch returns the latest leader epoch in the cache, -1 if none.
func (l *Log) LatestEpoch() int32 { return l.epochs.latestEpoch() }

// EndOffsetForEpoch is Kafka's LeaderEpochFileCache.endOffsetFor: for the
// latest epoch (epoch, LogEndOffset); for an older one (the largest known
// epoch <= it, the start offset of the next higher epoch); below the first
// known epoch (epoch, first start offset); otherwise (-1, -1).
func (l *Log) EndOffsetForEpoch(epoch int32) (int32, int64) {
	return l.epochs.endOffsetFor(epoch, l.logEndOffset.Load())
}

// TopicID returns the topic ID from partition.metadata.
func (l *Log) TopicID() ([16]byte, bool) {
	l.topicIDMu.Lock()
	defer l.topicIDMu.Unlock()
	return l.topicID, l.hasTopicID
}

// SetTopicID writes partition.metadata once. Setting the same ID again is a
// no-op; a different one is ErrInconsistentTopicID.
func (l *Log) SetTopicID(id [16]byte) error {
	l.topicIDMu.Lock()
	defer l.topicIDMu.Unlock()
	if l.hasTopicID {
		if l.topicID != id {
			return fmt.Errorf("%w: log has %x, got %x", ErrInconsistentTopicID, l.topicID, id)
		}
		return nil
	}
	if err := writeFileAtomic(filepath.Join(l.dir, partitionMetadataFile), encodePartitionMetadata(id)); err != nil {
		return fmt.Errorf("write partition.metadata: %w", err)
	}
	l.topicID, l.hasTopicID = id, true
	return nil
}

// Close flushes the log, trims the active segment's indexes and closes every
// file. Idempotent.
func (l *Log) Close() error {
	return l.close(true, true)
}

// close closes the log; with flush it first makes the recovery point the
// log end and snapshots the producer state there. With sync it fsyncs what
// that needs; without, the caller syncs the whole file system afterwards
// (Manager.Close: one syncfs per log dir instead of a chain of fsyncs per
// log) and must not trust the files before that.
func (l *Log) close(flush, sync bool) error {
	l.mu.Lock()
	if l.closed.Load() {
		l.mu.Unlock()
		return nil
	}
	l.closed.Store(true)
	l.mu.Unlock()
	l.bg.Wait()
	var errs []error
	if flush {
		l.flushMu.Lock()
		// A log with nothing appended or truncated since its last flush
		// (most of a broker's logs, at a shutdown) is on disk already: its
		// close costs no fsync of the segment.
		durable := l.recoveryPoint.Load() == l.logEndOffset.Load() && l.flushedTruncations.Load() == l.truncations.Load()
		for _, s := range l.segments() {
			if sync && !durable && (s.base >= l.recoveryPoint.Load() || s == l.active()) {
				errs = append(errs, s.flush())
			}
		}
		if sync {
			errs = append(errs, l.epochs.sync())
		}
		l.flushMu.Unlock()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if flush && errors.Join(errs...) == nil {
		l.recoveryPoint.Store(l.logEndOffset.Load())
		// A snapshot at the log end spares the next start any replay.
		if _, err := l.producers.takeSnapshot(l.logEndOffset.Load(), sync); err != nil {
			errs = append(errs, err)
		}
	}
	for s, t := range l.pending {
		t.Stop()
		errs = append(errs, s.remove())
	}
	l.pending = nil
	for _, s := range l.segments() {
		errs = append(errs, s.close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close %s: %w", l.dir, err)
	}
	return nil
}

// RemoveExpiredProducers forgets the idempotent producers whose last batch
// is producer.id.expiration.ms older than now (Kafka's producer expiration
// check). It returns how many were removed.
func (l *Log) RemoveExpiredProducers(now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return 0
	}
	return l.producers.removeExpired(now.UnixMilli(), l.cfg.Load().ProducerIDExpirationMs)
}
