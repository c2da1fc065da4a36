package replica

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-broker/gregor/broker/apierr"
)

// DeleteRecordsHighWatermark as a DeleteRecords offset means "up to the high
// watermark" (Kafka's DeleteRecordsRequest.HIGH_WATERMARK).
const DeleteRecordsHighWatermark = -1

// deleteRecordsPoll is how often a waiting DeleteRecords re-checks the low
// watermark: followers report their log start offset only with their next
// fetch, so there is no event to wait on here.
const deleteRecordsPoll = 20 * time.Millisecond

// DeleteRecordsOnLeader moves the leader's log start offset up to offset (or
// the high watermark for DeleteRecordsHighWatermark), as Kafka's
// Partition.deleteRecordsOnLeader: NOT_LEADER_OR_FOLLOWER off the leader,
// POLICY_VIOLATION when cleanup.policy has no "delete", OFFSET_OUT_OF_RANGE
// for a negative offset or one beyond the high watermark. It returns the
// offset that must become every live replica's log start offset; followers
// learn it from their next fetch response (fetcher.go) and report theirs in
// the fetch after.
func (m *Manager) DeleteRecordsOnLeader(topic string, partition int32, offset int64) (requested int64, err error) {
	p, err := m.hostedPartition(topic, partition)
	if err != nil {
		return -1, err
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	l, err := p.checkLeaderLocked(-1, true)
	if err != nil {
		return -1, err
	}
	if !policyHasDelete(l.Config().CleanupPolicy) {
		return -1, apierr.New(kerr.PolicyViolation, fmt.Sprintf("Records of partition %s-%d can not be deleted due to the configured policy", topic, partition))
	}
	hw := p.HighWatermark()
	if offset == DeleteRecordsHighWatermark {
		offset = hw
	}
	if offset < 0 {
		return -1, apierr.New(kerr.OffsetOutOfRange, fmt.Sprintf("The offset %d for partition %s-%d is not valid", offset, topic, partition))
	}
	if offset > hw {
		return -1, apierr.New(kerr.OffsetOutOfRange, fmt.Sprintf("Cannot increment the log start offset to %d of partition %s-%d since it is larger than the high watermark %d", offset, topic, partition, hw))
	}
	if err := l.DeleteRecordsBefore(offset); err != nil {
		return -1, err
	}
	return offset, nil
}

// LowWatermark is Kafka's Partition.lowWatermarkIfLeader: the smallest log
// start offset among the leader and its followers on live brokers (-1 for a
// follower that has not fetched since this broker became leader).
func (m *Manager) LowWatermark(topic string, partition int32) (int64, error) {
	p, err := m.hostedPartition(topic, partition)
	if err != nil {
		return -1, err
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	l, err := p.checkLeaderLocked(-1, true)
	if err != nil {
		return -1, err
	}
	low := l.LogStartOffset()
	var live func(int32) bool
	if m.cfg.Metadata != nil {
		snap := m.cfg.Metadata.Snapshot()
		live = func(id int32) bool { _, ok := snap.Broker(id); return ok }
	}
	p.hwMu.Lock()
	for id, f := range p.followers {
		if (live == nil || live(id)) && f.logStartOffset < low {
			low = f.logStartOffset
		}
	}
	p.hwMu.Unlock()
	return low, nil
}

// WaitLowWatermark waits until the partition's low watermark reaches
// offset (Kafka's DelayedDeleteRecords) or ctx is done, and returns the
// last low watermark seen. A context error means the wait timed out.
func (m *Manager) WaitLowWatermark(ctx context.Context, topic string, partition int32, offset int64) (int64, error) {
	t := time.NewTicker(deleteRecordsPoll)
	defer t.Stop()
	for {
		low, err := m.LowWatermark(topic, partition)
		if err != nil || low >= offset {
			return low, err
		}
		select {
		case <-ctx.Done():
			return low, ctx.Err()
		case <-m.closeCh:
			return low, kerr.NotLeaderForPartition
		case <-t.C:
		}
	}
}

func policyHasDelete(policy string) bool {
	for _, p := range strings.Split(policy, ",") {
		if strings.TrimSpace(p) == "delete" {
			return true
		}
	}
	return policy == ""
}
