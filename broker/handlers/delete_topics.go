package handlers

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/apierr"
	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/server"
)

// DeleteTopics (key 20): v0–6.
//
// Behaviour:
//   - Only the active controller accepts it; others answer NOT_CONTROLLER (41)
//     for every topic.
//   - v6 names topics by name or by id (both or neither: INVALID_REQUEST;
//     an unknown id: UNKNOWN_TOPIC_ID 100). A topic named twice:
//     INVALID_REQUEST (42).
//   - A topic the metadata cache does not know: UNKNOWN_TOPIC_OR_PARTITION
//     (3). Otherwise TopicAdmin marks it for deletion (/admin/delete_topics);
//     its errors (TOPIC_DELETION_DISABLED 73, ...) are answered as they come.
//     The controller then stops the replicas, deletes the logs and the
//     znodes.
//   - TimeoutMillis > 0: waits until the topic is gone from the metadata
//     cache, else REQUEST_TIMED_OUT (7).
//
// Not implemented: controller mutation quotas (v5+ THROTTLING_QUOTA_EXCEEDED).
//
// Kafka: KafkaApis.handleDeleteTopicsRequest (ZK mode),
// ZkAdminManager.deleteTopics, DelayedDeleteTopics.
func (h *Handlers) handleDeleteTopics(ctx context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	snap := h.Metadata.Snapshot()

	type entry struct {
		name *string
		id   [16]byte
	}
	var entries []entry
	if req.Version >= 6 {
		for _, t := range req.Topics {
			entries = append(entries, entry{t.Topic, t.TopicID})
		}
	} else {
		for _, n := range req.TopicNames {
			n := n
			entries = append(entries, entry{name: &n})
		}
	}
	count := map[string]int{}
	for _, e := range entries {
		if e.name != nil {
			count[*e.name]++
		}
	}
	isController := h.IsController()
	resp.Topics = make([]kmsg.DeleteTopicsResponseTopic, len(entries))
	deleting := map[int]string{}
	for i, e := range entries {
		out := kmsg.NewDeleteTopicsResponseTopic()
		out.Topic, out.TopicID = e.name, e.id
		err := func() error {
			hasID := e.id != [16]byte{}
			switch {
			case e.name != nil && hasID, e.name == nil && !hasID:
				return apierr.New(kerr.InvalidRequest, "Exactly one of topic name or topic id must be set.")
			case e.name == nil:
				t, ok := snap.TopicByID(e.id)
				if !ok {
					return kerr.UnknownTopicID
				}
				name := t.Name
				out.Topic = &name
			}
			name := *out.Topic
			if hasID || req.Version >= 6 {
				if t, ok := snap.Topic(name); ok {
					out.TopicID = t.ID
				}
			}
			switch {
			case !isController:
				return kerr.NotController
			case count[name] > 1:
				return apierr.New(kerr.InvalidRequest, fmt.Sprintf("Duplicate topic in request: %s", name))
			}
			if _, ok := snap.Topic(name); !ok {
				return kerr.UnknownTopicOrPartition
			}
			return h.Admin.DeleteTopic(ctx, name)
		}()
		if err != nil {
			out.ErrorCode = h.errorCode(err)
			if req.Version >= 5 {
				out.ErrorMessage = errorMessage(err)
			}
		} else {
			deleting[i] = *out.Topic
			h.log.WithField("topic", *out.Topic).Info("topic marked for deletion")
		}
		resp.Topics[i] = out
	}

	if len(deleting) > 0 && req.TimeoutMillis > 0 {
		gone := func(s *metadata.Snapshot) bool {
			for _, name := range deleting {
				if _, ok := s.Topic(name); ok {
					return false
				}
			}
			return true
		}
		wctx, cancel := context.WithTimeout(ctx, time.Duration(req.TimeoutMillis)*time.Millisecond)
		_ = h.Metadata.Wait(wctx, gone)
		cancel()
		now := h.Metadata.Snapshot()
		for i, name := range deleting {
			if _, ok := now.Topic(name); ok {
				resp.Topics[i].ErrorCode = kerr.RequestTimedOut.Code
			}
		}
	}
	return resp, nil
}
