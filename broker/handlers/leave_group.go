package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/group"
	"github.com/gregor-broker/gregor/broker/server"
)

// LeaveGroup (key 13): v0–5.
//
// Behaviour (group.Coordinator.LeaveGroup): the members leave at once and
// the group rebalances. v0–2 carry one member id and answer its error at the
// top level; v3+ batch members (KIP-345), each with its own error, and a
// member named by InstanceID alone is removed administratively. v5 adds a
// reason, which is logged.
//
// Kafka: KafkaApis.handleLeaveGroupRequest, GroupCoordinator.handleLeaveGroup.
func (h *Handlers) handleLeaveGroup(_ context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.LeaveGroupRequest)
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	if h.Groups == nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp, nil
	}
	var members []group.LeaveMember
	if req.Version < 3 {
		members = []group.LeaveMember{{MemberID: req.MemberID}}
	} else {
		for _, m := range req.Members {
			members = append(members, group.LeaveMember{MemberID: m.MemberID, InstanceID: deref(m.InstanceID), Reason: deref(m.Reason)})
		}
	}
	topErr, errs := h.Groups.LeaveGroup(req.Group, members)
	if topErr != nil {
		resp.ErrorCode = topErr.Code
		return resp, nil
	}
	if req.Version < 3 {
		if len(errs) > 0 && errs[0] != nil {
			resp.ErrorCode = errs[0].Code
		}
		return resp, nil
	}
	for i, m := range req.Members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID = m.MemberID, m.InstanceID
		if errs[i] != nil {
			rm.ErrorCode = errs[i].Code
		}
		resp.Members = append(resp.Members, rm)
	}
	return resp, nil
}
