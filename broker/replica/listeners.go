package replica

import "sync"

// LeadershipListener is told when this broker becomes leader or follower of
// a partition, as Kafka's ReplicaManager.becomeLeaderOrFollower calls its
// onLeadershipChange callback: the group coordinator loads a
// __consumer_offsets partition when it becomes its leader and unloads it when
// it stops leading it (GroupCoordinator.onElection / onResignation).
//
// The manager calls listeners after the change is applied, outside the
// partition locks but under the replica state change lock, in the order of
// the request, so calls for one partition never race. A listener must return
// quickly (start a goroutine for slow work) and must not call back into
// BecomeLeaderOrFollower or StopReplicas.
type LeadershipListener interface {
	// OnBecomeLeader: this broker now leads topic-partition at leaderEpoch.
	OnBecomeLeader(topic string, partition, leaderEpoch int32)
	// OnBecomeFollower: this broker follows topic-partition at leaderEpoch,
	// or stopped hosting it (StopReplica; leaderEpoch is then the request's,
	// -1 or -2 when unknown or deleted).
	OnBecomeFollower(topic string, partition, leaderEpoch int32)
}

// listeners holds the registered LeadershipListeners (Manager.leadership).
type listeners struct {
	mu   sync.Mutex
	list []LeadershipListener
}

func (ls *listeners) snapshot() []LeadershipListener {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.list
}

// AddLeadershipListener registers l for every later leadership change.
func (m *Manager) AddLeadershipListener(l LeadershipListener) {
	ls := &m.leadership
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.list = append(ls.list[:len(ls.list):len(ls.list)], l)
}

// notifyLeadership tells the listeners about the states of a LeaderAndIsr
// that were applied: a state counts when it succeeded and the partition is
// now at its leader epoch (an ignored older partition epoch is skipped).
func (m *Manager) notifyLeadership(states []LeaderAndIsrPartition, errs []error) {
	ls := m.leadership.snapshot()
	if len(ls) == 0 {
		return
	}
	for i, st := range states {
		if i >= len(errs) || errs[i] != nil {
			continue
		}
		p := m.Partition(st.Topic, st.Partition)
		if p == nil {
			continue
		}
		p.mu.RLock()
		epoch, leader := p.leaderEpoch, p.isLeader
		p.mu.RUnlock()
		if epoch != st.LeaderEpoch {
			continue
		}
		for _, l := range ls {
			if leader {
				l.OnBecomeLeader(st.Topic, st.Partition, st.LeaderEpoch)
			} else {
				l.OnBecomeFollower(st.Topic, st.Partition, st.LeaderEpoch)
			}
		}
	}
}

// notifyStopped tells the listeners about the partitions a StopReplica
// stopped (OnBecomeFollower).
func (m *Manager) notifyStopped(parts []StopReplicaPartition, errs []error) {
	ls := m.leadership.snapshot()
	if len(ls) == 0 {
		return
	}
	for i, sp := range parts {
		if i >= len(errs) || errs[i] != nil {
			continue
		}
		for _, l := range ls {
			l.OnBecomeFollower(sp.Topic, sp.Partition, sp.LeaderEpoch)
		}
	}
}
