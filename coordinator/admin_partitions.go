package coordinator

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-broker/gregor/broker/apierr"
	"github.com/gregor-broker/gregor/zkpaths"
)

// CreatePartitions implements handlers.ClusterAdmin: partition addition as
// Kafka's ZkAdminManager.createPartitions + AdminZkClient
// (createNewPartitionsAssignment, createPartitionsWithAssignment; reference
// §2.8). It validates the request against /brokers/topics/<topic> and the
// registered brokers, then rewrites the whole topic znode (keeping the topic
// id) with a conditional set; the controller's partition-modification watch
// creates the new partitions (topic_change.go).
func (a *Admin) CreatePartitions(ctx context.Context, topic string, count int32, assignment [][]int32, validateOnly bool) error {
	// A concurrent rewrite of the topic znode (a reassignment) fails the
	// conditional set; re-read and decide again.
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := a.createPartitions(topic, count, assignment, validateOnly)
		if !errors.Is(err, zk.ErrBadVersion) || attempt == 2 {
			return err
		}
	}
}

func (a *Admin) createPartitions(topic string, count int32, assignment [][]int32, validateOnly bool) error {
	if ok, _, err := a.zk.Exists(zkpaths.DeleteTopicPath(topic)); err != nil {
		return err
	} else if ok {
		return apierr.New(kerr.InvalidTopicException, "The topic is queued for deletion.")
	}
	ta, stat, err := a.zk.GetTopicAssignment(topic)
	if errors.Is(err, zk.ErrNoNode) || (err == nil && len(ta.Partitions) == 0) {
		return apierr.New(kerr.UnknownTopicOrPartition, fmt.Sprintf("The topic '%s' does not exist.", topic))
	}
	if err != nil {
		return err
	}
	if len(ta.AddingReplicas) > 0 || len(ta.RemovingReplicas) > 0 {
		return apierr.New(kerr.ReassignmentInProgress, fmt.Sprintf("A partition reassignment is in progress for the topic '%s'.", topic))
	}
	old := int32(len(ta.Partitions))
	switch {
	case count < old:
		return apierr.New(kerr.InvalidPartitions, fmt.Sprintf("Topic currently has %d partitions, which is higher than the requested %d.", old, count))
	case count == old:
		return apierr.New(kerr.InvalidPartitions, fmt.Sprintf("Topic already has %d partitions.", old))
	}
	brokers, err := a.sortedBrokers()
	if err != nil {
		return err
	}
	added, err := newPartitionsAssignment(topic, ta.Partitions, brokers, count, assignment)
	if err != nil {
		return err
	}
	if validateOnly {
		return nil
	}
	for p, rs := range added {
		ta.Partitions[p] = rs
	}
	if _, err := a.zk.Set(zkpaths.TopicPath(topic), ta.Encode(), stat.Version); err != nil {
		return fmt.Errorf("write assignment of topic %s: %w", topic, err)
	}
	a.log.WithFields(logrus.Fields{"topic": topic, "partitions": count, "added": added}).Info("partitions added")
	return nil
}

// sortedBrokers is AdminZkClient.getBrokerMetadatas: the registered brokers
// by id.
func (a *Admin) sortedBrokers() ([]BrokerMetadata, error) {
	bs, err := a.zk.GetAllBrokers()
	if err != nil {
		return nil, fmt.Errorf("read live brokers: %w", err)
	}
	out := make([]BrokerMetadata, len(bs))
	for i, b := range bs {
		out[i] = BrokerMetadata{ID: b.Info.ID, Rack: b.Info.Rack}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// newPartitionsAssignment is ZkAdminManager's explicit-assignment checks and
// AdminZkClient.createNewPartitionsAssignment: the replicas of partitions
// len(existing) .. count-1, explicit or from Kafka's algorithm started at the
// first broker whose id >= partition 0's first replica.
func newPartitionsAssignment(topic string, existing map[int32][]int32, brokers []BrokerMetadata, count int32, explicit [][]int32) (map[int32][]int32, error) {
	old := int32(len(existing))
	increment := count - old
	p0, ok := existing[0]
	if !ok || len(p0) == 0 {
		return nil, apierr.New(kerr.InvalidReplicaAssignment, fmt.Sprintf("Unexpected existing replica assignment for topic '%s', partition id 0 is missing.", topic))
	}
	live := map[int32]bool{}
	for _, b := range brokers {
		live[b.ID] = true
	}
	if explicit != nil {
		var unknown []string
		seen := map[int32]bool{}
		for _, rs := range explicit {
			for _, r := range rs {
				if !live[r] && !seen[r] {
					seen[r] = true
					unknown = append(unknown, fmt.Sprint(r))
				}
			}
		}
		if len(unknown) > 0 {
			return nil, apierr.New(kerr.InvalidReplicaAssignment, fmt.Sprintf("Unknown broker(s) in replica assignment: %s.", strings.Join(unknown, ", ")))
		}
		if int32(len(explicit)) != increment {
			return nil, apierr.New(kerr.InvalidReplicaAssignment, fmt.Sprintf("Increasing the number of partitions by %d but %d assignments provided.", increment, len(explicit)))
		}
		out := make(map[int32][]int32, len(explicit))
		var badParts, badRFs []string
		for i, rs := range explicit {
			p := old + int32(i)
			if len(rs) == 0 {
				return nil, apierr.New(kerr.InvalidReplicaAssignment, fmt.Sprintf("Cannot have replication factor of 0 for partition id %d.", p))
			}
			dup := map[int32]bool{}
			for _, r := range rs {
				if dup[r] {
					return nil, apierr.New(kerr.InvalidReplicaAssignment, fmt.Sprintf("Duplicate brokers not allowed in replica assignment: %s for partition id %d.", joinIDs(rs), p))
				}
				dup[r] = true
			}
			if len(rs) != len(p0) {
				badParts = append(badParts, fmt.Sprint(p))
				badRFs = append(badRFs, fmt.Sprint(len(rs)))
			}
			out[p] = append([]int32(nil), rs...)
		}
		if len(badParts) > 0 {
			return nil, apierr.New(kerr.InvalidReplicaAssignment, fmt.Sprintf("Inconsistent replication factor between partitions, partition 0 has %d while partitions [%s] have replication factors [%s], respectively.",
				len(p0), strings.Join(badParts, ", "), strings.Join(badRFs, ", ")))
		}
		return out, nil
	}
	start := int32(0)
	for i, b := range brokers {
		if b.ID >= p0[0] {
			start = int32(i)
			break
		}
	}
	return assignReplicasToBrokers(brokers, increment, int16(len(p0)), start, old)
}

func joinIDs(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, ", ")
}
