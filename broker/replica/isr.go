package replica

import (
	"slices"
	"strconv"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
)

// isrChange is an ISR change the leader proposed to the controller and not
// yet committed (Kafka's PendingExpandIsr / PendingShrinkIsr).
type isrChange struct {
	newISR  []int32
	expand  bool    // else shrink
	changed []int32 // the replicas added or removed, for the logs
	// awaitingLeaderAndIsr is set when the controller answered
	// FENCED_LEADER_EPOCH, INVALID_UPDATE_VERSION or UNKNOWN_*: the change is
	// not re-sent and the partition proposes nothing more until a
	// LeaderAndIsr replaces its state (Kafka stays pending the same way).
	awaitingLeaderAndIsr bool
}

func (c *isrChange) reason() string {
	if c.expand {
		return "expand"
	}
	return "shrink"
}

// maybeExpandISRLocked is Kafka's Partition.maybeExpandIsr for one follower:
// a follower outside the ISR joins once its LEO reaches the high watermark
// and the start offset of the current leader epoch (KAFKA-7128: it has the
// whole current epoch), and it is alive in the metadata cache. The change
// is proposed (pending) and counts for the high watermark at once. p.mu
// (read) and hwMu are held; it reports whether a change is now pending.
func (p *Partition) maybeExpandISRLocked(replicaID int32, f *followerState) bool {
	if p.pendingISR != nil || slices.Contains(p.isr, replicaID) {
		return false
	}
	if f.logEndOffset < p.highWatermark || f.logEndOffset < p.leaderEpochStartOffset || !p.m.isrEligible(replicaID) {
		return false
	}
	newISR := append(slices.Clone(p.isr), replicaID)
	p.pendingISR = &isrChange{newISR: newISR, expand: true, changed: []int32{replicaID}}
	p.m.log.WithFields(logrus.Fields{"topic": p.Topic, "partition": p.Index, "leader_epoch": p.leaderEpoch,
		"isr": p.isr, "new_isr": newISR, "replica": replicaID, "replica_log_end_offset": f.logEndOffset,
		"high_watermark": p.highWatermark, "leader_epoch_start_offset": p.leaderEpochStartOffset}).Info("proposing ISR expand")
	return true
}

// maybeShrinkISR is Kafka's Partition.maybeShrinkIsr, run by the periodic
// isr-expiration task: ISR followers that have not caught up within
// replica.lag.time.max.ms are proposed for removal. The leader never
// removes itself. It reports whether a change is now pending.
func (p *Partition) maybeShrinkISR(now time.Time) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if !p.isLeader || p.stopped || p.log == nil {
		return false
	}
	leo := p.log.LogEndOffset()
	p.hwMu.Lock()
	defer p.hwMu.Unlock()
	if p.pendingISR != nil {
		return false
	}
	var outOfSync []int32
	fields := logrus.Fields{}
	for _, r := range p.isr {
		if r == p.m.cfg.BrokerID {
			continue
		}
		f, ok := p.followers[r]
		if ok && f.isCaughtUp(leo, now, p.m.cfg.ReplicaLagTimeMax) {
			continue
		}
		outOfSync = append(outOfSync, r)
		if ok {
			fields["replica_"+strconv.Itoa(int(r))+"_log_end_offset"] = f.logEndOffset
			if !f.lastCaughtUpTime.IsZero() {
				fields["replica_"+strconv.Itoa(int(r))+"_lag"] = now.Sub(f.lastCaughtUpTime).Round(time.Millisecond).String()
			}
		}
	}
	if len(outOfSync) == 0 {
		return false
	}
	newISR := slices.DeleteFunc(slices.Clone(p.isr), func(r int32) bool { return slices.Contains(outOfSync, r) })
	p.pendingISR = &isrChange{newISR: newISR, changed: outOfSync}
	p.m.log.WithFields(fields).WithFields(logrus.Fields{"topic": p.Topic, "partition": p.Index, "leader_epoch": p.leaderEpoch,
		"isr": p.isr, "new_isr": newISR, "out_of_sync": outOfSync, "log_end_offset": leo, "high_watermark": p.highWatermark}).Info("proposing ISR shrink")
	return true
}

