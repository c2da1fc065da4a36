package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/server"
)

// OffsetForLeaderEpoch (key 23): v0–4.
//
// Behaviour (for each partition, on its leader only;
// replica.Manager.LastOffsetForLeaderEpoch):
//   - Answers the end offset of LeaderEpoch from the leader epoch cache
//     (KIP-101): for the latest epoch, the log end offset; for an older
//     one, the largest epoch <= it (v1+) and the start offset of the next
//     higher epoch; epoch and offset -1 when the epoch is unknown.
//   - CurrentLeaderEpoch (v2+, -1 = not checked): older →
//     FENCED_LEADER_EPOCH (74), newer → UNKNOWN_LEADER_EPOCH (75) (KIP-320).
//   - Not hosted → UNKNOWN_TOPIC_OR_PARTITION (3), or NOT_LEADER_OR_FOLLOWER
//     (6) when the topic exists; not the leader → NOT_LEADER_OR_FOLLOWER.
//   - ReplicaID (v3+) >= 0 is a follower, which Kafka requires to hold
//     CLUSTER_ACTION: accepted only on the inter-broker listener, else every
//     partition answers CLUSTER_AUTHORIZATION_FAILED (31). Consumers (-1,
//     and every v0–2 request) are accepted on any listener.
//
// Gregor's followers truncate with Fetch's DivergingEpoch instead (Kafka's
// IBP >= 2.7 path); this API serves consumers validating their position
// after a leader change (KIP-320) and older followers.
//
// Kafka: KafkaApis.handleOffsetForLeaderEpochRequest,
// Partition.lastOffsetForLeaderEpoch, LeaderEpochFileCache.endOffsetFor.
func (h *Handlers) handleOffsetForLeaderEpoch(_ context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.OffsetForLeaderEpochRequest)
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	snap := h.Metadata.Snapshot()
	unauthorized := req.Version >= 3 && req.ReplicaID >= 0 &&
		h.Config.InterBrokerListener != "" && r.Listener != h.Config.InterBrokerListener
	resp.Topics = make([]kmsg.OffsetForLeaderEpochResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		resp.Topics[i].Topic = rt.Topic
		resp.Topics[i].Partitions = make([]kmsg.OffsetForLeaderEpochResponseTopicPartition, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			out := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			out.Partition = rp.Partition
			out.LeaderEpoch, out.EndOffset = -1, -1
			if unauthorized {
				out.ErrorCode = kerr.ClusterAuthorizationFailed.Code
				resp.Topics[i].Partitions[j] = out
				continue
			}
			current := rp.CurrentLeaderEpoch
			if req.Version < 2 {
				current = -1
			}
			epoch, end, err := h.Replicas.LastOffsetForLeaderEpoch(rt.Topic, rp.Partition, current, rp.LeaderEpoch)
			if err != nil {
				out.ErrorCode = h.errorCode(refineNotHosted(snap, rt.Topic, rp.Partition, err))
			} else {
				out.LeaderEpoch, out.EndOffset = epoch, end
			}
			resp.Topics[i].Partitions[j] = out
		}
	}
	if unauthorized {
		h.log.WithFields(map[string]any{"api_key": r.APIKey, "remote": r.Remote, "listener": r.Listener}).Warn("replica OffsetForLeaderEpoch on a client listener rejected")
	}
	return resp, nil
}
