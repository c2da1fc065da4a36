package storage

import "sort"

// ProducerInfo is one active idempotent producer of a partition, as
// DescribeProducers reports it (Kafka's ProducerStateEntry seen through
// UnifiedLog.activeProducers).
type ProducerInfo struct {
	ProducerID    int64
	ProducerEpoch int16
	// LastSequence is the last sequence number written (-1 when the
	// producer's batches were forgotten, e.g. after an epoch bump by a
	// transaction marker).
	LastSequence int32
	// LastTimestamp is the max timestamp of the producer's last batch.
	LastTimestamp    int64
	CoordinatorEpoch int32
	// CurrentTxnStartOffset is the first offset of the producer's open
	// transaction, -1 when none (always, until transactions exist).
	CurrentTxnStartOffset int64
}

// ActiveProducers returns a copy of the partition's producer state, sorted
// by producer id. It takes the writer lock only long enough to copy, so an
// operator's DescribeProducers never holds up appends for long; the answer
// may be one append old by the time it reaches the client, as in Kafka.
func (l *Log) ActiveProducers() []ProducerInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return nil
	}
	out := make([]ProducerInfo, 0, len(l.producers.producers))
	for _, e := range l.producers.producers {
		out = append(out, ProducerInfo{
			ProducerID:            e.producerID,
			ProducerEpoch:         e.epoch,
			LastSequence:          e.lastSeq(),
			LastTimestamp:         e.lastTimestamp,
			CoordinatorEpoch:      e.coordinatorEpoch,
			CurrentTxnStartOffset: e.currentTxnFirstOffset,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ProducerID < out[j].ProducerID })
	return out
}
