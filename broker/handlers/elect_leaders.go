package handlers

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/server"
)

// ElectLeaders (key 43): v0–2. The admin client's leader election
// (KIP-183 preferred, KIP-460 unclean); clients send it to the controller.
//
// Behaviour:
//   - ElectionType 0 (PREFERRED; the only one before v1) or 1 (UNCLEAN);
//     anything else is INVALID_REQUEST for every partition.
//   - Topics null means every partition. Those whose leader is already
//     right (ELECTION_NOT_NEEDED) are then left out of the answer, as
//     Kafka does.
//   - This broker not the active controller: NOT_CONTROLLER (41) for every
//     partition (Kafka's ZooKeeper mode does not forward it).
//   - Otherwise the controller's event loop elects (coordinator.Controller.
//     ElectLeaders): per partition ELECTION_NOT_NEEDED (84) when the
//     preferred replica already leads (PREFERRED) or a live leader exists
//     (UNCLEAN), PREFERRED_LEADER_NOT_AVAILABLE (80) when the preferred
//     replica is not live or not in the ISR, ELIGIBLE_LEADERS_NOT_AVAILABLE
//     (83) when no replica is live (UNCLEAN), UNKNOWN_TOPIC_OR_PARTITION (3),
//     INVALID_TOPIC_EXCEPTION (17) for a topic being deleted.
//   - An elected partition is answered once this broker's metadata shows
//     its new leader (Kafka's DelayedElectLeader), or REQUEST_TIMED_OUT (7)
//     after TimeoutMillis; the election itself is not undone.
//   - The top-level error (v1+) is NONE: every problem is per partition.
//
// Kafka: KafkaApis.handleElectLeaders, ReplicaManager.electLeaders,
// KafkaController.processReplicaLeaderElection.
func (h *Handlers) handleElectLeaders(ctx context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.ElectLeadersRequest)
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	var partitions map[string][]int32
	if req.Topics != nil {
		partitions = map[string][]int32{}
		for _, t := range req.Topics {
			partitions[t.Topic] = append(partitions[t.Topic], t.Partitions...)
		}
	}
	typ := req.ElectionType
	if req.Version == 0 {
		typ = 0
	}
	var results []ElectionResult
	switch {
	case typ != 0 && typ != 1:
		results = electionErrorsFor(h.allPartitionsIfNil(partitions), kerr.InvalidRequest)
	case !h.IsController():
		results = electionErrorsFor(h.allPartitionsIfNil(partitions), kerr.NotController)
	default:
		ctl, ok := h.Controller.(ElectionController)
		if !ok {
			results = electionErrorsFor(h.allPartitionsIfNil(partitions), kerr.NotController)
			break
		}
		wctx, cancel := context.WithTimeout(ctx, time.Duration(max(req.TimeoutMillis, 0))*time.Millisecond)
		defer cancel()
		results = ctl.ElectLeaders(wctx, typ, partitions)
		h.waitForLeaders(wctx, results)
	}
	byTopic := map[string]int{}
	for _, res := range results {
		if req.Topics == nil && res.Err == kerr.ElectionNotNeeded {
			continue
		}
		i, ok := byTopic[res.Topic]
		if !ok {
			t := kmsg.NewElectLeadersResponseTopic()
			t.Topic = res.Topic
			resp.Topics = append(resp.Topics, t)
			i = len(resp.Topics) - 1
			byTopic[res.Topic] = i
		}
		p := kmsg.NewElectLeadersResponseTopicPartition()
		p.Partition = res.Partition
		if res.Err != nil {
			p.ErrorCode = res.Err.Code
			msg := res.Message
			if msg == "" {
				msg = res.Err.Description
			}
			p.ErrorMessage = &msg
		}
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, p)
	}
	return resp, nil
}

// ElectionController is the part of the controller module
// (coordinator.Controller) that serves ElectLeaders and ControlledShutdown;
// Deps.Controller answers NOT_CONTROLLER for both when it lacks them.
type ElectionController interface {
	// ElectLeaders runs a PREFERRED (0) or UNCLEAN (1) election for
	// partitions (nil: all) and returns one result per partition.
	ElectLeaders(ctx context.Context, electionType int8, partitions map[string][]int32) []ElectionResult
	// ControlledShutdown moves leadership off a broker about to stop and
	// answers with the partitions it still leads.
	ControlledShutdown(ctx context.Context, req *kmsg.ControlledShutdownRequest) *kmsg.ControlledShutdownResponse
}

// ElectionResult is one partition's outcome of an ElectLeaders election:
// Err nil means Leader now leads (elected, or already leading after a
// race); otherwise Message explains Err (empty: the error's description).
type ElectionResult struct {
	Topic     string
	Partition int32
	Leader    int32
	Err       *kerr.Error
	Message   string
}

// waitForLeaders turns results without an error into REQUEST_TIMED_OUT
// when the metadata cache does not show their leader before ctx is done.
func (h *Handlers) waitForLeaders(ctx context.Context, results []ElectionResult) {
	done := func(s *metadata.Snapshot, res ElectionResult) bool {
		leader, _, ok := s.Leader(res.Topic, res.Partition)
		return ok && leader == res.Leader
	}
	_ = h.Metadata.Wait(ctx, func(s *metadata.Snapshot) bool {
		for _, res := range results {
			if res.Err == nil && !done(s, res) {
				return false
			}
		}
		return true
	})
	s := h.Metadata.Snapshot()
	for i, res := range results {
		if res.Err == nil && !done(s, res) {
			results[i].Err = kerr.RequestTimedOut
		}
	}
}

// allPartitionsIfNil is partitions, or every partition in the metadata
// cache when it is nil (Kafka reads its metadata cache for a null list).
func (h *Handlers) allPartitionsIfNil(partitions map[string][]int32) map[string][]int32 {
	if partitions != nil {
		return partitions
	}
	out := map[string][]int32{}
	for name, t := range h.Metadata.Snapshot().Topics {
		for _, p := range t.SortedPartitions() {
			out[name] = append(out[name], p.Partition)
		}
	}
	return out
}

// electionErrorsFor answers every partition with e, sorted by topic.
func electionErrorsFor(partitions map[string][]int32, e *kerr.Error) []ElectionResult {
	var out []ElectionResult
	for _, topic := range slices.Sorted(maps.Keys(partitions)) {
		for _, p := range partitions[topic] {
			out = append(out, ElectionResult{Topic: topic, Partition: p, Leader: -1, Err: e})
		}
	}
	return out
}
