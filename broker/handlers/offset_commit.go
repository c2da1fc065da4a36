package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/group"
	"github.com/gregor-broker/gregor/broker/server"
)

// OffsetCommit (key 8): v1–8.
//
// Behaviour (group.Coordinator.CommitOffsets):
//   - Offsets are written to __consumer_offsets as OffsetCommitKey/Value
//     records (acks=-1, bounded by offsets.commit.timeout.ms) and cached once
//     appended.
//   - Generation >= 0, a member id or an instance id: the member must be in
//     the group's current generation (UNKNOWN_MEMBER_ID 25,
//     ILLEGAL_GENERATION 22, FENCED_INSTANCE_ID 82); REBALANCE_IN_PROGRESS
//     (27) while the group awaits its assignment. Generation -1 without a
//     member: a group that only stores offsets (allowed while it has no
//     members).
//   - A partition the metadata cache does not know:
//     UNKNOWN_TOPIC_OR_PARTITION (3). Metadata longer than
//     offset.metadata.max.bytes (4096): OFFSET_METADATA_TOO_LARGE (12).
//   - v1's per-partition timestamp sets the commit timestamp; v2–4's
//     retention time sets an expire timestamp (value version 1); v6+ stores
//     the leader epoch.
//   - The group's partition not led here: NOT_COORDINATOR (16), or
//     COORDINATOR_LOAD_IN_PROGRESS (14) while it loads.
//
// Not implemented: v0 (Kafka kept v0 commits in ZooKeeper), v9+ (KIP-848).
//
// Kafka: KafkaApis.handleOffsetCommitRequest, GroupCoordinator.handleCommitOffsets,
// GroupMetadataManager.storeOffsets.
func (h *Handlers) handleOffsetCommit(ctx context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.OffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	snap := h.Metadata.Snapshot()

	cr := group.CommitRequest{GroupID: req.Group, MemberID: req.MemberID, InstanceID: deref(req.InstanceID), Generation: req.Generation, RetentionMs: -1}
	if req.Version >= 2 && req.Version <= 4 {
		cr.RetentionMs = req.RetentionTimeMillis
	}
	type at struct{ i, j int }
	var where []at
	resp.Topics = make([]kmsg.OffsetCommitResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		resp.Topics[i].Topic = rt.Topic
		resp.Topics[i].Partitions = make([]kmsg.OffsetCommitResponseTopicPartition, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			out := &resp.Topics[i].Partitions[j]
			*out = kmsg.NewOffsetCommitResponseTopicPartition()
			out.Partition = rp.Partition
			switch {
			case h.Groups == nil:
				out.ErrorCode = kerr.CoordinatorNotAvailable.Code
				continue
			case !knownPartition(snap.Partition, rt.Topic, rp.Partition):
				out.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			oc := group.OffsetCommit{Topic: rt.Topic, Partition: rp.Partition, Offset: rp.Offset, LeaderEpoch: -1, Metadata: rp.Metadata, CommitTimestamp: -1}
			if req.Version == 1 {
				oc.CommitTimestamp = rp.Timestamp
			}
			if req.Version >= 6 {
				oc.LeaderEpoch = rp.LeaderEpoch
			}
			cr.Offsets = append(cr.Offsets, oc)
			where = append(where, at{i, j})
		}
	}
	if len(cr.Offsets) == 0 {
		return resp, nil
	}
	errs := h.Groups.CommitOffsets(ctx, cr)
	for k, w := range where {
		if errs[k] != nil {
			resp.Topics[w.i].Partitions[w.j].ErrorCode = errs[k].Code
		}
	}
	return resp, nil
}

// knownPartition reports whether the metadata cache knows topic-partition.
func knownPartition[T any](lookup func(string, int32) (T, bool), topic string, partition int32) bool {
	_, ok := lookup(topic, partition)
	return ok
}