// pendingForRequest returns what to send for the pending change, or ok false
// when there is nothing to send (no change, not leader, or waiting for a
// LeaderAndIsr).
func (p *Partition) pendingForRequest() (change *isrChange, leaderEpoch, partitionEpoch int32, ok bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if !p.isLeader || p.stopped {
		return nil, 0, 0, false
	}
	p.hwMu.Lock()
	defer p.hwMu.Unlock()
	if p.pendingISR == nil || p.pendingISR.awaitingLeaderAndIsr {
		return nil, 0, 0, false
	}
	return p.pendingISR, p.leaderEpoch, p.partitionEpoch, true
}

// alterPartitionOutcome is what the leader does with one partition's
// AlterPartition answer.
type alterPartitionOutcome int

const (
	outcomeDone   alterPartitionOutcome = iota // committed, reverted, stale, or parked until LeaderAndIsr
	outcomeResend                              // send the same change again
)

// applyAlterPartitionResult is Kafka's Partition.handleAlterPartitionUpdate
// and handleAlterPartitionError for the change sent: success commits the
// controller's ISR and partition epoch (when the leader epoch still
// matches); OPERATION_NOT_ATTEMPTED / INELIGIBLE_REPLICA revert to the
// committed ISR; FENCED_LEADER_EPOCH, INVALID_UPDATE_VERSION and UNKNOWN_*
// leave the change pending, not re-sent, until a LeaderAndIsr; other errors
// re-send it.
func (p *Partition) applyAlterPartitionResult(sent *isrChange, errCode int16, leaderEpoch, partitionEpoch int32, isr []int32) alterPartitionOutcome {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hwMu.Lock()
	if p.pendingISR != sent || !p.isLeader || p.stopped {
		p.hwMu.Unlock()
		return outcomeDone // superseded by a LeaderAndIsr
	}
	fields := logrus.Fields{"topic": p.Topic, "partition": p.Index, "leader_epoch": p.leaderEpoch, "partition_epoch": p.partitionEpoch,
		"isr": p.isr, "proposed_isr": sent.newISR, "reason": sent.reason()}
	var outcome alterPartitionOutcome
	committed := false
	switch err := kerr.ErrorForCode(errCode); {
	case errCode == 0:
		switch {
		case leaderEpoch != p.leaderEpoch:
			p.m.log.WithFields(fields).WithField("response_leader_epoch", leaderEpoch).Info("ignoring AlterPartition result for another leader epoch")
		case partitionEpoch < p.partitionEpoch:
			p.m.log.WithFields(fields).WithField("response_partition_epoch", partitionEpoch).Info("ignoring AlterPartition result with an older partition epoch")
		default:
			old := p.isr
			p.isr = slices.Clone(isr)
			p.partitionEpoch = partitionEpoch
			p.pendingISR = nil
			committed = true
			fields["isr"], fields["old_isr"], fields["partition_epoch"] = p.isr, old, partitionEpoch
			fields["high_watermark"], fields["log_end_offset"] = p.highWatermark, p.log.LogEndOffset()
			p.m.log.WithFields(fields).Info("ISR updated")
		}
	case err == kerr.OperationNotAttempted || err == kerr.IneligibleReplica:
		p.pendingISR = nil
		p.m.log.WithFields(fields).WithField("error", err.Error()).Warn("controller rejected the ISR change; reverting to the committed ISR")
	case err == kerr.FencedLeaderEpoch || err == kerr.InvalidUpdateVersion || err == kerr.UnknownTopicOrPartition || err == kerr.UnknownTopicID:
		sent.awaitingLeaderAndIsr = true
		p.m.log.WithFields(fields).WithField("error", err.Error()).Warn("controller fenced the ISR change; waiting for LeaderAndIsr")
	default:
		outcome = outcomeResend
		p.m.log.WithFields(fields).WithField("error", err.Error()).Warn("ISR change failed; retrying")
	}
	p.hwMu.Unlock()
	if committed {
		p.maybeIncrementHighWatermarkLocked()
		p.wake()
	}
	return outcome
}

// isrEligible reports whether a broker may join an ISR: alive in the
// metadata cache (Kafka's ZK-mode isReplicaIsrEligible). Without a cache
// (tests) every broker is eligible.
func (m *Manager) isrEligible(id int32) bool {
	if m.cfg.Metadata == nil {
		return true
	}
	_, ok := m.cfg.Metadata.Snapshot().Broker(id)
	return ok
}

// shrinkISRs is one run of Kafka's isr-expiration task over the led
// partitions.
func (m *Manager) shrinkISRs(now time.Time) {
	for _, p := range m.Partitions() {
		if p.maybeShrinkISR(now) {
			m.alter.enqueue(p)
		}
	}
}
