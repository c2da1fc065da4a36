package coordinator

import (
	"sort"

	"github.com/gregor-broker/gregor/zkpaths"
)

// tp is a topic partition.
type tp struct {
	topic     string
	partition int32
}

// partitionPhase is the partition state machine's state (reference §2.4);
// NonExistent partitions are simply absent.
type partitionPhase int

const (
	partitionNew partitionPhase = iota
	partitionOnline
	partitionOffline
)

type partitionInfo struct {
	replicas   []int32                 // the assignment; the first is the preferred leader
	phase      partitionPhase          //
	leadership *zkpaths.PartitionState // nil until the state znode is known
	zkVersion  int32                   // the state znode's dataVersion (partition epoch)
}

// replicaDeletionState is the deletion part of the replica state machine.
type replicaDeletionState int

const (
	deletionNone replicaDeletionState = iota
	deletionStarted
	deletionSuccessful
	deletionIneligible
)

type replicaKey struct {
	partition int32
	replica   int32
}

type topicInfo struct {
	id         zkpaths.UUID
	partitions map[int32]*partitionInfo
	watch      *zkpaths.Watch

	deleting        bool // queued in /admin/delete_topics
	replicaDeletion map[replicaKey]replicaDeletionState
}

type liveBroker struct {
	info  zkpaths.BrokerInfo
	epoch int64 // czxid of /brokers/ids/<id>
	watch *zkpaths.Watch
}

// controllerContext is ControllerContext: the controller's cached view of
// the cluster, rebuilt at every failover. Owned by the event loop.
type controllerContext struct {
	brokers map[int32]*liveBroker
	topics  map[string]*topicInfo
}

func newControllerContext() *controllerContext {
	return &controllerContext{brokers: map[int32]*liveBroker{}, topics: map[string]*topicInfo{}}
}

func (cc *controllerContext) isLive(id int32) bool { _, ok := cc.brokers[id]; return ok }

func (cc *controllerContext) liveIDs() []int32 {
	out := make([]int32, 0, len(cc.brokers))
	for id := range cc.brokers {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (cc *controllerContext) liveReplicas(replicas []int32) []int32 {
	return filter(replicas, cc.isLive)
}

func (cc *controllerContext) partition(p tp) *partitionInfo {
	t := cc.topics[p.topic]
	if t == nil {
		return nil
	}
	return t.partitions[p.partition]
}

func (cc *controllerContext) deleting(topic string) bool {
	t := cc.topics[topic]
	return t != nil && t.deleting
}

// allPartitions lists every partition, sorted by topic and partition.
func (cc *controllerContext) allPartitions() []tp {
	var out []tp
	for name, t := range cc.topics {
		for p := range t.partitions {
			out = append(out, tp{name, p})
		}
	}
	sortTPs(out)
	return out
}

func sortTPs(ps []tp) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].topic != ps[j].topic {
			return ps[i].topic < ps[j].topic
		}
		return ps[i].partition < ps[j].partition
	})
}

func sortedTopics(m map[string]*topicInfo) []string {
	out := make([]string, 0, len(m))
	for t := range m {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
