package coordinator

import (
	"errors"
	"strconv"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"

	"github.com/gregor-broker/gregor/zkpaths"
)

// onControllerFailover is KafkaController.onControllerFailover (reference
// §2.3), the parts Gregor needs so far.
func (c *Controller) onControllerFailover() error {
	c.cc = newControllerContext()
	c.channels = newChannelManager(c.cfg.BrokerID, c.cfg.LocalHost, c.cfg.SocketTimeout, c.log.WithField("component", "controller-channel"))
	c.batch = newRequestBatch()

	// 1. /feature.
	if err := c.setupFeature(); err != nil {
		return err
	}
	// 2. Child watches (they only enqueue events).
	for path, ev := range map[string]event{
		zkpaths.BrokerIDsPath:    brokerChangeEvent{},
		zkpaths.TopicsPath:       topicChangeEvent{},
		zkpaths.DeleteTopicsPath: topicDeletionEvent{},
	} {
		ev := ev
		w, err := c.zk.WatchChildren(path, func(zkpaths.WatchEvent) { c.events.put(ev) })
		if err != nil {
			return err
		}
		c.watches = append(c.watches, w)
	}
	// 4. initializeControllerContext.
	brokers, err := c.zk.GetAllBrokers()
	if err != nil {
		return err
	}
	for _, b := range brokers {
		if err := c.addLiveBroker(b); err != nil {
			return err
		}
	}
	topics, _, err := c.zk.Children(zkpaths.TopicsPath)
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	for _, t := range topics {
		if _, err := c.loadTopic(t, true); err != nil {
			return err
		}
	}
	// 5. Topics queued for deletion.
	markers, _, err := c.zk.Children(zkpaths.DeleteTopicsPath)
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	for _, t := range markers {
		if ti := c.cc.topics[t]; ti != nil && c.cfg.DeleteTopicEnable {
			ti.deleting = true
			ti.replicaDeletion = map[replicaKey]replicaDeletionState{}
		}
	}
	c.log.WithFields(logrus.Fields{"live_brokers": c.cc.liveIDs(), "topics": len(c.cc.topics)}).Info("controller context initialised")

	// 6. UpdateMetadata (brokers only) to every live broker.
	c.batch.addUpdateMetadata(c.cc.liveIDs())
	c.sendBatch()

	// 7. Replica state machine start-up: LeaderAndIsr for every partition
	// to its live replicas; replicas on dead brokers go offline.
	dead := map[tp][]int32{}
	for _, p := range c.cc.allPartitions() {
		pi := c.cc.partition(p)
		if c.cc.deleting(p.topic) {
			continue
		}
		if pi.leadership != nil {
			c.batch.addLeaderAndISR(c.cc.liveReplicas(pi.replicas), p, false)
		}
		if d := filter(pi.replicas, func(r int32) bool { return !c.cc.isLive(r) }); len(d) > 0 {
			dead[p] = d
		}
	}
	if err := c.offlineReplicas(dead); err != nil {
		return err
	}
	c.sendBatch()

	// 8. Partition state machine start-up, then elect New and Offline.
	for _, p := range c.cc.allPartitions() {
		pi := c.cc.partition(p)
		switch {
		case pi.leadership == nil:
			pi.phase = partitionNew
		case pi.leadership.Leader >= 0 && c.cc.isLive(pi.leadership.Leader):
			pi.phase = partitionOnline
		default:
			pi.phase = partitionOffline
		}
	}
	if err := c.triggerOnlinePartitionStateChange(); err != nil {
		return err
	}
	// 10. Topic deletion.
	return c.processTopicDeletion()
}

// setupFeature creates /feature (enabled, no finalized features) when
// missing. Version 1 matches the IBP of the control requests we send
// (2.8-IV1 .. 3.2).
func (c *Controller) setupFeature() error {
	data, stat, err := c.zk.Get(zkpaths.FeaturePath)
	if errors.Is(err, zk.ErrNoNode) {
		_, err := c.zk.EpochFenced(c.epochZkVersion, zkpaths.CreateOp(zkpaths.FeaturePath,
			zkpaths.FeatureZNode{Version: 1, Status: zkpaths.FeatureEnabled}.Encode(), zkpaths.Persistent))
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return err
		}
		return nil
	}
	if err != nil {
		return err
	}
	f, err := zkpaths.DecodeFeatureZNode(data)
	if err != nil || f.Status == zkpaths.FeatureEnabled {
		return err
	}
	f.Status = zkpaths.FeatureEnabled
	_, err = c.zk.EpochFenced(c.epochZkVersion, zkpaths.SetDataOp(zkpaths.FeaturePath, f.Encode(), stat.Version))
	return err
}

