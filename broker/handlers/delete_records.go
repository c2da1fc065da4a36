package handlers

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/server"
)

// DeleteRecords (key 21): v0–2.
//
// Behaviour (for each partition, on its leader):
//   - The log start offset moves to Offset (-1: the high watermark) and
//     segments wholly below it are deleted; followers follow it from their
//     next fetch response.
//   - The answer waits until every replica on a live broker has moved its
//     log start offset there (Kafka's DelayedDeleteRecords), up to
//     TimeoutMillis; then REQUEST_TIMED_OUT (7) with the low watermark
//     reached so far.
//   - LowWatermark is the smallest log start offset of the replicas.
//   - Offset beyond the high watermark or negative: OFFSET_OUT_OF_RANGE (1).
//     cleanup.policy without delete: POLICY_VIOLATION (44). Not the leader:
//     NOT_LEADER_OR_FOLLOWER (6); unknown: UNKNOWN_TOPIC_OR_PARTITION (3).
//
// Kafka: KafkaApis.handleDeleteRecordsRequest, ReplicaManager.deleteRecords,
// Partition.deleteRecordsOnLeader, DelayedDeleteRecords.
func (h *Handlers) handleDeleteRecords(ctx context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	snap := h.Metadata.Snapshot()
	type pending struct {
		out       *kmsg.DeleteRecordsResponseTopicPartition
		topic     string
		requested int64
	}
	var waits []pending
	resp.Topics = make([]kmsg.DeleteRecordsResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		resp.Topics[i].Topic = rt.Topic
		resp.Topics[i].Partitions = make([]kmsg.DeleteRecordsResponseTopicPartition, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			out := &resp.Topics[i].Partitions[j]
			*out = kmsg.NewDeleteRecordsResponseTopicPartition()
			out.Partition, out.LowWatermark = rp.Partition, -1
			requested, err := h.Replicas.DeleteRecordsOnLeader(rt.Topic, rp.Partition, rp.Offset)
			if err != nil {
				out.ErrorCode = h.errorCode(refineNotHosted(snap, rt.Topic, rp.Partition, err))
				continue
			}
			waits = append(waits, pending{out: out, topic: rt.Topic, requested: requested})
		}
	}
	wctx, cancel := context.WithTimeout(ctx, time.Duration(max(req.TimeoutMillis, 0))*time.Millisecond)
	defer cancel()
	for _, w := range waits {
		low, err := h.Replicas.WaitLowWatermark(wctx, w.topic, w.out.Partition, w.requested)
		w.out.LowWatermark = low
		if err != nil {
			if ctxErr := wctx.Err(); ctxErr != nil && err == ctxErr {
				err = kerr.RequestTimedOut
			}
			w.out.ErrorCode = h.errorCode(refineNotHosted(snap, w.topic, w.out.Partition, err))
		}
	}
	return resp, nil
}
