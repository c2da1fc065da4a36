package handlers

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/apierr"
	"github.com/gregor-broker/gregor/broker/replica"
	"github.com/gregor-broker/gregor/broker/server"
)

// Fetch (key 1): v4–12.
//
// Behaviour:
//   - Reads each partition in request order from the leader's log below the
//     high watermark (the last stable offset equals it until transactions
//     exist), at most PartitionMaxBytes per partition and MaxBytes (capped by
//     fetch.max.bytes) in all, and at least one whole batch for the first
//     partition with data even when it is larger (KIP-74).
//   - Long polling: when fewer than MinBytes are available and no partition
//     failed, the request waits up to MaxWaitMillis (and never past the
//     connection's lifetime) and is woken by appends (Kafka's DelayedFetch).
//   - Returns HighWatermark, LastStableOffset (v4+), LogStartOffset (v5+),
//     PreferredReadReplica -1 (v11+), and an empty AbortedTransactions list
//     for read_committed.
//   - Errors per partition: UNKNOWN_TOPIC_OR_PARTITION (3);
//     NOT_LEADER_OR_FOLLOWER (6, with the current leader from v12);
//     OFFSET_OUT_OF_RANGE (1) below the log start or above the log end;
//     FENCED_LEADER_EPOCH (74) for a CurrentLeaderEpoch older than the
//     leader's, UNKNOWN_LEADER_EPOCH (75) for a newer one (v9+, KIP-320).
//   - Fetch sessions (KIP-227) are declined: a full fetch (SessionEpoch 0 or
//     -1) is answered in full with SessionID 0, so clients keep sending full
//     fetches; an incremental fetch (SessionEpoch > 0) names a session we
//     never created → FETCH_SESSION_ID_NOT_FOUND (70).
//   - ReplicaID >= 0 (a follower): read up to the log end offset and record
//     the follower's fetch offset on the leader; the rest of replication
//     (ISR changes, diverging epochs) is issue 4.
//
// Not implemented: reading from followers (KIP-392; Rack is ignored),
// aborted transactions (issue 5), v13+ (topic ids), zero-copy sendfile.
//
// Kafka: KafkaApis.handleFetchRequest, ReplicaManager.fetchMessages,
// DelayedFetch, FetchSession.
func (h *Handlers) handleFetch(ctx context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.FetchRequest)
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	resp.SessionID = 0
	if req.Version >= 7 && req.SessionEpoch != 0 && req.SessionEpoch != -1 {
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return resp, nil
	}

	maxBytes := req.MaxBytes
	if maxBytes > h.Config.FetchMaxBytes {
		maxBytes = h.Config.FetchMaxBytes
	}
	params := replica.FetchParams{
		ReplicaID:      req.ReplicaID,
		MaxWait:        time.Duration(max(req.MaxWaitMillis, 0)) * time.Millisecond,
		MinBytes:       req.MinBytes,
		MaxBytes:       maxBytes,
		IsolationLevel: req.IsolationLevel,
	}
	var parts []replica.FetchPartition
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			parts = append(parts, replica.FetchPartition{
				Topic:              rt.Topic,
				Partition:          rp.Partition,
				FetchOffset:        rp.FetchOffset,
				CurrentLeaderEpoch: rp.CurrentLeaderEpoch,
				MaxBytes:           rp.PartitionMaxBytes,
			})
		}
	}
	results := h.Replicas.Fetch(ctx, params, parts)

	snap := h.Metadata.Snapshot()
	k := 0
	resp.Topics = make([]kmsg.FetchResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		resp.Topics[i].Topic = rt.Topic
		resp.Topics[i].Partitions = make([]kmsg.FetchResponseTopicPartition, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			res := results[k]
			k++
			out := kmsg.NewFetchResponseTopicPartition()
			out.Partition = rp.Partition
			// Kafka always sends a record set, empty rather than null:
			// librdkafka rejects a null one ("invalid MessageSetSize -1").
			out.RecordBatches = emptyRecords
			out.HighWatermark, out.LastStableOffset, out.LogStartOffset = res.HighWatermark, res.LastStableOffset, res.LogStartOffset
			if res.Err != nil {
				err := refineNotHosted(snap, rt.Topic, rp.Partition, res.Err)
				out.ErrorCode = h.errorCode(err)
				out.HighWatermark, out.LastStableOffset, out.LogStartOffset = -1, -1, -1
				if req.Version >= 12 && apierr.Code(err) == kerr.NotLeaderForPartition.Code {
					out.CurrentLeader.LeaderID, out.CurrentLeader.LeaderEpoch = currentLeader(snap, rt.Topic, rp.Partition)
				}
			} else if res.Records != nil {
				out.RecordBatches = res.Records
			}
			if req.IsolationLevel == 1 {
				out.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
			}
			resp.Topics[i].Partitions[j] = out
		}
	}
	return resp, nil
}

// emptyRecords is a non-nil empty record set: size 0 on the wire, not -1.
var emptyRecords = []byte{}
