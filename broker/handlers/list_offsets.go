package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/server"
)

// ListOffsets (key 2): v1–6.
//
// Behaviour (for each partition, on its leader only):
//   - Timestamp -1 (latest): the high watermark (= the last stable offset for
//     read_committed until transactions exist), with the current leader
//     epoch (v4+).
//   - Timestamp -2 (earliest): the log start offset.
//   - Any other timestamp >= 0: the first record whose timestamp is >= it,
//     with that timestamp, below the high watermark; offset and timestamp -1
//     when there is none. Other negative timestamps: INVALID_REQUEST (42).
//   - CurrentLeaderEpoch (v4+): older → FENCED_LEADER_EPOCH (74), newer →
//     UNKNOWN_LEADER_EPOCH (75). Not hosted → UNKNOWN_TOPIC_OR_PARTITION (3)
//     or NOT_LEADER_OR_FOLLOWER (6) when the topic exists.
//   - A replica (ReplicaID >= 0) may see up to the log end offset.
//
// Not implemented: v0 (MaxNumOffsets, pre-0.10.1 clients), v7+ (-3 max
// timestamp, KIP-734: needs the offset of the largest timestamp from
// storage), the leader epoch of a timestamp lookup (answered -1), and
// OFFSET_NOT_AVAILABLE after a leader change (v5+; only matters with
// followers, issue 4).
//
// Kafka: KafkaApis.handleListOffsetRequestV1AndAbove,
// Partition.fetchOffsetForTimestamp.
func (h *Handlers) handleListOffsets(_ context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	snap := h.Metadata.Snapshot()
	resp.Topics = make([]kmsg.ListOffsetsResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		resp.Topics[i].Topic = rt.Topic
		resp.Topics[i].Partitions = make([]kmsg.ListOffsetsResponseTopicPartition, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			out := kmsg.NewListOffsetsResponseTopicPartition()
			out.Partition = rp.Partition
			res, err := h.Replicas.ListOffset(rt.Topic, rp.Partition, rp.CurrentLeaderEpoch, rp.Timestamp, req.ReplicaID)
			out.Offset, out.Timestamp, out.LeaderEpoch = res.Offset, res.Timestamp, res.LeaderEpoch
			if err != nil {
				out.ErrorCode = h.errorCode(refineNotHosted(snap, rt.Topic, rp.Partition, err))
				out.Offset, out.Timestamp, out.LeaderEpoch = -1, -1, -1
			}
			resp.Topics[i].Partitions[j] = out
		}
	}
	return resp, nil
}
