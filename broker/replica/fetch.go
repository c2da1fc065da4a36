package replica

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/gregor-broker/gregor/broker/storage"
)

// FetchParams are the request-level fields of a Fetch.
type FetchParams struct {
	// ReplicaID is -1 for consumers; >= 0 for a follower, whose fetch is
	// bounded by the log end offset instead of the high watermark and
	// records its fetch state on the leader.
	ReplicaID int32
	// MaxWait bounds the long poll; <= 0 answers at once.
	MaxWait time.Duration
	// MinBytes is the amount of data that completes the long poll early.
	MinBytes int32
	// MaxBytes bounds the response (soft: the first batch is returned even
	// when it is larger).
	MaxBytes int32
	// IsolationLevel 1 (read_committed) is bounded by the last stable offset,
	// which equals the high watermark until transactions exist (issue 5).
	IsolationLevel int8
}

// FetchPartition is one partition of a Fetch, in request order.
type FetchPartition struct {
	Topic              string
	Partition          int32
	FetchOffset        int64
	CurrentLeaderEpoch int32 // -1: not checked
	MaxBytes           int32
}

// FetchResult is the answer for one partition.
type FetchResult struct {
	// Records holds whole record batches as stored; the caller owns it.
	Records          []byte
	HighWatermark    int64
	LastStableOffset int64
	LogStartOffset   int64
	// Err is nil, a *kerr.Error, or a storage sentinel
	// (storage.ErrOffsetOutOfRange).
	Err error
}

// Fetch reads the partitions in order, as Kafka's ReplicaManager.fetchMessages:
// each partition gets at most min(its MaxBytes, what is left of
// params.MaxBytes), and the first partition with data returns at least one
// whole batch even when it is larger. Consumers read below the high
// watermark. If fewer than MinBytes are available, no partition has an error
// and MaxWait > 0, the fetch waits (Kafka's DelayedFetch) until an append or
// leadership change makes MinBytes available, MaxWait passes, or ctx is
// done, and then reads again. A follower's fetch (ReplicaID >= 0) records its
// fetch offset as its log end offset on the leader.
func (m *Manager) Fetch(ctx context.Context, params FetchParams, parts []FetchPartition) []FetchResult {
	results := make([]FetchResult, len(parts))
	partitions := make([]*Partition, len(parts))
	for i, fp := range parts {
		p, err := m.hostedPartition(fp.Topic, fp.Partition)
		if err != nil {
			results[i].Err = err
			results[i].HighWatermark, results[i].LastStableOffset, results[i].LogStartOffset = -1, -1, -1
			continue
		}
		partitions[i] = p
		if params.ReplicaID >= 0 {
			p.updateFollowerFetchState(params.ReplicaID, fp.FetchOffset, time.Now())
		}
	}
	bytes, failed := m.readAll(params, parts, partitions, results)
	if params.MaxWait <= 0 || failed || bytes >= int64(params.MinBytes) || len(parts) == 0 || m.closed.Load() {
		return results
	}

	// Delayed fetch: wait for appends on any of the partitions.
	wake := make(chan struct{}, 1)
	for _, p := range partitions {
		if p != nil {
			p.addWaiter(wake)
		}
	}
	defer func() {
		for _, p := range partitions {
			if p != nil {
				p.removeWaiter(wake)
			}
		}
	}()
	timer := time.NewTimer(params.MaxWait)
	defer timer.Stop()
	for {
		select {
		case <-wake:
			if !m.fetchMayComplete(params, parts, partitions) {
				continue
			}
			bytes, failed = m.readAll(params, parts, partitions, results)
			if failed || bytes >= int64(params.MinBytes) {
				return results
			}
			continue
		case <-timer.C:
		case <-ctx.Done():
		case <-m.closeCh:
		}
		m.readAll(params, parts, partitions, results)
		return results
	}
}

// fetchMayComplete is a cheap test before re-reading: some partition has
// data past its fetch offset below its bound, or changed leadership.
func (m *Manager) fetchMayComplete(params FetchParams, parts []FetchPartition, partitions []*Partition) bool {
	for i, p := range partitions {
		if p == nil {
			continue
		}
		p.mu.RLock()
		l, err := p.checkLeaderLocked(parts[i].CurrentLeaderEpoch, params.ReplicaID < 0)
		var bound int64
		if err == nil {
			bound = p.fetchBoundLocked(l, params)
		}
		p.mu.RUnlock()
		if err != nil || bound > parts[i].FetchOffset {
			return true
		}
	}
	return false
}

// fetchBoundLocked is the exclusive upper bound of what params may read:
// the log end offset for a follower, else the high watermark (= the last
// stable offset until transactions exist). p.mu is held.
func (p *Partition) fetchBoundLocked(l *storage.Log, params FetchParams) int64 {
	if params.ReplicaID >= 0 {
		return l.LogEndOffset()
	}
	return p.HighWatermark()
}

// readAll reads every partition once into results; it returns the bytes
// read and whether any partition failed.
func (m *Manager) readAll(params FetchParams, parts []FetchPartition, partitions []*Partition, results []FetchResult) (int64, bool) {
	limit := int64(max(params.MaxBytes, 0))
	minOneBatch := true
	var total int64
	failed := false
	for i, p := range partitions {
		if p == nil {
			failed = true
			continue
		}
		maxBytes := int32(min(int64(max(parts[i].MaxBytes, 0)), limit))
		r := p.read(params, parts[i], maxBytes, minOneBatch)
		results[i] = r
		if r.Err != nil {
			failed = true
			continue
		}
		if n := int64(len(r.Records)); n > 0 {
			minOneBatch = false
			total += n
			limit = max(0, limit-n)
		}
	}
	return total, failed
}

// read reads one partition (Kafka's ReplicaManager.read → Partition.fetchRecords).
func (p *Partition) read(params FetchParams, fp FetchPartition, maxBytes int32, minOneBatch bool) FetchResult {
	res := FetchResult{HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1}
	p.mu.RLock()
	defer p.mu.RUnlock()
	l, err := p.checkLeaderLocked(fp.CurrentLeaderEpoch, true)
	if err != nil {
		res.Err = err
		return res
	}
	hw := p.HighWatermark()
	res.HighWatermark, res.LastStableOffset, res.LogStartOffset = hw, hw, l.LogStartOffset()
	leo := l.LogEndOffset()
	if fp.FetchOffset < res.LogStartOffset || fp.FetchOffset > leo {
		res.Err = storage.ErrOffsetOutOfRange
		return res
	}
	bound := p.fetchBoundLocked(l, params)
	if fp.FetchOffset >= bound {
		return res
	}
	info, err := l.Read(fp.FetchOffset, maxBytes, bound, minOneBatch)
	if err != nil {
		res.Err = err
		return res
	}
	res.Records, res.Err = readInfoBytes(info)
	return res
}

// readInfoBytes returns the bytes of a read, reading them from the segment
// file when the log returned a file range. Sending the file range with
// sendfile is the target once the server can write file-backed responses.
func readInfoBytes(info storage.ReadInfo) ([]byte, error) {
	if info.Records != nil || info.File == nil || info.Size <= 0 {
		return info.Records, nil
	}
	buf := make([]byte, info.Size)
	n, err := info.File.ReadAt(buf, info.Position)
	if err != nil && n < len(buf) {
		if errors.Is(err, os.ErrClosed) {
			// The segment was closed under us (partition stopped or
			// segment deleted): a retriable answer.
			return nil, storage.ErrLogClosed
		}
		return nil, fmt.Errorf("read segment %s at %d: %w", info.File.Name(), info.Position, err)
	}
	return buf, nil
}
