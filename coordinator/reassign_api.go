package coordinator

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/zkpaths"
)

// The controller side of AlterPartitionReassignments (key 45) and
// ListPartitionReassignments (key 46), KIP-455: Kafka's
// processApiPartitionReassignment and processListPartitionReassignments,
// run as events on the controller's loop.

type (
	// alterReassignmentsEvent is an AlterPartitionReassignments request;
	// the answer goes to reply (buffered), also when not active.
	alterReassignmentsEvent struct {
		req   *kmsg.AlterPartitionAssignmentsRequest
		reply chan *kmsg.AlterPartitionAssignmentsResponse
	}
	// listReassignmentsEvent is a ListPartitionReassignments request.
	listReassignmentsEvent struct {
		req   *kmsg.ListPartitionReassignmentsRequest
		reply chan *kmsg.ListPartitionReassignmentsResponse
	}
	// zkReassignmentEvent: /admin/reassign_partitions was created.
	zkReassignmentEvent struct{}
)

// defaultReassignTimeout bounds the wait for the event loop when the
// request carries no timeout (the admin client's default is 60 s).
const defaultReassignTimeout = 60 * time.Second

// AlterPartitionReassignments starts, changes or cancels (null replicas)
// reassignments and answers once each has been written to the topic znode
// and phase A or B has run; completion is asynchronous. Not the active
// controller: NOT_CONTROLLER for the whole request.
func (c *Controller) AlterPartitionReassignments(ctx context.Context, req *kmsg.AlterPartitionAssignmentsRequest) *kmsg.AlterPartitionAssignmentsResponse {
	if !c.active.Load() {
		return alterReassignmentsTopLevel(req, kerr.NotController)
	}
	ev := alterReassignmentsEvent{req: req, reply: make(chan *kmsg.AlterPartitionAssignmentsResponse, 1)}
	c.events.put(ev)
	select {
	case resp := <-ev.reply:
		return resp
	case <-c.runDone:
		return alterReassignmentsTopLevel(req, kerr.NotController)
	case <-ctx.Done():
		return alterReassignmentsTopLevel(req, kerr.RequestTimedOut)
	case <-time.After(reassignTimeout(req.TimeoutMillis)):
		return alterReassignmentsTopLevel(req, kerr.RequestTimedOut)
	}
}

// ListPartitionReassignments lists the ongoing reassignments (of the
// partitions named, or all when Topics is null).
func (c *Controller) ListPartitionReassignments(ctx context.Context, req *kmsg.ListPartitionReassignmentsRequest) *kmsg.ListPartitionReassignmentsResponse {
	if !c.active.Load() {
		return listReassignmentsTopLevel(req, kerr.NotController)
	}
	ev := listReassignmentsEvent{req: req, reply: make(chan *kmsg.ListPartitionReassignmentsResponse, 1)}
	c.events.put(ev)
	select {
	case resp := <-ev.reply:
		return resp
	case <-c.runDone:
		return listReassignmentsTopLevel(req, kerr.NotController)
	case <-ctx.Done():
		return listReassignmentsTopLevel(req, kerr.RequestTimedOut)
	case <-time.After(reassignTimeout(req.TimeoutMillis)):
		return listReassignmentsTopLevel(req, kerr.RequestTimedOut)
	}
}

func reassignTimeout(ms int32) time.Duration {
	if ms <= 0 {
		return defaultReassignTimeout
	}
	return time.Duration(ms) * time.Millisecond
}

func alterReassignmentsTopLevel(req *kmsg.AlterPartitionAssignmentsRequest, e *kerr.Error) *kmsg.AlterPartitionAssignmentsResponse {
	resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	resp.ErrorCode = e.Code
	return resp
}

func listReassignmentsTopLevel(req *kmsg.ListPartitionReassignmentsRequest, e *kerr.Error) *kmsg.ListPartitionReassignmentsResponse {
	resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	resp.ErrorCode = e.Code
	return resp
}