// addLiveBroker records a live broker, opens its channel and watches its
// registration data.
func (c *Controller) addLiveBroker(b zkpaths.RegisteredBroker) error {
	id := b.Info.ID
	w, err := c.zk.WatchData(zkpaths.BrokerIDPath(id), func(ev zkpaths.WatchEvent) {
		if ev.Type == zk.EventNodeDataChanged || ev.Restored {
			c.events.put(brokerModificationEvent{id: id})
		}
	})
	if err != nil {
		return err
	}
	c.cc.brokers[id] = &liveBroker{info: b.Info, epoch: b.Epoch, watch: w}
	e, ok := c.interBrokerEndpoint(b.Info)
	if !ok {
		c.log.WithFields(logrus.Fields{"broker_id": id, "listener": c.cfg.InterBrokerListener}).Warn("broker has no inter-broker listener endpoint; using its first endpoint")
	}
	c.channels.addBroker(id, e.Addr())
	return nil
}

func (c *Controller) removeLiveBroker(id int32) {
	if b := c.cc.brokers[id]; b != nil {
		if b.watch != nil {
			b.watch.Stop()
		}
		delete(c.cc.brokers, id)
	}
	c.channels.removeBroker(id)
}

// loadTopic reads a topic into the context: a data watch on its znode
// (partition additions), its assignment (assigning a topic id when missing)
// with the adding/removing replicas of its ongoing reassignments, and with
// readStates its partition state znodes.
func (c *Controller) loadTopic(topic string, readStates bool) (*topicInfo, error) {
	w, err := c.zk.WatchData(zkpaths.TopicPath(topic), func(ev zkpaths.WatchEvent) {
		if ev.Type == zk.EventNodeDataChanged || ev.Restored {
			c.events.put(partitionModificationsEvent{topic: topic})
		}
	})
	if err != nil {
		return nil, err
	}
	ta, stat, err := c.zk.GetTopicAssignment(topic)
	if err != nil {
		w.Stop()
		if errors.Is(err, zk.ErrNoNode) {
			return nil, nil // deleted meanwhile
		}
		return nil, err
	}
	if ta.TopicID == zkpaths.ZeroUUID {
		ta.TopicID = zkpaths.NewUUID()
		if _, err := c.zk.EpochFenced(c.epochZkVersion, zkpaths.SetDataOp(zkpaths.TopicPath(topic), ta.Encode(), stat.Version)); err != nil {
			w.Stop()
			return nil, err
		}
		c.log.WithFields(logrus.Fields{"topic": topic, "topic_id": zkpaths.UUIDString(ta.TopicID)}).Info("assigned topic id")
	}
	ti := &topicInfo{id: ta.TopicID, partitions: map[int32]*partitionInfo{}, watch: w}
	for p, replicas := range ta.Partitions {
		ti.partitions[p] = &partitionInfo{replicas: replicas, phase: partitionNew}
	}
	if readStates {
		if err := c.readPartitionStates(topic, ti.partitions); err != nil {
			w.Stop()
			return nil, err
		}
	}
	if old := c.cc.topics[topic]; old != nil && old.watch != nil {
		old.watch.Stop()
	}
	c.cc.topics[topic] = ti
	c.loadReassignments(topic, ta) // adding/removing replicas (reassign.go)
	return ti, nil
}

// uncleanEnabled is unclean.leader.election.enable for a topic: its
// /config/topics override, else the broker default.
func (c *Controller) uncleanEnabled(topic string) bool {
	data, _, err := c.zk.Get(zkpaths.ConfigTopicPath(topic))
	if err == nil {
		if cfg, err := zkpaths.DecodeEntityConfig(data); err == nil {
			if v, ok := cfg.Config["unclean.leader.election.enable"]; ok {
				if b, err := strconv.ParseBool(v); err == nil {
					return b
				}
			}
		}
	}
	return c.cfg.UncleanLeaderElectionEnable
}
