package group

import (
	"context"
	"sort"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
)

// OffsetCommit is one partition of an OffsetCommit.
type OffsetCommit struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32   // -1: none
	Metadata    *string // nil: ""
	// CommitTimestamp is v1's per-partition timestamp; -1 means now.
	CommitTimestamp int64
}

// CommitRequest is an OffsetCommit.
type CommitRequest struct {
	GroupID    string
	MemberID   string
	InstanceID string
	Generation int32 // -1: not using group management
	// RetentionMs is v2–v4's retention time; -1 means the broker's
	// offsets.retention.minutes.
	RetentionMs int64
	Offsets     []OffsetCommit
}

// CommitOffsets is GroupCoordinator.handleCommitOffsets plus
// GroupMetadataManager.storeOffsets: it validates the member and
// generation, appends the offsets to __consumer_offsets (acks=-1) and caches
// them once appended. It returns one error per offset (nil: committed).
func (c *Coordinator) CommitOffsets(ctx context.Context, req CommitRequest) []*kerr.Error {
	errs := make([]*kerr.Error, len(req.Offsets))
	failAll := func(e *kerr.Error) []*kerr.Error {
		for i := range errs {
			errs[i] = e
		}
		return errs
	}
	g, err := c.lookupGroup(req.GroupID, apiOffsetCommit, false)
	if err != nil {
		return failAll(err)
	}
	if g == nil {
		if req.Generation >= 0 {
			// A commit of an older generation of a group that is gone.
			return failAll(errIllegalGeneration)
		}
		// A group that uses Kafka only to store offsets.
		if g, err = c.lookupGroup(req.GroupID, apiOffsetCommit, true); err != nil {
			return failAll(err)
		}
	}

	g.mu.Lock()
	if e := c.validateOffsetCommitLocked(g, req); e != nil {
		g.mu.Unlock()
		return failAll(e)
	}
	switch g.state {
	case Stable, PreparingRebalance:
		// A commit during PreparingRebalance is allowed; the heartbeat
		// tells the member about the rebalance.
		m := g.members[req.MemberID]
		c.scheduleHeartbeatLocked(g, m, m.sessionTimeout)
	case CompletingRebalance:
		g.mu.Unlock()
		return failAll(errRebalanceInProgress)
	}
	now := c.nowMs()
	var records []kv
	var entries []*offsetEntry
	var idx []int
	for i, oc := range req.Offsets {
		e := &offsetEntry{offset: oc.Offset, leaderEpoch: oc.LeaderEpoch, commitTimestamp: now, expireTimestamp: -1, recordOffset: -1}
		if oc.Metadata != nil {
			e.metadata = *oc.Metadata
		}
		if len(e.metadata) > c.cfg.OffsetMetadataMaxBytes {
			errs[i] = kerr.OffsetMetadataTooLarge
			continue
		}
		if oc.CommitTimestamp >= 0 {
			e.commitTimestamp = oc.CommitTimestamp
		}
		if req.RetentionMs >= 0 {
			e.expireTimestamp = now + req.RetentionMs
		}
		tp := TopicPartition{oc.Topic, oc.Partition}
		g.pendingCommits[tp]++
		records = append(records, kv{offsetCommitKey(g.id, tp), offsetCommitValue(e)})
		entries = append(entries, e)
		idx = append(idx, i)
	}
	partition := g.partition
	g.mu.Unlock()
	if len(records) == 0 {
		return errs
	}

	last, appendErr := c.appendRecords(ctx, partition, records, true)
	code := commitErrorCode(appendErr)

	g.mu.Lock()
	defer g.mu.Unlock()
	first := last - int64(len(records)) + 1
	for k, i := range idx {
		oc := req.Offsets[i]
		tp := TopicPartition{oc.Topic, oc.Partition}
		if g.pendingCommits[tp]--; g.pendingCommits[tp] <= 0 {
			delete(g.pendingCommits, tp)
		}
		errs[i] = code
		if code != nil || g.state == Dead {
			continue
		}
		e := entries[k]
		e.recordOffset = first + int64(k)
		// Concurrent commits of one partition: the later record wins.
		if cur, ok := g.offsets[tp]; !ok || cur.recordOffset < e.recordOffset {
			g.offsets[tp] = e
		}
	}
	if code != nil {
		c.groupLog(g).WithError(appendErr).WithField("code", code.Message).Warn("offset commit failed")
	}
	return errs
}