// processAlterReassignments is processApiPartitionReassignment. It always
// answers; it returns an error only for handleError (the controller moved,
// the session was lost, or a ZooKeeper failure left the context unsure).
func (c *Controller) processAlterReassignments(e alterReassignmentsEvent) error {
	if !c.active.Load() {
		e.reply <- alterReassignmentsTopLevel(e.req, kerr.NotController)
		return nil
	}
	results := map[tp]reassignError{}
	ras := map[tp]replicaAssignment{}
	var ps []tp
	live := c.cc.liveIDs()
	for _, t := range e.req.Topics {
		for _, rp := range t.Partitions {
			p := tp{t.Topic, rp.Partition}
			if c.cc.partition(p) == nil {
				results[p] = reassignError{kerr.UnknownTopicOrPartition.Code, "The partition does not exist."}
				continue
			}
			cur := c.fullAssignment(p)
			if rp.Replicas == nil { // cancel: back to ORS
				if !cur.reassigning() {
					results[p] = reassignError{kerr.NoReassignmentInProgress.Code, ""}
					continue
				}
				ras[p] = cur.reassignTo(cur.origin())
				ps = append(ps, p)
				continue
			}
			if code, msg := validateReassignmentReplicas(cur, rp.Replicas, live, true); code != 0 {
				results[p] = reassignError{code, msg}
				continue
			}
			ras[p] = cur.reassignTo(rp.Replicas)
			ps = append(ps, p)
		}
	}
	sortTPs(ps)
	// The latest reassignment takes precedence over one in the znode.
	err := c.removeFromZkReassignment(func(p tp, _ []int32) bool { _, ok := ras[p]; return ok })
	if err == nil {
		err = c.triggerReassignments(ps, ras, results)
	}
	if err != nil {
		code := kerr.UnknownServerError
		if errors.Is(err, zkpaths.ErrControllerMoved) || isSessionLost(err) {
			code = kerr.NotController
		}
		e.reply <- alterReassignmentsTopLevel(e.req, code)
		return err
	}
	resp := e.req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	for _, t := range e.req.Topics {
		rt := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		rt.Topic = t.Topic
		for _, rp := range t.Partitions {
			r := results[tp{t.Topic, rp.Partition}]
			out := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			out.Partition, out.ErrorCode = rp.Partition, r.code
			if r.message != "" {
				msg := r.message
				out.ErrorMessage = &msg
			}
			rt.Partitions = append(rt.Partitions, out)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	e.reply <- resp
	return nil
}

// processListReassignments is processListPartitionReassignments: the
// named partitions that are being reassigned (unknown ones are left out),
// or every reassigning partition.
func (c *Controller) processListReassignments(e listReassignmentsEvent) {
	if !c.active.Load() {
		e.reply <- listReassignmentsTopLevel(e.req, kerr.NotController)
		return
	}
	ongoing := c.ongoingReassignments()
	var ps []tp
	if e.req.Topics == nil {
		for p := range ongoing {
			ps = append(ps, p)
		}
	} else {
		for _, t := range e.req.Topics {
			for _, p := range t.Partitions {
				ps = append(ps, tp{t.Topic, p})
			}
		}
	}
	sortTPs(ps)
	resp := e.req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	for _, p := range ps {
		ra, ok := ongoing[p]
		if !ok || c.cc.partition(p) == nil {
			continue
		}
		if n := len(resp.Topics); n == 0 || resp.Topics[n-1].Topic != p.topic {
			rt := kmsg.NewListPartitionReassignmentsResponseTopic()
			rt.Topic = p.topic
			resp.Topics = append(resp.Topics, rt)
		}
		rp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
		rp.Partition = p.partition
		rp.Replicas = slices.Clone(ra.replicas)
		rp.AddingReplicas = slices.Clone(ra.adding)
		rp.RemovingReplicas = slices.Clone(ra.removing)
		if rp.AddingReplicas == nil {
			rp.AddingReplicas = []int32{}
		}
		if rp.RemovingReplicas == nil {
			rp.RemovingReplicas = []int32{}
		}
		resp.Topics[len(resp.Topics)-1].Partitions = append(resp.Topics[len(resp.Topics)-1].Partitions, rp)
	}
	e.reply <- resp
}

// processZkReassignmentEvent: /admin/reassign_partitions was created.
func (c *Controller) processZkReassignmentEvent() error {
	_, err := c.processZkPartitionReassignment()
	return err
}
