package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/server"
)

// DescribeProducers (key 61): v0 (KIP-664).
//
// Behaviour (for each requested partition hosted here, leader or
// follower, as Kafka; clients send it to the leader unless told otherwise):
//   - ActiveProducers lists the partition's idempotent producers as the
//     local log has them: ProducerID, ProducerEpoch, LastSequence (-1
//     when none is remembered), LastTimestamp (the max timestamp of the last
//     batch), CoordinatorEpoch and CurrentTxnStartOffset (-1: transactions
//     are not implemented, so there is never an open one). Producers expired
//     by producer.id.expiration.ms are gone.
//   - Not hosted here (or no open log) but known to the metadata:
//     NOT_LEADER_OR_FOLLOWER (6); unknown: UNKNOWN_TOPIC_OR_PARTITION (3).
//
// Not implemented: ACLs (no TOPIC_AUTHORIZATION_FAILED).
//
// Kafka: KafkaApis.handleDescribeProducersRequest,
// ReplicaManager.activeProducerState, Partition.activeProducerState.
func (h *Handlers) handleDescribeProducers(_ context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.DescribeProducersRequest)
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	snap := h.Metadata.Snapshot()
	resp.Topics = make([]kmsg.DescribeProducersResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		resp.Topics[i] = kmsg.NewDescribeProducersResponseTopic()
		resp.Topics[i].Topic = rt.Topic
		resp.Topics[i].Partitions = make([]kmsg.DescribeProducersResponseTopicPartition, len(rt.Partitions))
		for j, partition := range rt.Partitions {
			out := &resp.Topics[i].Partitions[j]
			*out = kmsg.NewDescribeProducersResponseTopicPartition()
			out.Partition = partition
			producers, err := h.Replicas.ActiveProducers(rt.Topic, partition)
			if err != nil {
				out.ErrorCode = h.errorCode(refineNotHosted(snap, rt.Topic, partition, err))
				continue
			}
			out.ActiveProducers = make([]kmsg.DescribeProducersResponseTopicPartitionActiveProducer, 0, len(producers))
			for _, p := range producers {
				ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
				ap.ProducerID, ap.ProducerEpoch = p.ProducerID, int32(p.ProducerEpoch)
				ap.LastSequence, ap.LastTimestamp = p.LastSequence, p.LastTimestamp
				ap.CoordinatorEpoch, ap.CurrentTxnStartOffset = p.CoordinatorEpoch, p.CurrentTxnStartOffset
				out.ActiveProducers = append(out.ActiveProducers, ap)
			}
		}
	}
	return resp, nil
}
