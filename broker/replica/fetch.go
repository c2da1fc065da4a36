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
	// FileRegions asks for FetchResult.Region instead of Records: the
	// batches are not read into memory, so the server can send them from
	// the page cache with sendfile (the zero-copy path of a network fetch).
	FileRegions bool
	// MinRegionBytes: with FileRegions, record sets smaller than this are
	// still read into memory (sendfile does not pay for small ones);
	// negative or zero: every record set is a region.
	MinRegionBytes int32
}

// FetchPartition is one partition of a Fetch, in request order.
type FetchPartition struct {
	Topic              string
	Partition          int32
	FetchOffset        int64
	CurrentLeaderEpoch int32 // -1: not checked
	MaxBytes           int32
	// LastFetchedEpoch (Fetch v12+), when HasLastFetchedEpoch is set and it
	// is >= 0, is the epoch of the last batch the fetcher has; the leader
	// answers DivergingEpoch when its log does not contain that epoch up to
	// FetchOffset (KIP-320, truncate on fetch). The flag keeps the zero
	// value of FetchPartition meaning "no epoch" (epoch 0 is a real one).
	HasLastFetchedEpoch bool
	LastFetchedEpoch    int32
	// LogStartOffset is a follower's log start offset (-1 for consumers).
	LogStartOffset int64
}

// FetchResult is the answer for one partition.
type FetchResult struct {
	// Records holds whole record batches as stored; the caller owns it.
	// Nil when Region holds them.
	Records []byte
	// Region names the whole batches in a segment file instead (only with
	// FetchParams.FileRegions, for record sets of MinRegionBytes or more).
	Region           FileRegion
	HighWatermark    int64
	LastStableOffset int64
	LogStartOffset   int64
	// leaderLogEndOffset is the leader's LEO at the read (follower state).
	leaderLogEndOffset int64
	// Diverging is set when the fetcher's LastFetchedEpoch does not match
	// the leader's log: DivergingEpoch and DivergingEndOffset are the
	// leader's end of that epoch (Kafka's endOffsetFor) and no records are
	// returned.
	Diverging          bool
	DivergingEpoch     int32
	DivergingEndOffset int64
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
// done, and then reads again. A follower's fetch (ReplicaID >= 0) reads up
// to the log end offset, and a successful, non-diverging read records its
// fetch offset as the follower's log end offset on the leader (which may
// advance the high watermark and propose an ISR expansion).
func (m *Manager) Fetch(ctx context.Context, params FetchParams, parts []FetchPartition) []FetchResult {
	results := make([]FetchResult, len(parts))
	defer m.recordLeaderThrottle(params, parts, results) // throttle.go
	partitions := make([]*Partition, len(parts))
	for i, fp := range parts {
		p, err := m.hostedPartition(fp.Topic, fp.Partition)
		if err != nil {
			results[i].Err = err
			results[i].HighWatermark, results[i].LastStableOffset, results[i].LogStartOffset = -1, -1, -1
			continue
		}
		partitions[i] = p
	}
	bytes, failed := m.readAll(params, parts, partitions, results)
	if params.ReplicaID >= 0 {
		m.updateFollowers(params.ReplicaID, parts, partitions, results)
	}
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
	// An append between the first read and the registration woke nobody:
	// look once more before sleeping. The send must not block: an append
	// since the registration may have filled the one-slot channel already.
	select {
	case wake <- struct{}{}:
	default:
	}
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

// updateFollowers records a follower's fetch on each partition read without
// error or divergence (Kafka's Partition.fetchRecords for a follower).
func (m *Manager) updateFollowers(replicaID int32, parts []FetchPartition, partitions []*Partition, results []FetchResult) {
	now := time.Now()
	for i, p := range partitions {
		r := &results[i]
		if p == nil || r.Err != nil || r.Diverging {
			continue
		}
		if p.updateFollowerFetchState(replicaID, parts[i].FetchOffset, parts[i].LogStartOffset, r.leaderLogEndOffset, now) {
			m.alter.enqueue(p)
		}
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
		minOne := minOneBatch
		if m.leaderThrottleFetch(p, params.ReplicaID) {
			maxBytes, minOne = 0, false // over the leader quota: no records (throttle.go)
		}
		r := p.read(params, parts[i], maxBytes, minOne)
		results[i] = r
		if r.Err != nil {
			failed = true
			continue
		}
		if n := r.RecordsSize(); n > 0 {
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
	res.leaderLogEndOffset = leo
	if fp.HasLastFetchedEpoch && fp.LastFetchedEpoch >= 0 {
		// Kafka's UnifiedLog.read with lastFetchedEpoch: checked before the
		// offset range, since a diverged follower may be past our LEO.
		epoch, end := l.EndOffsetForEpoch(fp.LastFetchedEpoch)
		if epoch < fp.LastFetchedEpoch || end < fp.FetchOffset {
			res.Diverging, res.DivergingEpoch, res.DivergingEndOffset = true, epoch, end
			return res
		}
	}
	if fp.FetchOffset < res.LogStartOffset || fp.FetchOffset > leo {
		res.Err = storage.ErrOffsetOutOfRange
		return res
	}
	bound := p.fetchBoundLocked(l, params)
	if fp.FetchOffset >= bound {
		return res
	}
	read := l.Read
	if params.FileRegions {
		read = l.ReadRegion
	}
	info, err := read(fp.FetchOffset, maxBytes, bound, minOneBatch)
	if err != nil {
		res.Err = err
		return res
	}
	if params.FileRegions && info.File != nil && info.Size >= params.MinRegionBytes {
		res.Region = FileRegion{File: info.File, Position: info.Position, Size: info.Size}
		return res
	}
	res.Records, res.Err = readInfoBytes(info)
	return res
}

// FileRegion is a run of whole record batches in a segment file, as the log
// stores them. File belongs to the log, which closes it when the segment is
// removed or the partition stops, and truncation may shorten it: a reader
// of the region must treat os.ErrClosed and a short read as "gone" (the
// server closes the connection; the client retries and re-fetches).
type FileRegion struct {
	File     *os.File // nil: no records
	Position int64
	Size     int32
}

// RecordsSize is the number of record bytes in r, in memory or in a region.
func (r *FetchResult) RecordsSize() int64 {
	if r.Region.File != nil {
		return int64(r.Region.Size)
	}
	return int64(len(r.Records))
}

// readInfoBytes returns the bytes of a read, reading them from the segment
// file when the log returned only a file range (Log.ReadRegion of a record
// set too small to be worth sending with sendfile).
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
