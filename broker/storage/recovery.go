package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
)

// logOpenOptions carries what the Manager knows about a log at start-up.
type logOpenOptions struct {
	cfg              LogConfig
	hadCleanShutdown bool  // .kafka_cleanshutdown was present: trust the files
	recoveryPoint    int64 // from recovery-point-offset-checkpoint (0 if absent)
	logStartOffset   int64 // from log-start-offset-checkpoint (-1 if absent)
	logger           *logrus.Entry
	recoveryBuf      []byte // scratch for recovery; allocated if nil
}

// recoveryBufSize is the read size of the recovery scan.
const recoveryBufSize = 1 << 20

// openLog opens or creates the log in dir, Kafka's LogLoader: clean up
// leftover files, open the segments, recover the ones after the recovery
// point after an unclean shutdown (and any segment whose indexes fail their
// check), cut a torn or corrupt tail, and restore the log start offset and
// leader epoch cache.
func openLog(dir, topic string, partition int32, o logOpenOptions) (*Log, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	logger := o.logger
	if logger == nil {
		logger = discardLogger()
	}
	l := &Log{
		dir:       dir,
		topic:     topic,
		partition: partition,
		logger:    logger.WithFields(logrus.Fields{"topic": topic, "partition": partition}),
	}
	l.SetConfig(o.cfg)
	cfg := l.cfg.Load()
	bases, err := cleanAndListSegments(dir, l.logger)
	if err != nil {
		return nil, err
	}
	if o.recoveryBuf == nil {
		o.recoveryBuf = make([]byte, recoveryBufSize)
	}
	strict := !cfg.compactEnabled()

	var segs []*segment
	closeAll := func() {
		for _, s := range segs {
			s.close()
		}
	}
	recoverFrom := len(bases) // index of the first segment to recover
	if !o.hadCleanShutdown {
		recoverFrom = 0
		for i, b := range bases {
			if b <= o.recoveryPoint {
				recoverFrom = i
			}
		}
	}
	var recovered, truncatedBytes int64
	for i := 0; i < len(bases); i++ {
		base := bases[i]
		last := i == len(bases)-1
		need := i >= recoverFrom
		s, err := openSegment(dir, base, last || need, cfg.IndexMaxBytes)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("open segment %d: %w", base, err)
		}
		segs = append(segs, s)
		if !need {
			if err := s.checkIndexes(last); err != nil {
				l.logger.WithError(err).WithField("offset", base).Warn("index check failed; rebuilding")
				need = true
				if !last {
					if err := s.makeActive(cfg.IndexMaxBytes); err != nil {
						closeAll()
						return nil, err
					}
				}
			}
		}
		if !need {
			s.loadTimestamps()
			continue
		}
		expect := int64(-1)
		if strict {
			expect = base
		}
		res, err := s.recover(expect, strict, cfg.IndexIntervalBytes, o.recoveryBuf)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("recover segment %d: %w", base, err)
		}
		recovered += res.validBytes
		if !last {
			if err := s.seal(); err != nil {
				closeAll()
				return nil, err
			}
		}
		if res.truncated > 0 {
			truncatedBytes += res.truncated
			l.logger.WithFields(logrus.Fields{"offset": res.next, "segment": base, "bytes": res.truncated}).Warn("truncated invalid bytes at the end of segment")
		}
		if (res.truncated > 0 || (strict && !last && res.next != bases[i+1])) && !last {
			// Everything after a cut is gone (Kafka deletes the later segments).
			for _, b := range bases[i+1:] {
				if err := removeSegmentFiles(dir, b); err != nil {
					closeAll()
					return nil, err
				}
				l.logger.WithFields(logrus.Fields{"segment": b}).Warn("deleted segment after a truncated one")
			}
			bases = bases[:i+1]
			if err := s.makeActive(cfg.IndexMaxBytes); err != nil {
				closeAll()
				return nil, err
			}
		}
	}

	// The log end offset comes from the active segment.
	var leo int64
	if len(segs) > 0 {
		act := segs[len(segs)-1]
		next, clean, err := act.nextOffset()
		if err != nil {
			closeAll()
			return nil, err
		}
		if !clean && act.size.Load() > 0 {
			res, err := act.recover(-1, false, cfg.IndexIntervalBytes, o.recoveryBuf)
			if err != nil {
				closeAll()
				return nil, err
			}
			truncatedBytes += res.truncated
			next = res.next
		}
		if act.size.Load() == 0 {
			next = act.base
		}
		act.loadFirstBatchTimestamp()
		leo = next
	}
	start := o.logStartOffset
	if len(segs) > 0 && leo < start {
		l.logger.WithFields(logrus.Fields{"offset": leo, "log_start_offset": start}).Warn("log end below checkpointed log start; starting empty")
		for _, s := range segs {
			s.deleted = false
			s.remove()
		}
		segs = nil
	}
	if len(segs) == 0 {
		s, err := createSegment(dir, max(start, 0), cfg, time.Now())
		if err != nil {
			return nil, err
		}
		segs = []*segment{s}
		leo = s.base
	}
	start = max(start, segs[0].base)
	l.setSegments(segs)
	l.logEndOffset.Store(leo)
	l.logStartOffset.Store(start)
	l.lastFlushMs.Store(time.Now().UnixMilli())

	// The leader epoch checkpoint is written without fsync on a new epoch
	// (checkpoint.go): after a crash its entries past the recovery point
	// come from the batches, and all of them when the file is torn.
	rebuildFrom := int64(-1)
	if !o.hadCleanShutdown && recoverFrom < len(segs) {
		rebuildFrom = segs[recoverFrom].base
	}
	if l.epochs, err = loadLeaderEpochCache(dir); err != nil {
		l.logger.WithError(err).Warn("unreadable leader epoch checkpoint; rebuilding it from the log")
		l.epochs = &leaderEpochCache{path: filepath.Join(dir, leaderEpochCheckpointFile)}
		rebuildFrom = segs[0].base
	} else if rebuildFrom >= 0 && len(l.epochs.snapshot()) == 0 {
		// Missing or empty after a crash: as good as torn (a rename can
		// reach the disk before the data it renames).
		rebuildFrom = segs[0].base
	}
	if rebuildFrom >= 0 {
		if err := l.epochs.rebuild(segs, rebuildFrom, leo); err != nil {
			closeAll()
			return nil, err
		}
	}
	if err := errors.Join(l.epochs.truncateFromEnd(leo), l.epochs.truncateFromStart(start)); err != nil {
		closeAll()
		return nil, err
	}
	if err := l.loadProducerState(segs, o.hadCleanShutdown); err != nil {
		closeAll()
		return nil, err
	}
	if data, err := os.ReadFile(filepath.Join(dir, partitionMetadataFile)); err == nil {
		if id, err := decodePartitionMetadata(data); err == nil {
			l.topicID, l.hasTopicID = id, true
		} else {
			l.logger.WithError(err).Warn("unreadable partition.metadata")
		}
	}

	// Recovered bytes may sit only in the page cache: make them durable
	// before calling them recovered.
	if recoverFrom < len(segs) || truncatedBytes > 0 {
		for _, s := range segs[min(recoverFrom, len(segs)-1):] {
			if err := s.flush(); err != nil {
				closeAll()
				return nil, err
			}
		}
	}
	l.recoveryPoint.Store(leo)
	if !o.hadCleanShutdown || truncatedBytes > 0 {
		l.logger.WithFields(logrus.Fields{
			"offset":          leo,
			"recovered_bytes": recovered,
			"truncated_bytes": truncatedBytes,
			"segments":        len(segs),
		}).Info("recovered log")
	}
	return l, nil
}

