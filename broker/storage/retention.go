package storage

import (
	"time"
)

// ApplyRetention deletes whole non-active segments, oldest first, that are
// below the log start offset, older than retention.ms (by their largest
// timestamp) or beyond retention.bytes (Kafka's deleteOldSegments). Logs
// whose cleanup.policy does not include "delete" keep everything. It returns
// the number of segments deleted; their files are removed after
// file.delete.delay.ms.
func (l *Log) ApplyRetention(now time.Time) (deletedSegments int, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return 0, ErrLogClosed
	}
	start := l.logStartOffset.Load()
	n := l.deleteOldSegmentsLocked(func(s, next *segment) bool { return next.base <= start }, "log start offset breach")
	cfg := l.cfg.Load()
	if !cfg.deleteEnabled() {
		return n, nil
	}
	if cfg.RetentionMs >= 0 {
		nowMs := now.UnixMilli()
		n += l.deleteOldSegmentsLocked(func(s, _ *segment) bool {
			return nowMs-s.largestTimestamp() > cfg.RetentionMs
		}, "retention.ms")
	}
	if cfg.RetentionBytes >= 0 {
		diff := l.Size() - cfg.RetentionBytes
		n += l.deleteOldSegmentsLocked(func(s, _ *segment) bool {
			if diff-s.size.Load() >= 0 {
				diff -= s.size.Load()
				return true
			}
			return false
		}, "retention.bytes")
	}
	return n, nil
}

// deleteOldSegmentsLocked deletes segments from the oldest while pred holds
// (next is the following segment), never the active one, then moves the log
// start offset up to the new first segment.
func (l *Log) deleteOldSegmentsLocked(pred func(s, next *segment) bool, reason string) int {
	segs := l.segments()
	k := 0
	for k+1 < len(segs) && pred(segs[k], segs[k+1]) {
		k++
	}
	if k == 0 {
		return 0
	}
	// The log start moves before the segments go, so a reader that sees the
	// new segment list also sees the new start.
	if first := segs[k].base; first > l.logStartOffset.Load() {
		l.logStartOffset.Store(first)
		if err := l.epochs.truncateFromStart(first); err != nil {
			l.logger.WithError(err).Warn("leader epoch checkpoint")
		}
	}
	l.setSegments(append([]*segment(nil), segs[k:]...))
	l.deleteSegmentsLocked(segs[:k], reason)
	if err := l.producers.deleteSnapshotsBefore(segs[k].base); err != nil {
		l.logger.WithError(err).Warn("delete producer state snapshots")
	}
	return k
}
