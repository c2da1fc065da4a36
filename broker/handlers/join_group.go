package handlers

import (
	"context"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/group"
	"github.com/gregor-broker/gregor/broker/server"
)

// JoinGroup (key 11): v0–9.
//
// Behaviour (group.Coordinator.JoinGroup, Kafka's state machine):
//   - The answer waits until the rebalance completes (the delayed join:
//     every member rejoined, or the rebalance timeout, or for an empty group
//     group.initial.rebalance.delay.ms, extended while members arrive).
//   - v4+ dynamic members first get MEMBER_ID_REQUIRED (79) with their id
//     (KIP-394); v5+ InstanceID makes a static member (KIP-345): a restart
//     with the same instance id in a Stable group causes no rebalance, and an
//     old member id of that instance gets FENCED_INSTANCE_ID (82).
//   - Session timeout outside group.min/max.session.timeout.ms:
//     INVALID_SESSION_TIMEOUT (26); more members than group.max.size:
//     GROUP_MAX_SIZE_REACHED (81); no common protocol:
//     INCONSISTENT_GROUP_PROTOCOL (23); a known member id not in the group:
//     UNKNOWN_MEMBER_ID (25); the group's partition not led here:
//     NOT_COORDINATOR (16), or COORDINATOR_LOAD_IN_PROGRESS (14) while it loads.
//   - v0 has no rebalance timeout: the session timeout is used. v7+ returns
//     the protocol type; v9 lets a restarted static leader skip the
//     assignment (SkipAssignment).
//
// Kafka: KafkaApis.handleJoinGroupRequest, GroupCoordinator.handleJoinGroup.
func (h *Handlers) handleJoinGroup(ctx context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.JoinGroupRequest)
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.Generation, resp.MemberID = -1, req.MemberID
	if h.Groups == nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp, nil
	}
	rebalance := req.RebalanceTimeoutMillis
	if req.Version == 0 {
		rebalance = req.SessionTimeoutMillis
	}
	jr := group.JoinRequest{
		GroupID:                   req.Group,
		MemberID:                  req.MemberID,
		InstanceID:                deref(req.InstanceID),
		ClientID:                  clientID(r),
		ClientHost:                clientHost(r),
		SessionTimeout:            time.Duration(req.SessionTimeoutMillis) * time.Millisecond,
		RebalanceTimeout:          time.Duration(rebalance) * time.Millisecond,
		ProtocolType:              req.ProtocolType,
		SupportSkippingAssignment: req.Version >= 9,
		Reason:                    deref(req.Reason),
	}
	jr.RequireKnownMemberID = req.Version >= 4 && jr.InstanceID == ""
	for _, p := range req.Protocols {
		jr.Protocols = append(jr.Protocols, group.Protocol{Name: p.Name, Metadata: p.Metadata})
	}
	var res group.JoinResult
	select {
	case res = <-h.Groups.JoinGroup(jr):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if res.Err != nil {
		resp.ErrorCode = res.Err.Code
	}
	resp.MemberID, resp.Generation, resp.LeaderID, resp.SkipAssignment = res.MemberID, res.Generation, res.LeaderID, res.SkipAssignment
	resp.ProtocolType, resp.Protocol = res.ProtocolType, res.Protocol
	for _, m := range res.Members {
		rm := kmsg.NewJoinGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ProtocolMetadata = m.MemberID, m.InstanceID, m.Metadata
		resp.Members = append(resp.Members, rm)
	}
	return resp, nil
}

// clientHost is the client's address as Kafka shows it (InetAddress.toString:
// "/127.0.0.1").
func clientHost(r *server.Request) string {
	if r.Remote == nil {
		return ""
	}
	if host, _, err := net.SplitHostPort(r.Remote.String()); err == nil {
		return "/" + host
	}
	return "/" + r.Remote.String()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
