package handlers

import (
	"context"
	"errors"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/group"
	"github.com/gregor-broker/gregor/broker/server"
)

// FindCoordinator (key 10): v0–4.
//
// Behaviour:
//   - Key type 0 (group): the coordinator is the leader of the group's
//     __consumer_offsets partition, abs(Java hashCode(group)) % partitions,
//     as the metadata cache knows it, with its endpoint on the listener the
//     request came in on. v4 answers each key of CoordinatorKeys (KIP-699).
//   - __consumer_offsets missing: it is created through TopicAdmin with
//     offsets.topic.num.partitions, offsets.topic.replication.factor and
//     cleanup.policy=compact, segment.bytes=offsets.topic.segment.bytes,
//     compression.type=producer, and COORDINATOR_NOT_AVAILABLE (15) is
//     answered meanwhile (also while fewer brokers are alive than the
//     replication factor, which fails the creation, as Kafka does).
//   - Its partition without a live leader or without this listener:
//     COORDINATOR_NOT_AVAILABLE.
//   - Errors carry Kafka's message (v1+).
//
// Not implemented: key type 1 (transaction) answers COORDINATOR_NOT_AVAILABLE
// until the transaction coordinator exists; another key type is
// INVALID_REQUEST (42). v5+ (KIP-890 TRANSACTION_ABORTABLE, share groups).
//
// Kafka: KafkaApis.handleFindCoordinatorRequest, getCoordinator,
// AutoTopicCreationManager (internal topics).
func (h *Handlers) handleFindCoordinator(ctx context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	if req.Version >= 4 {
		for _, key := range req.CoordinatorKeys {
			resp.Coordinators = append(resp.Coordinators, h.findCoordinator(ctx, r.Listener, req.CoordinatorType, key))
		}
		return resp, nil
	}
	c := h.findCoordinator(ctx, r.Listener, req.CoordinatorType, req.CoordinatorKey)
	resp.ErrorCode, resp.NodeID, resp.Host, resp.Port = c.ErrorCode, c.NodeID, c.Host, c.Port
	if req.Version >= 1 {
		resp.ErrorMessage = c.ErrorMessage
	}
	return resp, nil
}

func (h *Handlers) findCoordinator(ctx context.Context, listener string, keyType int8, key string) kmsg.FindCoordinatorResponseCoordinator {
	out := kmsg.NewFindCoordinatorResponseCoordinator()
	out.Key, out.NodeID, out.Port = key, -1, -1
	fail := func(e *kerr.Error, msg string) kmsg.FindCoordinatorResponseCoordinator {
		out.ErrorCode = e.Code
		if msg == "" {
			msg = e.Description
		}
		out.ErrorMessage = &msg
		return out
	}
	switch keyType {
	case 0:
	case 1:
		return fail(kerr.CoordinatorNotAvailable, "The transaction coordinator is not implemented.")
	default:
		return fail(kerr.InvalidRequest, "Unknown coordinator type: "+strconv.Itoa(int(keyType)))
	}
	if h.Groups == nil {
		return fail(kerr.CoordinatorNotAvailable, "")
	}
	snap := h.Metadata.Snapshot()
	t, ok := snap.Topic(group.OffsetsTopic)
	if !ok {
		h.createOffsetsTopic(ctx)
		return fail(kerr.CoordinatorNotAvailable, "")
	}
	ps, ok := t.Partitions[h.Groups.PartitionFor(key)]
	if !ok {
		return fail(kerr.CoordinatorNotAvailable, "")
	}
	ep, ok := snap.Endpoint(ps.Leader, listener)
	if !ok {
		return fail(kerr.CoordinatorNotAvailable, "")
	}
	out.NodeID, out.Host, out.Port = ps.Leader, ep.Host, ep.Port
	return out
}

// createOffsetsTopic creates __consumer_offsets (at most one attempt at a
// time and one a second, see group.Coordinator.TryCreateOffsetsTopic).
func (h *Handlers) createOffsetsTopic(ctx context.Context) {
	cfg := h.Groups.Config()
	h.Groups.TryCreateOffsetsTopic(func() (bool, error) {
		err := h.Admin.CreateTopic(ctx, NewTopic{
			Name:              group.OffsetsTopic,
			NumPartitions:     cfg.OffsetsTopicNumPartitions,
			ReplicationFactor: cfg.OffsetsTopicReplicationFactor,
			Configs: map[string]string{
				"cleanup.policy":   "compact",
				"segment.bytes":    strconv.Itoa(int(cfg.OffsetsTopicSegmentBytes)),
				"compression.type": "producer",
			},
		})
		if errors.Is(err, kerr.TopicAlreadyExists) {
			return false, nil
		}
		return err == nil, err
	})
}
