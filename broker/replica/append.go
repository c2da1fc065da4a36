package replica

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-broker/gregor/broker/apierr"
	"github.com/gregor-broker/gregor/broker/storage"
)

// AppendResult is the outcome of appending one partition's records.
type AppendResult struct {
	Topic     string
	Partition int32
	Info      storage.AppendInfo
	// Err is nil on success; otherwise a *kerr.Error or a storage sentinel.
	Err error

	p *Partition
}

// AppendRecords appends records (one producer batch, already decoded from a
// Produce request) to a partition this broker leads, as Kafka's
// ReplicaManager.appendRecords: the log validates the batch and assigns
// offsets, then the high watermark advances and waiting fetches are woken.
// Errors: UNKNOWN_TOPIC_OR_PARTITION (not hosted), NOT_LEADER_OR_FOLLOWER,
// and the storage sentinels for invalid batches.
//
// An idempotent producer's batch is checked against the partition's
// producer state under the log's append lock, in the same critical section
// that writes it: a resend of one of the producer's last five batches
// succeeds with Info.Duplicate and the original offsets, writing nothing;
// OUT_OF_ORDER_SEQUENCE_NUMBER (45) and INVALID_PRODUCER_EPOCH (47) refuse
// it, with Kafka's message. A follower builds the same state from the
// batches it fetches, so after a leader change the new leader de-duplicates
// a retry of a batch the old leader had replicated.
func (m *Manager) AppendRecords(topic string, partition int32, records []byte, requiredAcks int16, now time.Time) AppendResult {
	res := AppendResult{Topic: topic, Partition: partition}
	if m.closed.Load() {
		res.Err = kerr.NotLeaderForPartition
		return res
	}
	p, err := m.hostedPartition(topic, partition)
	if err != nil {
		res.Err = err
		return res
	}
	res.p = p
	res.Info, res.Err = p.appendRecordsToLeader(records, requiredAcks, now)
	res.Err = producerStateError(res.Err)
	return res
}

// producerStateError gives the storage's producer-state sentinels their
// Kafka codes, keeping the detail as the client-visible message (Produce
// v8+), as Kafka's OutOfOrderSequenceException and
// InvalidProducerEpochException messages are.
func producerStateError(err error) error {
	for _, m := range []struct {
		sentinel error
		code     *kerr.Error
	}{
		{storage.ErrOutOfOrderSequence, kerr.OutOfOrderSequenceNumber},
		{storage.ErrInvalidProducerEpoch, kerr.InvalidProducerEpoch},
	} {
		if err != nil && errors.Is(err, m.sentinel) {
			msg := strings.TrimPrefix(err.Error(), m.sentinel.Error()+": ")
			if msg != "" {
				msg = strings.ToUpper(msg[:1]) + msg[1:]
			}
			return apierr.New(m.code, msg)
		}
	}
	return err
}

// WaitForAcks is the delayed produce of acks=all (Kafka's DelayedProduce
// and Partition.checkEnoughReplicasReachOffset): it returns once the high
// watermark of every successfully appended partition is past its last
// offset, i.e. every member of the ISR has the batch, setting Err on the
// others: NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR was smaller than
// min.insync.replicas by then, REQUEST_TIMED_OUT when timeout passes first,
// NOT_LEADER_OR_FOLLOWER when the partition lost leadership meanwhile. The
// data stays in the log either way. With an ISR of only this broker the
// high watermark moved during the append, so it returns at once.
func (m *Manager) WaitForAcks(ctx context.Context, timeout time.Duration, results []AppendResult) {
	satisfied := make([]bool, len(results)) // Kafka's acksPending = false
	pending := func() []int {
		var idx []int
		for i := range results {
			r := &results[i]
			if satisfied[i] || r.Err != nil || r.p == nil {
				continue
			}
			done, err := r.p.enoughReplicasReachOffset(r.Info.LastOffset + 1)
			if !done {
				idx = append(idx, i)
				continue
			}
			satisfied[i], r.Err = true, err
		}
		return idx
	}
	idx := pending()
	if len(idx) == 0 {
		return
	}
	wake := make(chan struct{}, 1)
	for _, i := range idx {
		results[i].p.addWaiter(wake)
	}
	defer func() {
		for _, i := range idx {
			results[i].p.removeWaiter(wake)
		}
	}()
	// The high watermark may have passed between the first check and the
	// registration, whose wake-up was then lost: check once more now that
	// every later change wakes us.
	if len(pending()) == 0 {
		return
	}
	timer := time.NewTimer(max(timeout, 0))
	defer timer.Stop()
	for {
		select {
		case <-wake:
			if len(pending()) == 0 {
				return
			}
			continue
		case <-timer.C:
		case <-ctx.Done():
		case <-m.closeCh:
		}
		for _, i := range pending() {
			results[i].Err = kerr.RequestTimedOut
		}
		return
	}
}
