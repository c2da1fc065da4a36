package handlers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/apierr"
	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/server"
)

// CreatePartitions (key 37): v0–3.
//
// Behaviour:
//   - Only the active controller accepts it (ZK mode); other brokers answer
//     NOT_CONTROLLER (41) for every topic.
//   - A topic named twice: INVALID_REQUEST (42) "Duplicate topic in request.".
//   - ClusterAdmin validates and rewrites /brokers/topics/<t>:
//     INVALID_PARTITIONS (37) "Topic currently has 3 partitions, which is
//     higher than the requested 2." / "Topic already has 3 partitions.",
//     INVALID_REPLICA_ASSIGNMENT (39) for explicit assignments naming
//     unknown brokers or of the wrong count or size,
//     UNKNOWN_TOPIC_OR_PARTITION (3), INVALID_TOPIC_EXCEPTION (17) while the
//     topic is being deleted, REASSIGNMENT_IN_PROGRESS (60).
//   - Without an assignment, Kafka's algorithm places the new partitions,
//     starting at the first broker whose id >= partition 0's first replica.
//   - ValidateOnly: validated, nothing written.
//   - Otherwise it waits until the metadata cache has a leader for every
//     partition, up to TimeoutMillis; REQUEST_TIMED_OUT (7) when it does not
//     (Kafka answers REQUEST_TIMED_OUT for a timeout <= 0 too).
//
// Not implemented: controller mutation quotas (v3 THROTTLING_QUOTA_EXCEEDED).
//
// Kafka: KafkaApis.handleCreatePartitionsRequest, ZkAdminManager.createPartitions,
// DelayedCreatePartitions.
func (h *Handlers) handleCreatePartitions(ctx context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	count := map[string]int{}
	for _, t := range req.Topics {
		count[t.Topic]++
	}
	isController := h.IsController()
	resp.Topics = make([]kmsg.CreatePartitionsResponseTopic, len(req.Topics))
	created := map[int]int32{}
	for i, rt := range req.Topics {
		out := kmsg.NewCreatePartitionsResponseTopic()
		out.Topic = rt.Topic
		err := func() error {
			switch {
			case !isController:
				return kerr.NotController
			case count[rt.Topic] > 1:
				return apierr.New(kerr.InvalidRequest, "Duplicate topic in request.")
			case h.ClusterAdmin == nil:
				return errors.New("no cluster admin")
			}
			var assignment [][]int32
			if rt.Assignment != nil {
				assignment = make([][]int32, len(rt.Assignment))
				for j, a := range rt.Assignment {
					assignment[j] = a.Replicas
				}
			}
			return h.ClusterAdmin.CreatePartitions(ctx, rt.Topic, rt.Count, assignment, req.ValidateOnly)
		}()
		if err != nil {
			out.ErrorCode = h.errorCode(err)
			out.ErrorMessage = configErrorMessage(err)
		} else if !req.ValidateOnly {
			h.log.WithField("topic", rt.Topic).WithField("partitions", rt.Count).Info("partitions added")
			created[i] = rt.Count
		}
		resp.Topics[i] = out
	}
	if len(created) == 0 {
		return resp, nil
	}
	if req.TimeoutMillis > 0 {
		wctx, cancel := context.WithTimeout(ctx, time.Duration(req.TimeoutMillis)*time.Millisecond)
		_ = h.Metadata.Wait(wctx, func(s *metadata.Snapshot) bool {
			for i, n := range created {
				if !s.HasLiveLeaders(resp.Topics[i].Topic, n) {
					return false
				}
			}
			return true
		})
		cancel()
	}
	snap := h.Metadata.Snapshot()
	for i, n := range created {
		if req.TimeoutMillis <= 0 || !snap.HasLiveLeaders(resp.Topics[i].Topic, n) {
			resp.Topics[i].ErrorCode = kerr.RequestTimedOut.Code
			m := fmt.Sprintf("Partitions of topic %s were created but did not all have leaders within %d ms.", resp.Topics[i].Topic, req.TimeoutMillis)
			resp.Topics[i].ErrorMessage = &m
		}
	}
	return resp, nil
}
