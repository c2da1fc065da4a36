package handlers

import (
	"context"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/server"
)

// DescribeCluster (key 60): v0–1.
//
// Behaviour: the cluster id, the controller id (-1 when unknown) and the
// live brokers with their endpoint on the listener the request came in on,
// from the metadata cache. ClusterAuthorizedOperations is Kafka's "not
// requested" value (INT32_MIN); Gregor has no authorizer. v1: EndpointType
// 2 (controllers) is UNSUPPORTED_ENDPOINT_TYPE: a ZooKeeper-mode cluster has
// no controller quorum endpoints.
//
// Kafka: KafkaApis.handleDescribeCluster.
func (h *Handlers) handleDescribeCluster(_ context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.ClusterAuthorizedOperations = math.MinInt32
	resp.EndpointType = req.EndpointType
	if req.Version >= 1 && req.EndpointType == 2 {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		m := "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER"
		resp.ErrorMessage = &m
		resp.ControllerID = -1
		return resp, nil
	}
	snap := h.Metadata.Snapshot()
	resp.ClusterID = h.ClusterID
	resp.ControllerID = snap.ControllerID
	for _, b := range snap.SortedBrokers() {
		ep, ok := b.Endpoint(r.Listener)
		if !ok {
			continue
		}
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID, rb.Host, rb.Port, rb.Rack = b.ID, ep.Host, ep.Port, b.Rack
		resp.Brokers = append(resp.Brokers, rb)
	}
	return resp, nil
}
