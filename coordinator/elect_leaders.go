package coordinator

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-broker/gregor/broker/handlers"
)

// ElectLeaders (key 43), the controller side: the admin client's PREFERRED
// or UNCLEAN election, run on the event loop (Kafka's
// KafkaController.electLeaders → ReplicaLeaderElection(AdminClientTriggered)).
// The handler then waits until the broker's metadata shows the leaders
// (Kafka's DelayedElectLeader).

// electLeadersEvent asks for an election; the outcome goes to reply
// (buffered).
type electLeadersEvent struct {
	typ   int8
	parts []tp // nil: every partition
	reply chan []handlers.ElectionResult
}

var _ handlers.ElectionController = (*Controller)(nil)

// ElectLeaders runs an election of type typ (0 PREFERRED, 1 UNCLEAN) for
// partitions (topic → partitions; nil means every partition) and returns
// one result per partition: the leader elected (or already leading), or an
// error. Not the active controller: NOT_CONTROLLER for every listed
// partition. The event loop not answering before ctx is done:
// REQUEST_TIMED_OUT.
func (c *Controller) ElectLeaders(ctx context.Context, typ int8, partitions map[string][]int32) []handlers.ElectionResult {
	var parts []tp
	if partitions != nil {
		parts = []tp{}
		for topic, ps := range partitions {
			for _, p := range ps {
				parts = append(parts, tp{topic, p})
			}
		}
		sortTPs(parts)
	}
	if !c.active.Load() {
		return electionErrors(parts, kerr.NotController)
	}
	ev := electLeadersEvent{typ: typ, parts: parts, reply: make(chan []handlers.ElectionResult, 1)}
	c.events.put(ev)
	t := time.NewTimer(controlledShutdownTimeout)
	defer t.Stop()
	select {
	case res := <-ev.reply:
		return res
	case <-c.runDone:
		return electionErrors(parts, kerr.NotController)
	case <-ctx.Done():
		return electionErrors(parts, kerr.RequestTimedOut)
	case <-t.C:
		return electionErrors(parts, kerr.RequestTimedOut)
	}
}

func electionErrors(parts []tp, e *kerr.Error) []handlers.ElectionResult {
	out := make([]handlers.ElectionResult, 0, len(parts))
	for _, p := range parts {
		out = append(out, handlers.ElectionResult{Topic: p.topic, Partition: p.partition, Leader: -1, Err: e})
	}
	return out
}

// processElectLeaders answers an electLeadersEvent, also when not active.
func (c *Controller) processElectLeaders(ev electLeadersEvent) error {
	if !c.active.Load() {
		ev.reply <- electionErrors(ev.parts, kerr.NotController)
		return nil
	}
	results, err := c.replicaLeaderElection(ev.parts, ev.typ, triggerAdminClient)
	ps := make([]tp, 0, len(results))
	for p := range results {
		ps = append(ps, p)
	}
	sortTPs(ps)
	out := make([]handlers.ElectionResult, 0, len(ps))
	for _, p := range ps {
		o := results[p]
		out = append(out, handlers.ElectionResult{Topic: p.topic, Partition: p.partition, Leader: o.leader, Err: o.err, Message: o.msg})
	}
	if err != nil {
		// Partitions not reached by the failed write.
		for _, p := range ev.parts {
			if _, ok := results[p]; !ok {
				out = append(out, handlers.ElectionResult{Topic: p.topic, Partition: p.partition, Leader: -1, Err: kerr.UnknownServerError})
			}
		}
	}
	ev.reply <- out
	return err
}
