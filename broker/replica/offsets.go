package replica

import (
	"github.com/twmb/franz-go/pkg/kerr"
)

// Special timestamps of ListOffsets (Kafka's ListOffsetsRequest).
const (
	LatestTimestamp   = -1
	EarliestTimestamp = -2
)

// OffsetAndTimestamp is the answer to a ListOffsets lookup; Offset and
// Timestamp are -1 when no record matches.
type OffsetAndTimestamp struct {
	Offset      int64
	Timestamp   int64
	LeaderEpoch int32 // -1 when unknown
}

// ListOffset answers one ListOffsets partition, as Kafka's
// Partition.fetchOffsetForTimestamp for a consumer: the leader only, with
// the current leader epoch checked (KIP-320); -1 (latest) is the high
// watermark (= the last stable offset for read_committed until transactions
// exist); -2 (earliest) is the log start offset; a timestamp is the first
// offset whose timestamp is >= it, below the high watermark, or -1. A
// replica (replicaID >= 0) may read up to the log end offset.
func (m *Manager) ListOffset(topic string, partition int32, currentLeaderEpoch int32, timestamp int64, replicaID int32) (OffsetAndTimestamp, error) {
	none := OffsetAndTimestamp{Offset: -1, Timestamp: -1, LeaderEpoch: -1}
	p, err := m.hostedPartition(topic, partition)
	if err != nil {
		return none, err
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	l, err := p.checkLeaderLocked(currentLeaderEpoch, true)
	if err != nil {
		return none, err
	}
	bound := p.HighWatermark()
	if replicaID >= 0 {
		bound = l.LogEndOffset()
	}
	switch timestamp {
	case LatestTimestamp:
		return OffsetAndTimestamp{Offset: bound, Timestamp: -1, LeaderEpoch: p.leaderEpoch}, nil
	case EarliestTimestamp:
		return OffsetAndTimestamp{Offset: l.LogStartOffset(), Timestamp: -1, LeaderEpoch: -1}, nil
	}
	if timestamp < 0 {
		return none, kerr.InvalidRequest
	}
	off, ts, found := l.OffsetForTimestamp(timestamp)
	if !found || off >= bound {
		return none, nil
	}
	return OffsetAndTimestamp{Offset: off, Timestamp: ts, LeaderEpoch: -1}, nil
}

// LastOffsetForLeaderEpoch answers one OffsetForLeaderEpoch partition, as
// Kafka's Partition.lastOffsetForLeaderEpoch with fetchOnlyFromLeader: the
// leader only, with currentLeaderEpoch checked (-1: not checked; KIP-320),
// then the leader epoch cache's endOffsetFor(leaderEpoch): (leaderEpoch,
// LEO) for the latest epoch, (the largest epoch <= leaderEpoch, the start of
// the next one) for an older one, and (-1, -1) when unknown.
func (m *Manager) LastOffsetForLeaderEpoch(topic string, partition, currentLeaderEpoch, leaderEpoch int32) (epoch int32, endOffset int64, err error) {
	p, err := m.hostedPartition(topic, partition)
	if err != nil {
		return -1, -1, err
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	l, err := p.checkLeaderLocked(currentLeaderEpoch, true)
	if err != nil {
		return -1, -1, err
	}
	epoch, endOffset = l.EndOffsetForEpoch(leaderEpoch)
	if endOffset < 0 {
		return -1, -1, nil
	}
	return epoch, endOffset, nil
}
