package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/group"
	"github.com/gregor-broker/gregor/broker/server"
)

// OffsetFetch (key 9): v1–8.
//
// Behaviour (group.Coordinator.FetchOffsets):
//   - The committed offset, leader epoch (v5+) and metadata of each
//     requested partition, -1 when none, whatever the group's state (a group
//     may use Kafka for offsets only). v2+: null topics means every
//     partition with a committed offset. v7+ RequireStable: a partition with
//     a commit in flight answers UNSTABLE_OFFSET_COMMIT (88). v8: several
//     groups per request.
//   - Group errors (NOT_COORDINATOR 16, COORDINATOR_LOAD_IN_PROGRESS 14,
//     COORDINATOR_NOT_AVAILABLE 15) are top-level from v2 (per group from
//     v8), per partition in v1.
//
// Not implemented: v0 (ZooKeeper offsets), v9+ (KIP-848 member epochs).
//
// Kafka: KafkaApis.handleOffsetFetchRequest, GroupCoordinator.handleFetchOffsets.
func (h *Handlers) handleOffsetFetch(_ context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.OffsetFetchRequest)
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version >= 8 {
		for _, rg := range req.Groups {
			var parts []group.TopicPartition
			if rg.Topics != nil {
				parts = []group.TopicPartition{}
				for _, t := range rg.Topics {
					for _, p := range t.Partitions {
						parts = append(parts, group.TopicPartition{Topic: t.Topic, Partition: p})
					}
				}
			}
			g := kmsg.NewOffsetFetchResponseGroup()
			g.Group = rg.Group
			code, offsets := h.fetchOffsets(rg.Group, req.RequireStable, parts)
			g.ErrorCode = code
			for _, t := range groupByTopic(offsets) {
				rt := kmsg.NewOffsetFetchResponseGroupTopic()
				rt.Topic = t[0].Topic
				for _, o := range t {
					rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = o.Partition, o.Offset, o.LeaderEpoch, &o.Metadata
					if o.Err != nil {
						rp.ErrorCode = o.Err.Code
					}
					rt.Partitions = append(rt.Partitions, rp)
				}
				g.Topics = append(g.Topics, rt)
			}
			resp.Groups = append(resp.Groups, g)
		}
		return resp, nil
	}

	var parts []group.TopicPartition
	if req.Topics != nil || req.Version < 2 {
		parts = []group.TopicPartition{}
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				parts = append(parts, group.TopicPartition{Topic: t.Topic, Partition: p})
			}
		}
	}
	code, offsets := h.fetchOffsets(req.Group, req.Version >= 7 && req.RequireStable, parts)
	if code != 0 {
		if req.Version >= 2 {
			resp.ErrorCode = code
			return resp, nil
		}
		// v1: the group's error on every requested partition.
		offsets = offsets[:0]
		for _, tp := range parts {
			offsets = append(offsets, group.FetchedOffset{Topic: tp.Topic, Partition: tp.Partition, Offset: -1, LeaderEpoch: -1, Err: kerr.ErrorForCode(code).(*kerr.Error)})
		}
	}
	for _, t := range groupByTopic(offsets) {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = t[0].Topic
		for _, o := range t {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = o.Partition, o.Offset, o.LeaderEpoch, &o.Metadata
			if o.Err != nil {
				rp.ErrorCode = o.Err.Code
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

func (h *Handlers) fetchOffsets(groupID string, requireStable bool, parts []group.TopicPartition) (int16, []group.FetchedOffset) {
	if h.Groups == nil {
		return kerr.CoordinatorNotAvailable.Code, nil
	}
	err, offsets := h.Groups.FetchOffsets(groupID, requireStable, parts)
	if err != nil {
		return err.Code, nil
	}
	return 0, offsets
}

// groupByTopic splits offsets into runs of one topic, keeping the order of
// first appearance.
func groupByTopic(offsets []group.FetchedOffset) [][]group.FetchedOffset {
	idx := map[string]int{}
	var out [][]group.FetchedOffset
	for _, o := range offsets {
		i, ok := idx[o.Topic]
		if !ok {
			i = len(out)
			idx[o.Topic] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], o)
	}
	return out
}
