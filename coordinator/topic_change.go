package coordinator

import (
	"errors"
	"sort"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"

	"github.com/gregor-broker/gregor/zkpaths"
)

// processTopicChange diffs /brokers/topics with the context (reference
// §2.7, controller side): new topics get their partitions initialised
// (onNewPartitionCreation), vanished ones are dropped.
func (c *Controller) processTopicChange() error {
	children, _, err := c.zk.Children(zkpaths.TopicsPath)
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	sort.Strings(children)
	present := map[string]bool{}
	for _, t := range children {
		present[t] = true
	}
	for _, t := range sortedTopics(c.cc.topics) {
		if !present[t] {
			if ti := c.cc.topics[t]; ti.watch != nil {
				ti.watch.Stop()
			}
			delete(c.cc.topics, t)
			c.log.WithField("topic", t).Info("topic removed from controller context")
		}
	}
	var newParts []tp
	for _, t := range children {
		if _, ok := c.cc.topics[t]; ok {
			continue
		}
		ti, err := c.loadTopic(t, false)
		if err != nil {
			return err
		}
		if ti == nil {
			continue
		}
		c.log.WithFields(logrus.Fields{"topic": t, "topic_id": zkpaths.UUIDString(ti.id), "partitions": len(ti.partitions)}).Info("new topic")
		for p := range ti.partitions {
			newParts = append(newParts, tp{t, p})
		}
	}
	return c.onNewPartitionCreation(newParts)
}

// onNewPartitionCreation: NewPartition → OnlinePartition for each.
func (c *Controller) onNewPartitionCreation(parts []tp) error {
	if len(parts) == 0 {
		return nil
	}
	sortTPs(parts)
	if err := c.initializeLeaderAndISR(parts); err != nil {
		return err
	}
	c.sendBatch()
	return nil
}

// processPartitionModifications handles a rewritten topic znode: partitions
// that are new to the context are created (partition addition).
func (c *Controller) processPartitionModifications(topic string) error {
	ti := c.cc.topics[topic]
	if ti == nil {
		return nil
	}
	ta, _, err := c.zk.GetTopicAssignment(topic)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	var added []tp
	for p, replicas := range ta.Partitions {
		if _, ok := ti.partitions[p]; ok {
			continue
		}
		if ti.deleting {
			c.log.WithFields(logrus.Fields{"topic": topic, "partition": p}).Warn("ignoring partition added to a topic being deleted")
			continue
		}
		ti.partitions[p] = &partitionInfo{replicas: replicas, phase: partitionNew}
		added = append(added, tp{topic, p})
	}
	return c.onNewPartitionCreation(added)
}
