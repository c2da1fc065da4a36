package coordinator

import (
	"time"

	"github.com/sirupsen/logrus"
)

// Auto leader rebalance (reference §2.11; Kafka's
// checkAndTriggerAutoLeaderRebalance): after brokers restart, leadership
// sits on the brokers that stayed up. Every
// leader.imbalance.check.interval.seconds the controller counts, per
// preferred replica (the first of each assignment), the share of its
// partitions led by someone else; above
// leader.imbalance.per.broker.percentage it runs a preferred election for
// those partitions whose preferred replica can lead.

// autoRebalanceFirstDelay is Kafka's delay of the first check after a
// failover.
const autoRebalanceFirstDelay = 5 * time.Second

// autoRebalanceEvent is the timer's tick. epoch is the controller epoch it
// was scheduled in: a tick from an earlier term is dropped, which ends that
// term's timer chain.
type autoRebalanceEvent struct{ epoch int32 }

// scheduleAutoRebalance queues the next tick after d, when enabled.
func (c *Controller) scheduleAutoRebalance(d time.Duration) {
	if !c.cfg.AutoLeaderRebalanceEnable || c.cfg.LeaderImbalanceCheckInterval <= 0 {
		return
	}
	epoch := c.epoch.Load()
	time.AfterFunc(d, func() {
		select {
		case <-c.runDone:
		default:
			c.events.put(autoRebalanceEvent{epoch: epoch})
		}
	})
}

// processAutoRebalance runs a check and schedules the next one.
func (c *Controller) processAutoRebalance(ev autoRebalanceEvent) error {
	if ev.epoch != c.epoch.Load() {
		return nil
	}
	defer c.scheduleAutoRebalance(c.cfg.LeaderImbalanceCheckInterval)
	var candidates []tp
	for _, parts := range c.imbalancedPartitions() {
		candidates = append(candidates, parts...)
	}
	if len(candidates) == 0 {
		return nil
	}
	sortTPs(candidates)
	c.log.WithField("partitions", len(candidates)).Info("leader imbalance above the threshold; electing preferred leaders")
	results, err := c.onReplicaElection(candidates, electionPreferred, triggerAuto)
	if err != nil {
		return err
	}
	c.logElectionResults(results, triggerAuto)
	return nil
}

// imbalancedPartitions returns, per preferred broker whose imbalance ratio
// exceeds the threshold, its misled partitions whose preferred replica is
// live, not shutting down and in the ISR (canPreferredReplicaBeLeader).
func (c *Controller) imbalancedPartitions() map[int32][]tp {
	byPreferred := map[int32][]tp{}
	for _, p := range c.cc.allPartitions() {
		pi := c.cc.partition(p)
		if c.cc.deleting(p.topic) || len(pi.replicas) == 0 {
			continue
		}
		byPreferred[pi.replicas[0]] = append(byPreferred[pi.replicas[0]], p)
	}
	out := map[int32][]tp{}
	for broker, parts := range byPreferred {
		var misled []tp
		for _, p := range parts {
			if st := c.cc.partition(p).leadership; st != nil && st.Leader != broker {
				misled = append(misled, p)
			}
		}
		if !imbalanced(len(misled), len(parts), c.cfg.LeaderImbalancePerBrokerPercentage) {
			continue
		}
		c.log.WithFields(logrus.Fields{"broker_id": broker, "misled": len(misled), "preferred": len(parts)}).Debug("leader imbalance")
		for _, p := range misled {
			pi := c.cc.partition(p)
			if _, ok := preferredReplicaLeader(pi.replicas, pi.leadership.ISR, c.electableReplicas(pi.replicas)); ok {
				out[broker] = append(out[broker], p)
			}
		}
	}
	return out
}

// imbalanced reports misled/preferred > percentage/100, Kafka's test on
// the leader imbalance ratio of one broker.
func imbalanced(misled, preferred, percentage int) bool {
	if preferred == 0 {
		return false
	}
	return float64(misled)/float64(preferred) > float64(percentage)/100
}
