package coordinator

import (
	"errors"
	"reflect"
	"slices"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"

	"github.com/gregor-broker/gregor/zkpaths"
)

// processBrokerChange is KafkaController.processBrokerChange (reference
// §2.6): new, dead and bounced (larger czxid) brokers.
func (c *Controller) processBrokerChange() error {
	current, err := c.zk.GetAllBrokers()
	if err != nil {
		return err
	}
	seen := map[int32]bool{}
	var newIDs, bounced, dead []int32
	var newB, bouncedB []zkpaths.RegisteredBroker
	for _, b := range current {
		id := b.Info.ID
		seen[id] = true
		old, ok := c.cc.brokers[id]
		switch {
		case !ok:
			newIDs, newB = append(newIDs, id), append(newB, b)
		case b.Epoch > old.epoch:
			bounced, bouncedB = append(bounced, id), append(bouncedB, b)
		}
	}
	for _, id := range c.cc.liveIDs() {
		if !seen[id] {
			dead = append(dead, id)
		}
	}
	if len(newIDs)+len(bounced)+len(dead) == 0 {
		return nil
	}
	c.log.WithFields(logrus.Fields{"new": newIDs, "bounced": bounced, "dead": dead}).Info("broker change")

	// Kafka's order: channels and the live set first, then new brokers'
	// start-up, bounced brokers' failure and start-up, dead brokers' failure.
	// A bounced broker is not live during its failure handling, so
	// leadership moves off it (its log may have lost unflushed data) and it
	// comes back as a follower, or as the leader of partitions whose ISR
	// holds only it.
	for _, id := range append(append([]int32{}, dead...), bounced...) {
		c.removeLiveBroker(id)
	}
	for _, b := range newB {
		if err := c.addLiveBroker(b); err != nil {
			return err
		}
	}
	if len(newIDs) > 0 {
		if err := c.onBrokerStartup(newIDs); err != nil {
			return err
		}
	}
	if len(bounced) > 0 {
		if err := c.onBrokerFailure(bounced); err != nil {
			return err
		}
		for _, b := range bouncedB {
			if err := c.addLiveBroker(b); err != nil {
				return err
			}
		}
		if err := c.onBrokerStartup(bounced); err != nil {
			return err
		}
	}
	if len(dead) > 0 {
		return c.onBrokerFailure(dead)
	}
	return nil
}

// onBrokerStartup: metadata to everyone, LeaderAndIsr for the new brokers'
// replicas, elections for New/Offline partitions, resumed deletions.
func (c *Controller) onBrokerStartup(newIDs []int32) error {
	isNew := map[int32]bool{}
	for _, id := range newIDs {
		isNew[id] = true
	}
	existing := filter(c.cc.liveIDs(), func(id int32) bool { return !isNew[id] })
	c.batch.addUpdateMetadata(existing)
	c.sendBatch()
	var withLeaders []tp
	for _, p := range c.cc.allPartitions() {
		if c.cc.partition(p).leadership != nil {
			withLeaders = append(withLeaders, p)
		}
	}
	c.batch.addUpdateMetadata(newIDs, withLeaders...)
	c.sendBatch()
	// Replicas on the new brokers → OnlineReplica.
	for _, p := range withLeaders {
		if c.cc.deleting(p.topic) {
			continue
		}
		pi := c.cc.partition(p)
		if hosted := filter(pi.replicas, func(r int32) bool { return isNew[r] }); len(hosted) > 0 {
			c.batch.addLeaderAndISR(hosted, p, false)
		}
	}
	c.sendBatch()
	if err := c.triggerOnlinePartitionStateChange(); err != nil {
		return err
	}
	// Reassignments whose target includes a new broker start again (reassign.go).
	if err := c.resumeReassignments(func(_ tp, ra replicaAssignment) bool {
		return slices.ContainsFunc(ra.target(), func(r int32) bool { return isNew[r] })
	}); err != nil {
		return err
	}
	// Deletions waiting for these brokers can go on.
	for _, ti := range c.cc.topics {
		for k, st := range ti.replicaDeletion {
			if st == deletionIneligible && isNew[k.replica] {
				ti.replicaDeletion[k] = deletionNone
			}
		}
	}
	return c.resumeDeletions()
}

// onBrokerFailure: partitions led by the dead brokers go Offline and get a
// new leader; the dead replicas leave the ISR (leader -1 where nobody could
// be elected); deletions with replicas there become ineligible.
func (c *Controller) onBrokerFailure(deadIDs []int32) error {
	c.clearShuttingDown(deadIDs)
	isDead := map[int32]bool{}
	for _, id := range deadIDs {
		isDead[id] = true
	}
	changed := false
	deadReplicas := map[tp][]int32{}
	for _, p := range c.cc.allPartitions() {
		pi := c.cc.partition(p)
		if c.cc.deleting(p.topic) {
			ti := c.cc.topics[p.topic]
			for _, r := range pi.replicas {
				k := replicaKey{p.partition, r}
				if isDead[r] && ti.replicaDeletion[k] != deletionSuccessful {
					ti.replicaDeletion[k] = deletionIneligible
				}
			}
			continue
		}
		if d := filter(pi.replicas, func(r int32) bool { return isDead[r] }); len(d) > 0 {
			deadReplicas[p] = d
			changed = true
		}
		if pi.leadership != nil && isDead[pi.leadership.Leader] {
			pi.phase = partitionOffline
		}
	}
	if err := c.triggerOnlinePartitionStateChange(); err != nil {
		return err
	}
	if err := c.offlineReplicas(deadReplicas); err != nil {
		return err
	}
	if !changed {
		c.batch.addUpdateMetadata(c.cc.liveIDs())
	}
	c.sendBatch()
	return nil
}

// processBrokerModification: a broker rewrote its registration (new
// endpoints or rack): UpdateMetadata to everyone.
func (c *Controller) processBrokerModification(id int32) error {
	lb, ok := c.cc.brokers[id]
	if !ok {
		return nil
	}
	data, stat, err := c.zk.Get(zkpaths.BrokerIDPath(id))
	if errors.Is(err, zk.ErrNoNode) {
		return nil // a broker change event follows
	}
	if err != nil {
		return err
	}
	if stat.Czxid != lb.epoch {
		return nil // re-registered: handled as a bounce by the broker change
	}
	info, err := zkpaths.DecodeBrokerInfo(id, data)
	if err != nil {
		return err
	}
	info.Timestamp = lb.info.Timestamp
	if reflect.DeepEqual(info.Endpoints, lb.info.Endpoints) && info.Rack == lb.info.Rack {
		return nil
	}
	c.log.WithField("broker_id", id).Info("broker endpoints changed")
	oldAddr, _ := c.interBrokerEndpoint(lb.info)
	lb.info = info
	if newAddr, _ := c.interBrokerEndpoint(info); newAddr.Addr() != oldAddr.Addr() {
		c.channels.removeBroker(id)
		c.channels.addBroker(id, newAddr.Addr())
	}
	c.batch.addUpdateMetadata(c.cc.liveIDs())
	c.sendBatch()
	return nil
}