// validateOffsetCommitLocked is GroupCoordinator.validateOffsetCommit.
func (c *Coordinator) validateOffsetCommitLocked(g *groupMeta, req CommitRequest) *kerr.Error {
	switch {
	case g.state == Dead:
		return errCoordinatorNotAvailable
	case req.Generation >= 0 || req.MemberID != "" || req.InstanceID != "":
		if e := validateCurrentMember(g, req.MemberID, req.InstanceID); e != nil {
			return e
		}
		if req.Generation != g.generation {
			return errIllegalGeneration
		}
	case g.state != Empty:
		// Only members may commit for a group with members.
		return errUnknownMemberID
	}
	return nil
}

// FetchedOffset is one partition's committed offset; Offset -1 means none.
type FetchedOffset struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	Err         *kerr.Error
}

// FetchOffsets is GroupCoordinator.handleFetchOffsets: the group's offsets
// for parts (nil: every committed partition), regardless of the group's
// state. With requireStable, a partition with a commit in flight answers
// UNSTABLE_OFFSET_COMMIT.
func (c *Coordinator) FetchOffsets(groupID string, requireStable bool, parts []TopicPartition) (*kerr.Error, []FetchedOffset) {
	g, err := c.lookupGroup(groupID, apiOffsetFetch, false)
	if err != nil {
		return err, nil
	}
	none := func(tp TopicPartition) FetchedOffset {
		return FetchedOffset{Topic: tp.Topic, Partition: tp.Partition, Offset: -1, LeaderEpoch: -1}
	}
	var out []FetchedOffset
	if g == nil {
		for _, tp := range parts {
			out = append(out, none(tp))
		}
		return nil, out
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == Dead {
		for _, tp := range parts {
			out = append(out, none(tp))
		}
		return nil, out
	}
	if parts == nil {
		for tp := range g.offsets {
			parts = append(parts, tp)
		}
		sort.Slice(parts, func(i, j int) bool {
			if parts[i].Topic != parts[j].Topic {
				return parts[i].Topic < parts[j].Topic
			}
			return parts[i].Partition < parts[j].Partition
		})
	}
	for _, tp := range parts {
		f := none(tp)
		if requireStable && g.pendingCommits[tp] > 0 {
			f.Err = kerr.UnstableOffsetCommit
		} else if e, ok := g.offsets[tp]; ok {
			f.Offset, f.LeaderEpoch, f.Metadata = e.offset, e.leaderEpoch, e.metadata
		}
		out = append(out, f)
	}
	return nil, out
}

// DeleteOffsets is GroupCoordinator.handleDeleteOffsets (KIP-496): offsets
// of an empty group, or of topics a consumer group does not subscribe to,
// are removed; the others answer GROUP_SUBSCRIBED_TO_TOPIC.
func (c *Coordinator) DeleteOffsets(groupID string, parts []TopicPartition) (*kerr.Error, []*kerr.Error) {
	g, err := c.lookupGroup(groupID, apiOffsetDelete, false)
	if err != nil {
		return err, nil
	}
	if g == nil {
		return kerr.GroupIDNotFound, nil
	}
	errs := make([]*kerr.Error, len(parts))
	g.mu.Lock()
	var eligible []TopicPartition
	switch {
	case g.state == Dead:
		g.mu.Unlock()
		return kerr.GroupIDNotFound, nil
	case g.state == Empty:
		eligible = parts
	case g.protocolType == consumerProtocolType:
		for i, tp := range parts {
			if g.isSubscribedToTopic(tp.Topic) {
				errs[i] = kerr.GroupSubscribedToTopic
			} else {
				eligible = append(eligible, tp)
			}
		}
	default:
		g.mu.Unlock()
		return kerr.NonEmptyGroup, nil
	}
	g.mu.Unlock()
	if len(eligible) > 0 {
		n := c.cleanupGroupMetadata(g, func(g *groupMeta) []TopicPartition {
			var removed []TopicPartition
			for _, tp := range eligible {
				if _, ok := g.offsets[tp]; ok && g.pendingCommits[tp] == 0 {
					delete(g.offsets, tp)
					removed = append(removed, tp)
				}
			}
			return removed
		})
		c.groupLog(g).WithField("offsets", n).Info("offsets deleted")
	}
	return nil, errs
}

// cleanupGroupMetadata is GroupMetadataManager.cleanupGroupMetadata for one
// group: selector removes offsets (under the group lock); an Empty group
// left without offsets becomes Dead and is forgotten; tombstones for the
// removed offsets (and the group, unless it only stored offsets) are
// appended without waiting — a lost tombstone is written again by the next
// expiration run.
func (c *Coordinator) cleanupGroupMetadata(g *groupMeta, selector func(*groupMeta) []TopicPartition) int {
	g.mu.Lock()
	removed := selector(g)
	if g.state == Empty && len(g.offsets) == 0 {
		c.groupLog(g).Info("group transitioned to Dead")
		g.transitionTo(Dead, c.clock.Now())
		c.stopTimersLocked(g)
	}
	dead, gen, partition := g.state == Dead, g.generation, g.partition
	g.mu.Unlock()

	var tombstones []kv
	for _, tp := range removed {
		tombstones = append(tombstones, kv{key: offsetCommitKey(g.id, tp)})
	}
	if dead && c.removeGroup(g) && gen > 0 {
		tombstones = append(tombstones, kv{key: groupMetadataKey(g.id)})
	}
	if len(tombstones) > 0 {
		if _, err := c.appendRecords(context.Background(), partition, tombstones, false); err != nil {
			c.log.WithError(err).WithFields(logrus.Fields{"group": g.id, "partition": partition}).Warn("append group tombstones")
		}
	}
	return len(removed)
}

// scheduleCleanupLocked arms the next offset expiration run
// (offsets.retention.check.interval.ms). c.mu is held.
func (c *Coordinator) scheduleCleanupLocked() {
	c.cleanupTimer = c.clock.AfterFunc(c.cfg.OffsetsRetentionCheckInterval, func() {
		c.CleanupExpiredOffsets()
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.active.Load() {
			c.scheduleCleanupLocked()
		}
	})
}

// CleanupExpiredOffsets removes the offsets older than
// offsets.retention.minutes (GroupMetadata.removeExpiredOffsets) from every
// loaded group, and the groups left Empty without offsets. It returns the
// number of offsets removed.
func (c *Coordinator) CleanupExpiredOffsets() int {
	c.mu.Lock()
	var gs []*groupMeta
	for _, g := range c.groups {
		gs = append(gs, g)
	}
	c.mu.Unlock()
	now := c.nowMs()
	retention := c.cfg.OffsetsRetention.Milliseconds()
	total := 0
	for _, g := range gs {
		total += c.cleanupGroupMetadata(g, func(g *groupMeta) []TopicPartition {
			return g.removeExpiredOffsets(now, retention)
		})
	}
	if total > 0 {
		c.log.WithField("offsets", total).Info("removed expired offsets")
	}
	return total
}

// removeExpiredOffsets is GroupMetadata.removeExpiredOffsets. g.mu is held.
func (g *groupMeta) removeExpiredOffsets(now, retention int64) []TopicPartition {
	expired := func(base func(*offsetEntry) int64, subscribed map[string]bool) []TopicPartition {
		var out []TopicPartition
		for tp, e := range g.offsets {
			if subscribed[tp.Topic] || g.pendingCommits[tp] > 0 {
				continue
			}
			if e.expireTimestamp >= 0 {
				if now >= e.expireTimestamp {
					out = append(out, tp)
				}
			} else if now-base(e) >= retention {
				out = append(out, tp)
			}
		}
		return out
	}
	var out []TopicPartition
	switch {
	case g.protocolType != "" && g.state == Empty:
		// Retention counts from when the group became empty (or from the
		// commit for groups loaded from old records).
		out = expired(func(e *offsetEntry) int64 {
			if g.stateTimestamp >= 0 {
				return g.stateTimestamp
			}
			return e.commitTimestamp
		}, nil)
	case g.protocolType == consumerProtocolType && g.subscribedKnown && g.state == Stable:
		out = expired(func(e *offsetEntry) int64 { return e.commitTimestamp }, g.subscribed)
	case g.protocolType == "":
		out = expired(func(e *offsetEntry) int64 { return e.commitTimestamp }, nil)
	}
	for _, tp := range out {
		delete(g.offsets, tp)
	}
	return out
}
