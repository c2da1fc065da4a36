package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/group"
	"github.com/gregor-broker/gregor/broker/server"
)

// OffsetDelete (key 47): v0 (KIP-496).
//
// Behaviour (group.Coordinator.DeleteOffsets): committed offsets of an
// Empty group, or of topics a consumer group does not subscribe to, are
// deleted; a subscribed topic's partitions answer GROUP_SUBSCRIBED_TO_TOPIC
// (86); a non-consumer group with members NON_EMPTY_GROUP (68); an unknown
// group GROUP_ID_NOT_FOUND (69). A partition the metadata cache does not
// know: UNKNOWN_TOPIC_OR_PARTITION (3).
//
// Kafka: KafkaApis.handleDeleteOffsetsRequest, GroupCoordinator.handleDeleteOffsets.
func (h *Handlers) handleOffsetDelete(_ context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.OffsetDeleteRequest)
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	if h.Groups == nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp, nil
	}
	snap := h.Metadata.Snapshot()
	type at struct{ i, j int }
	var where []at
	var parts []group.TopicPartition
	resp.Topics = make([]kmsg.OffsetDeleteResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		resp.Topics[i].Topic = rt.Topic
		resp.Topics[i].Partitions = make([]kmsg.OffsetDeleteResponseTopicPartition, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			resp.Topics[i].Partitions[j].Partition = rp.Partition
			if !knownPartition(snap.Partition, rt.Topic, rp.Partition) {
				resp.Topics[i].Partitions[j].ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			parts = append(parts, group.TopicPartition{Topic: rt.Topic, Partition: rp.Partition})
			where = append(where, at{i, j})
		}
	}
	topErr, errs := h.Groups.DeleteOffsets(req.Group, parts)
	if topErr != nil {
		resp.ErrorCode = topErr.Code
		resp.Topics = nil
		return resp, nil
	}
	for k, w := range where {
		if errs[k] != nil {
			resp.Topics[w.i].Partitions[w.j].ErrorCode = errs[k].Code
		}
	}
	return resp, nil
}
