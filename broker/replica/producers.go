package replica

import "github.com/gregor-broker/gregor/broker/storage"

// ActiveProducers returns the idempotent producers of a partition hosted
// here, for DescribeProducers. As Kafka's Partition.activeProducerState it
// reads the local log of the leader or of a follower (KIP-664 lets an
// operator ask a follower, to compare its state with the leader's):
// UNKNOWN_TOPIC_OR_PARTITION when the partition is not hosted,
// NOT_LEADER_OR_FOLLOWER when it has no open log (stopped). The read lock
// keeps the log from being swapped while its state is copied.
func (m *Manager) ActiveProducers(topic string, partition int32) ([]storage.ProducerInfo, error) {
	p, err := m.hostedPartition(topic, partition)
	if err != nil {
		return nil, err
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	l, err := p.checkLeaderLocked(-1, false)
	if err != nil {
		return nil, err
	}
	return l.ActiveProducers(), nil
}
