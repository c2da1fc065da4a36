package coordinator

import (
	"errors"
	"sort"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"

	"github.com/gregor-broker/gregor/zkpaths"
)

// Topic deletion, Kafka's TopicDeletionManager (reference §2.9), reduced to
// what Gregor needs: UpdateMetadata with leader -2, StopReplica(delete) to
// every replica, and once every replica answered without error, the
// topic's znodes are removed. Replicas on dead brokers make the topic wait
// (ineligible) until the broker returns, and a topic being reassigned waits
// until the reassignment finishes. Not done: the intermediate
// OfflineReplica ISR writes Kafka makes before StopReplica(delete).

// processTopicDeletion reads /admin/delete_topics.
func (c *Controller) processTopicDeletion() error {
	markers, _, err := c.zk.Children(zkpaths.DeleteTopicsPath)
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	sort.Strings(markers)
	for _, t := range markers {
		ti := c.cc.topics[t]
		if !c.cfg.DeleteTopicEnable || ti == nil {
			l := c.log.WithField("topic", t)
			if ti == nil {
				l.Info("removing deletion marker of a non-existent topic")
			} else {
				l.Info("delete.topic.enable is false; removing deletion marker")
			}
			if err := c.deleteFenced(zkpaths.DeleteTopicPath(t)); err != nil {
				return err
			}
			continue
		}
		if !ti.deleting {
			ti.deleting = true
			ti.replicaDeletion = map[replicaKey]replicaDeletionState{}
			c.log.WithField("topic", t).Info("topic queued for deletion")
		}
		// A retry: ineligible replicas on live brokers are tried again.
		for k, st := range ti.replicaDeletion {
			if st == deletionIneligible && c.cc.isLive(k.replica) {
				ti.replicaDeletion[k] = deletionNone
			}
		}
	}
	return c.resumeDeletions()
}

func (c *Controller) deleteFenced(path string) error {
	_, err := c.zk.EpochFenced(c.epochZkVersion, zkpaths.DeleteOp(path, zkpaths.AnyVersion))
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	return nil
}

// resumeDeletions completes topics whose replicas are all deleted and
// starts StopReplica(delete) for replicas not yet asked.
func (c *Controller) resumeDeletions() error {
	for _, t := range sortedTopics(c.cc.topics) {
		ti := c.cc.topics[t]
		if !ti.deleting {
			continue
		}
		if c.reassigningTopic(t) {
			// Ineligible until the reassignment finishes (reassign.go).
			c.log.WithField("topic", t).Debug("topic deletion waits for its partition reassignment")
			continue
		}
		done := true
		var started []tp
		for p, pi := range ti.partitions {
			for _, r := range pi.replicas {
				k := replicaKey{p, r}
				switch ti.replicaDeletion[k] {
				case deletionSuccessful:
					continue
				case deletionNone:
					if c.cc.isLive(r) {
						ti.replicaDeletion[k] = deletionStarted
						c.batch.addStopReplica(r, tp{t, p}, true)
						started = append(started, tp{t, p})
					} else {
						ti.replicaDeletion[k] = deletionIneligible
					}
				}
				done = false
			}
		}
		if done {
			if err := c.completeDeleteTopic(t); err != nil {
				return err
			}
			continue
		}
		if len(started) > 0 {
			var all []tp
			for p := range ti.partitions {
				all = append(all, tp{t, p})
			}
			c.batch.addUpdateMetadataToAll(all...) // leader -2: brokers drop the partitions
			c.log.WithFields(logrus.Fields{"topic": t, "partitions": len(started)}).Info("deleting topic replicas")
		}
	}
	c.sendBatch()
	return nil
}

// processStopReplicaResponse records the outcome of StopReplica(delete).
func (c *Controller) processStopReplicaResponse(e stopReplicaResponseEvent) error {
	failed := false
	for _, pr := range e.resp.Partitions {
		ti := c.cc.topics[pr.Topic]
		if ti == nil || !ti.deleting {
			continue
		}
		k := replicaKey{pr.Partition, e.broker}
		if ti.replicaDeletion[k] != deletionStarted {
			continue
		}
		if e.resp.ErrorCode != 0 || pr.ErrorCode != 0 {
			ti.replicaDeletion[k] = deletionIneligible
			failed = true
			c.log.WithFields(logrus.Fields{"topic": pr.Topic, "partition": pr.Partition, "broker_id": e.broker, "error_code": pr.ErrorCode}).Warn("replica deletion failed")
		} else {
			ti.replicaDeletion[k] = deletionSuccessful
		}
	}
	if failed {
		c.retryLater(topicDeletionEvent{}, time.Second)
	}
	return c.resumeDeletions()
}

// completeDeleteTopic removes the topic's znodes (all epoch-fenced) and
// drops it from the context.
func (c *Controller) completeDeleteTopic(topic string) error {
	ti := c.cc.topics[topic]
	if ti.watch != nil {
		ti.watch.Stop()
		ti.watch = nil
	}
	if err := c.zk.DeleteRecursive(zkpaths.TopicPath(topic), c.epochZkVersion); err != nil {
		return err
	}
	if err := c.deleteFenced(zkpaths.ConfigTopicPath(topic)); err != nil {
		return err
	}
	if err := c.deleteFenced(zkpaths.DeleteTopicPath(topic)); err != nil {
		return err
	}
	delete(c.cc.topics, topic)
	c.log.WithField("topic", topic).Info("topic deleted")
	return nil
}