// checkIndexes is the start-up check of a segment trusted after a clean
// shutdown: the whole index of the active segment, the cheap bounds of the
// others (the reader tolerates the rest).
func (s *segment) checkIndexes(full bool) error {
	size := s.size.Load()
	isz, tsz := s.index.f.openedSize, s.timeIndex.f.openedSize
	if isz%offsetIndexEntrySize != 0 || tsz%timeIndexEntrySize != 0 {
		return fmt.Errorf("index sizes %d and %d are not whole entries", isz, tsz)
	}
	if full {
		if err := s.index.check(isz, size); err != nil {
			return err
		}
		next, _, err := s.nextOffset()
		if err != nil {
			return err
		}
		return s.timeIndex.check(tsz, next-1)
	}
	if isz == 0 {
		return nil
	}
	// Read the last entry without mapping the index (it is mapped lazily).
	f, err := os.Open(s.index.f.path)
	if err != nil {
		return err
	}
	defer f.Close()
	var e [offsetIndexEntrySize]byte
	if _, err := f.ReadAt(e[:], isz-offsetIndexEntrySize); err != nil {
		return err
	}
	if rel, pos := decodeOffsetEntry(e[:], 0); rel < 0 || pos < 0 || int64(pos) >= size {
		return fmt.Errorf("last offset index entry (%d, %d) outside the segment of %d bytes", rel, pos, size)
	}
	return nil
}

