package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/server"
)

// Heartbeat (key 12): v0–4.
//
// Behaviour (group.Coordinator.Heartbeat): a member of the current
// generation resets its session timeout; REBALANCE_IN_PROGRESS (27) tells it
// to rejoin; ILLEGAL_GENERATION (22), UNKNOWN_MEMBER_ID (25),
// FENCED_INSTANCE_ID (82, v3+ static members), NOT_COORDINATOR (16). While
// the coordinator loads the group's partition the answer is success, as
// Kafka's.
//
// Kafka: KafkaApis.handleHeartbeatRequest, GroupCoordinator.handleHeartbeat.
func (h *Handlers) handleHeartbeat(_ context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.HeartbeatRequest)
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	if h.Groups == nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp, nil
	}
	if err := h.Groups.Heartbeat(req.Group, req.MemberID, deref(req.InstanceID), req.Generation); err != nil {
		resp.ErrorCode = err.Code
	}
	return resp, nil
}
