package handlers

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"
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
//   - ReplicaID >= 0 (a follower): accepted only on the inter-broker
//     listener (Kafka requires CLUSTER_ACTION; elsewhere every partition
//     answers TOPIC_AUTHORIZATION_FAILED, 29, as Kafka does); reads up to the
//     log end offset and records the follower's fetch offset and log start
//     offset on the leader (high watermark, ISR expansion).
//   - LastFetchedEpoch (v12+): when the leader's epoch cache shows the
//     fetcher's log diverged (endOffsetFor(LastFetchedEpoch) has a smaller
//     epoch or ends before FetchOffset), DivergingEpoch carries that epoch
//     and end offset and no records are returned (KIP-320 truncate on fetch).
//
// Not implemented: reading from followers (KIP-392; Rack is ignored),
// aborted transactions (issue 5), v13+ (topic ids).
//
// Zero-copy: on a TCP connection (Request.FileRegions) the records are not
// read into memory; each partition's record set is a region of a segment
// file that the server's writer sends with sendfile (server.SplicedResponse).
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
		FileRegions:    r.FileRegions,
		MinRegionBytes: h.Config.ZeroCopyMinBytes,
	}
	if params.MinRegionBytes == 0 {
		params.MinRegionBytes = defaultZeroCopyMinBytes
	}
	if req.ReplicaID >= 0 && h.Config.InterBrokerListener != "" && r.Listener != h.Config.InterBrokerListener {
		return h.replicaFetchUnauthorized(r, req, resp), nil
	}
	var parts []replica.FetchPartition
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			parts = append(parts, replica.FetchPartition{
				Topic:               rt.Topic,
				Partition:           rp.Partition,
				FetchOffset:         rp.FetchOffset,
				CurrentLeaderEpoch:  rp.CurrentLeaderEpoch,
				MaxBytes:            rp.PartitionMaxBytes,
				HasLastFetchedEpoch: req.Version >= 12 && rp.LastFetchedEpoch >= 0,
				LastFetchedEpoch:    rp.LastFetchedEpoch,
				LogStartOffset:      rp.LogStartOffset,
			})
		}
	}
	results := h.Replicas.Fetch(ctx, params, parts)

	snap := h.Metadata.Snapshot()
	spliced := server.NewSplicedResponse(resp)
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
			} else if res.Diverging {
				out.DivergingEpoch.Epoch, out.DivergingEpoch.EndOffset = res.DivergingEpoch, res.DivergingEndOffset
			} else if res.Region.File != nil {
				// Zero-copy: the writer sends these bytes from the file.
				out.RecordBatches = spliced.Splice(server.FileRegion(res.Region))
			} else if res.Records != nil {
				out.RecordBatches = res.Records
			}
			if req.IsolationLevel == 1 {
				out.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
			}
			resp.Topics[i].Partitions[j] = out
		}
	}
	if len(spliced.Regions()) > 0 {
		return spliced, nil
	}
	return resp, nil
}

// defaultZeroCopyMinBytes is the smallest record set sent with sendfile. Each
// spliced record set costs the writer a sendfile call and a write for the
// bytes after it (and, with TCP_NODELAY, a packet each); below this size
// copying the bytes into the one buffer written at once is cheaper.
const defaultZeroCopyMinBytes = 32 << 10

// emptyRecords is a non-nil empty record set: size 0 on the wire, not -1.
var emptyRecords = []byte{}

// replicaFetchUnauthorized answers a replica fetch (ReplicaID >= 0) that came
// in on a client listener: Kafka without CLUSTER_ACTION answers
// TOPIC_AUTHORIZATION_FAILED for every partition, so a client cannot pose as
// a follower to read past the high watermark or move the ISR.
func (h *Handlers) replicaFetchUnauthorized(r *server.Request, req *kmsg.FetchRequest, resp *kmsg.FetchResponse) *kmsg.FetchResponse {
	h.log.WithFields(logrus.Fields{"api_key": r.APIKey, "remote": r.Remote, "listener": r.Listener, "replica_id": req.ReplicaID}).Warn("replica fetch on a client listener rejected")
	resp.Topics = make([]kmsg.FetchResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		resp.Topics[i].Topic = rt.Topic
		resp.Topics[i].Partitions = make([]kmsg.FetchResponseTopicPartition, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			out := kmsg.NewFetchResponseTopicPartition()
			out.Partition = rp.Partition
			out.ErrorCode = kerr.TopicAuthorizationFailed.Code
			out.HighWatermark, out.LastStableOffset, out.LogStartOffset = -1, -1, -1
			out.RecordBatches = emptyRecords
			resp.Topics[i].Partitions[j] = out
		}
	}
	return resp
}