// loadFirstBatchTimestamp sets the roll timer base from the first batch
// (Kafka's LogSegment.loadFirstBatchTimestamp).
func (s *segment) loadFirstBatchTimestamp() {
	if s.size.Load() < batchHeaderSize {
		s.rollBaseTs = -1
		return
	}
	var hdr [batchHeaderSize]byte
	if _, err := s.file.ReadAt(hdr[:], 0); err != nil && err != io.EOF {
		return
	}
	s.rollBaseTs = batchMaxTimestamp(hdr[:])
}

// cleanAndListSegments removes leftovers of interrupted operations
// (*.deleted, *.cleaned, *.tmp, indexes without a log) and returns the base
// offsets of the .log files, sorted.
func cleanAndListSegments(dir string, logger *logrus.Entry) ([]int64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	logs := map[int64]bool{}
	var indexes []string
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		switch {
		case strings.HasSuffix(name, deletedFileSuffix), strings.HasSuffix(name, cleanedFileSuffix), strings.HasSuffix(name, ".tmp"):
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
				return nil, err
			}
		case strings.HasSuffix(name, swapFileSuffix):
			logger.WithField("file", name).Warn("leftover compaction swap file left in place")
		case strings.HasSuffix(name, logFileSuffix):
			if b, ok := parseSegmentBase(name, logFileSuffix); ok {
				logs[b] = true
			}
		case strings.HasSuffix(name, indexFileSuffix), strings.HasSuffix(name, timeIndexFileSuffix):
			indexes = append(indexes, name)
		}
	}
	for _, name := range indexes {
		suf := indexFileSuffix
		if strings.HasSuffix(name, timeIndexFileSuffix) {
			suf = timeIndexFileSuffix
		}
		if b, ok := parseSegmentBase(name, suf); ok && !logs[b] {
			logger.WithField("file", name).Warn("deleting index without a log segment")
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
				return nil, err
			}
		}
	}
	bases := make([]int64, 0, len(logs))
	for b := range logs {
		bases = append(bases, b)
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	return bases, nil
}

func parseSegmentBase(name, suffix string) (int64, bool) {
	s := strings.TrimSuffix(name, suffix)
	if len(s) != 20 {
		return 0, false
	}
	b, err := strconv.ParseInt(s, 10, 64)
	return b, err == nil && b >= 0
}

func removeSegmentFiles(dir string, base int64) error {
	for _, suf := range []string{logFileSuffix, indexFileSuffix, timeIndexFileSuffix, txnIndexFileSuffix} {
		if err := os.Remove(filepath.Join(dir, segmentFileName(base, suf))); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

func discardLogger() *logrus.Entry {
	lg := logrus.New()
	lg.SetOutput(io.Discard)
	return logrus.NewEntry(lg)
}

// loadProducerState builds the producer state of a log being opened
// (UnifiedLog.loadProducerState): the latest snapshot at or below the log
// end, then the batches after it. Without any snapshot the replay starts at
// the log start; after a clean shutdown without one (a log written before
// producer state was kept) only the last two segments are replayed, as
// Kafka's loader does for logs from older versions.
func (l *Log) loadProducerState(segs []*segment, clean bool) error {
	ps, err := newProducerStateManager(l.dir, l.logger)
	if err != nil {
		return fmt.Errorf("producer state: %w", err)
	}
	l.producers = ps
	from := l.logStartOffset.Load()
	if clean && len(ps.snapshots) == 0 && len(segs) >= 2 {
		from = max(from, segs[len(segs)-2].base)
	}
	if err := ps.load(segs, from, l.logEndOffset.Load(), time.Now().UnixMilli(), l.cfg.Load().ProducerIDExpirationMs); err != nil {
		return fmt.Errorf("producer state: %w", err)
	}
	return nil
}

// rebuild assigns the leader epochs of the batches in [from, to) of segs,
// as Kafka's LogSegment.recover does for the segments it recovers, and
// fsyncs the file if that changed anything (the recovery point moves past
// them when the log opens).
func (c *leaderEpochCache) rebuild(segs []*segment, from, to int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	changed := false
	err := forEachBatchHeader(segs, from, to, "rebuild leader epochs", func(hdr []byte) {
		if epoch := batchLeaderEpoch(hdr); epoch >= 0 && c.assignLocked(epochEntry{epoch, batchBaseOffset(hdr)}) {
			changed = true
		}
	})
	if err != nil {
		return err
	}
	if !changed {
		return nil
	}
	return c.flushLocked()
}
