package handlers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/apierr"
	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/server"
)

// CreateTopics (key 19): v0–7.
//
// Behaviour:
//   - Only the active controller accepts it (Kafka's ZK-mode rule); any other
//     broker answers NOT_CONTROLLER (41) for every topic, and clients retry
//     on the controller from their metadata.
//   - A topic named twice in one request: INVALID_REQUEST (42) for it.
//   - An illegal name: INVALID_TOPIC_EXCEPTION (17). Everything else is
//     validated by TopicAdmin (which writes ZooKeeper): TOPIC_ALREADY_EXISTS
//     (36), INVALID_PARTITIONS (37), INVALID_REPLICATION_FACTOR (38,
//     "Replication factor: 2 larger than available brokers: 1."),
//     INVALID_REPLICA_ASSIGNMENT (39), INVALID_CONFIG (40), with Kafka's
//     messages (v1+).
//   - ValidateOnly (v1+): validated, nothing written.
//   - TimeoutMillis > 0: waits until the metadata cache has a live leader for
//     every partition of every created topic, else REQUEST_TIMED_OUT (7) for
//     the topics still without (the topic is still being created).
//   - v5+: NumPartitions, ReplicationFactor and the configs given in the
//     request; v7+: the topic id once the cache has it.
//
// Not implemented: the full list of effective topic configs in the v5+
// response (only the overrides given are returned, as
// DYNAMIC_TOPIC_CONFIG), controller mutation quotas (v6+ THROTTLING_QUOTA_EXCEEDED).
//
// Kafka: KafkaApis.handleCreateTopicsRequest (ZK mode), ZkAdminManager.createTopics,
// DelayedCreatePartitions.
func (h *Handlers) handleCreateTopics(ctx context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	resp.Topics = make([]kmsg.CreateTopicsResponseTopic, len(req.Topics))
	count := map[string]int{}
	for _, rt := range req.Topics {
		count[rt.Topic]++
	}
	isController := h.IsController()
	created := map[int]int32{} // response index → partitions to wait for
	for i, rt := range req.Topics {
		out := kmsg.NewCreateTopicsResponseTopic()
		out.Topic = rt.Topic
		out.NumPartitions, out.ReplicationFactor = -1, -1
		err := func() error {
			switch {
			case !isController:
				return kerr.NotController
			case count[rt.Topic] > 1:
				return apierr.New(kerr.InvalidRequest, fmt.Sprintf("Create topics request from client `%s` contains multiple entries for the following topics: %s", clientID(r), rt.Topic))
			}
			if err := validateTopicName(rt.Topic); err != nil {
				return err
			}
			nt := NewTopic{
				Name:              rt.Topic,
				NumPartitions:     rt.NumPartitions,
				ReplicationFactor: rt.ReplicationFactor,
				ValidateOnly:      req.ValidateOnly,
			}
			if len(rt.ReplicaAssignment) > 0 {
				nt.Assignment = make(map[int32][]int32, len(rt.ReplicaAssignment))
				for _, a := range rt.ReplicaAssignment {
					nt.Assignment[a.Partition] = a.Replicas
				}
			}
			if len(rt.Configs) > 0 {
				nt.Configs = make(map[string]string, len(rt.Configs))
				for _, c := range rt.Configs {
					if c.Value != nil {
						nt.Configs[c.Name] = *c.Value
					}
				}
			}
			return h.Admin.CreateTopic(ctx, nt)
		}()
		if err != nil {
			out.ErrorCode = h.errorCode(err)
			if req.Version >= 1 {
				out.ErrorMessage = errorMessage(err)
				if out.ErrorMessage == nil && !errors.Is(err, kerr.NotController) {
					m := err.Error()
					out.ErrorMessage = &m
				}
			}
			resp.Topics[i] = out
			continue
		}
		out.NumPartitions, out.ReplicationFactor = h.createdShape(rt)
		if req.Version >= 5 {
			for _, c := range rt.Configs {
				rc := kmsg.NewCreateTopicsResponseTopicConfig()
				rc.Name, rc.Value, rc.Source = c.Name, c.Value, 1 // DYNAMIC_TOPIC_CONFIG
				rc.IsSensitive = strings.Contains(strings.ToLower(c.Name), "password")
				out.Configs = append(out.Configs, rc)
			}
		}
		if !req.ValidateOnly {
			h.log.WithField("topic", rt.Topic).Info("topic created")
			created[i] = out.NumPartitions
		}
		resp.Topics[i] = out
	}

	if len(created) > 0 && req.TimeoutMillis > 0 {
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
		snap := h.Metadata.Snapshot()
		for i, n := range created {
			if !snap.HasLiveLeaders(resp.Topics[i].Topic, n) {
				resp.Topics[i].ErrorCode = kerr.RequestTimedOut.Code
				if req.Version >= 1 {
					m := fmt.Sprintf("Topic %s was created but its partitions had no leaders within %d ms.", resp.Topics[i].Topic, req.TimeoutMillis)
					resp.Topics[i].ErrorMessage = &m
				}
			}
		}
	}
	if req.Version >= 7 {
		snap := h.Metadata.Snapshot()
		for i := range created {
			if t, ok := snap.Topic(resp.Topics[i].Topic); ok {
				resp.Topics[i].TopicID = t.ID
			}
		}
	}
	return resp, nil
}

// createdShape is the partition count and replication factor of a created
// topic: the request's, the assignment's, or the broker defaults for -1.
func (h *Handlers) createdShape(rt kmsg.CreateTopicsRequestTopic) (int32, int16) {
	if len(rt.ReplicaAssignment) > 0 {
		return int32(len(rt.ReplicaAssignment)), int16(len(rt.ReplicaAssignment[0].Replicas))
	}
	n, rf := rt.NumPartitions, rt.ReplicationFactor
	if n == -1 {
		n = h.Config.DefaultNumPartitions
	}
	if rf == -1 {
		rf = h.Config.DefaultReplicationFactor
	}
	return n, rf
}
