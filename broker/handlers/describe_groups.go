package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/server"
)

// groupOperations are the ACL operations on a group, all allowed (there is
// no authorizer): READ, DELETE, DESCRIBE.
var groupOperations = bits(opRead, opDelete, opDescribe)

// DescribeGroups (key 15): v0–5.
//
// Behaviour (group.Coordinator.DescribeGroup): state, protocol type, and
// the members (client id, host, instance id v4+); protocol, member metadata
// and assignments only when the group is Stable. An unknown group is
// described as Dead without error. Authorized operations (v3+) when asked.
// NOT_COORDINATOR (16) / COORDINATOR_LOAD_IN_PROGRESS (14) per group.
//
// Not implemented: v6 (KIP-1043 error messages).
//
// Kafka: KafkaApis.handleDescribeGroupsRequest, GroupCoordinator.handleDescribeGroup.
func (h *Handlers) handleDescribeGroups(_ context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.DescribeGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, id := range req.Groups {
		rg := kmsg.NewDescribeGroupsResponseGroup()
		rg.Group = id
		if h.Groups == nil {
			rg.ErrorCode = kerr.CoordinatorNotAvailable.Code
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		err, s := h.Groups.DescribeGroup(id)
		if err != nil {
			rg.ErrorCode = err.Code
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		rg.State, rg.ProtocolType, rg.Protocol = s.State, s.ProtocolType, s.Protocol
		for _, m := range s.Members {
			rm := kmsg.NewDescribeGroupsResponseGroupMember()
			rm.MemberID, rm.InstanceID, rm.ClientID, rm.ClientHost = m.MemberID, m.InstanceID, m.ClientID, m.ClientHost
			rm.ProtocolMetadata, rm.MemberAssignment = m.Metadata, m.Assignment
			rg.Members = append(rg.Members, rm)
		}
		if req.Version >= 3 && req.IncludeAuthorizedOperations {
			rg.AuthorizedOperations = groupOperations
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp, nil
}
