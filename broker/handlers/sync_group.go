package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/group"
	"github.com/gregor-broker/gregor/broker/server"
)

// SyncGroup (key 14): v0–5.
//
// Behaviour (group.Coordinator.SyncGroup):
//   - Followers wait for the leader's assignment; the leader's assignment is
//     written to __consumer_offsets (acks=-1) before anyone is answered, and
//     members it left out get an empty assignment.
//   - Wrong generation: ILLEGAL_GENERATION (22); unknown member:
//     UNKNOWN_MEMBER_ID (25); a rebalance started meanwhile:
//     REBALANCE_IN_PROGRESS (27); static member fenced: FENCED_INSTANCE_ID
//     (82); the coordinator loading: REBALANCE_IN_PROGRESS (so the member
//     rejoins, as Kafka answers).
//   - v5+: ProtocolType and ProtocolName are required and must match the
//     group's, else INCONSISTENT_GROUP_PROTOCOL (23); they are echoed back.
//
// Kafka: KafkaApis.handleSyncGroupRequest, GroupCoordinator.handleSyncGroup.
func (h *Handlers) handleSyncGroup(ctx context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.SyncGroupRequest)
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	resp.MemberAssignment = []byte{}
	switch {
	case h.Groups == nil:
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp, nil
	case req.Version >= 5 && (req.ProtocolType == nil || req.Protocol == nil):
		resp.ErrorCode = kerr.InconsistentGroupProtocol.Code
		return resp, nil
	}
	sr := group.SyncRequest{
		GroupID: req.Group, Generation: req.Generation, MemberID: req.MemberID, InstanceID: deref(req.InstanceID),
		ProtocolType: req.ProtocolType, Protocol: req.Protocol, Assignments: map[string][]byte{},
	}
	for _, a := range req.GroupAssignment {
		sr.Assignments[a.MemberID] = a.MemberAssignment
	}
	var res group.SyncResult
	select {
	case res = <-h.Groups.SyncGroup(sr):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if res.Err != nil {
		resp.ErrorCode = res.Err.Code
		return resp, nil
	}
	resp.ProtocolType, resp.Protocol = res.ProtocolType, res.Protocol
	if res.Assignment != nil {
		resp.MemberAssignment = res.Assignment
	}
	return resp, nil
}
