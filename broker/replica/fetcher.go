package replica

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/kconn"
	"github.com/gregor-broker/gregor/broker/storage"
)

// Follower fetchers: Kafka's ReplicaFetcherManager, ReplicaFetcherThread and
// AbstractFetcherThread. A follower partition is fetched by one fetcher per
// (leader broker, fetcher id = hash(topic, partition) % num.replica.fetchers);
// each fetcher is one goroutine with one connection to the leader's
// inter-broker listener, sending ordinary Fetch v12 requests with
// ReplicaID = this broker. Truncation happens on the fetch path (Kafka's
// IBP >= 2.7 "truncate on fetch"): the follower sends LastFetchedEpoch, the
// leader answers DivergingEpoch when the logs diverge, and the follower
// truncates to the divergence point (KIP-101/279/320) and fetches again.
//
// Locks: Partition.mu → fetcherManager.mu → fetcher.mu (StopReplicas
// removes a fetcher under the partition lock); the fetcher goroutine never
// holds fetcher.mu while it takes a partition's lock, and the fetcher validates the partition's
// leader epoch under Partition.mu before it appends or truncates, so a
// response for an epoch that a LeaderAndIsr has since replaced is dropped.

// followerStart asks the fetcher manager to fetch a partition from leader.
type followerStart struct {
	tp          TopicPartition
	p           *Partition
	leader      int32
	leaderEpoch int32
	addr        string // "host:port" from LiveLeaders, or "" (metadata cache)
	// truncateToHW: the log has no leader epochs (see fetchState).
	truncateToHW bool
}

type fetcherKey struct {
	leader int32
	id     int
}

// fetcherManager owns the fetchers (Kafka's AbstractFetcherManager).
type fetcherManager struct {
	m *Manager

	mu       sync.Mutex
	fetchers map[fetcherKey]*fetcher
	owner    map[TopicPartition]fetcherKey
	closed   bool

	wg sync.WaitGroup // fetcher goroutines
}

func newFetcherManager(m *Manager) *fetcherManager {
	return &fetcherManager{m: m, fetchers: map[fetcherKey]*fetcher{}, owner: map[TopicPartition]fetcherKey{}}
}

// fetcherID is Kafka's AbstractFetcherManager.getFetcherId:
// abs(31 * topic.hashCode + partition) % num.replica.fetchers.
func fetcherID(tp TopicPartition, n int) int {
	var h int32
	for _, r := range tp.Topic {
		h = 31*h + int32(r)
	}
	v := 31*h + tp.Partition
	if v < 0 {
		v = -v
		if v < 0 { // math.MinInt32
			v = 0
		}
	}
	return int(v) % n
}

// addPartitions starts fetching the partitions (Kafka's
// addFetcherForPartitions): a partition moves to the fetcher of its new
// leader, and its state restarts with the new leader epoch.
func (fm *fetcherManager) addPartitions(starts []followerStart) {
	if len(starts) == 0 {
		return
	}
	fm.mu.Lock()
	defer fm.mu.Unlock()
	if fm.closed {
		return
	}
	for _, s := range starts {
		if s.p == nil {
			continue
		}
		key := fetcherKey{s.leader, fetcherID(s.tp, fm.m.cfg.NumFetchers)}
		if old, ok := fm.owner[s.tp]; ok && old != key {
			fm.removeLocked(s.tp, old)
		}
		f := fm.fetchers[key]
		if f == nil {
			f = newFetcher(fm, key)
			fm.fetchers[key] = f
			fm.wg.Add(1)
			go f.run()
		}
		f.add(s)
		fm.owner[s.tp] = key
	}
}

// removePartitions stops fetching the partitions (Kafka's
// removeFetcherForPartitions) and stops fetchers left without partitions.
// It does not wait for an in-flight fetch: its result is dropped by the
// epoch check.
func (fm *fetcherManager) removePartitions(tps []TopicPartition) {
	if len(tps) == 0 {
		return
	}
	fm.mu.Lock()
	defer fm.mu.Unlock()
	for _, tp := range tps {
		if key, ok := fm.owner[tp]; ok {
			fm.removeLocked(tp, key)
		}
	}
}

func (fm *fetcherManager) removeLocked(tp TopicPartition, key fetcherKey) {
	delete(fm.owner, tp)
	f := fm.fetchers[key]
	if f == nil {
		return
	}
	if f.remove(tp) == 0 {
		delete(fm.fetchers, key)
		f.stop()
	}
}

// shutdown stops every fetcher and waits for them, so that no follower
// append happens after it returns (clean shutdown: fetchers stop before the
// logs are flushed and closed).
func (fm *fetcherManager) shutdown() {
	fm.mu.Lock()
	fm.closed = true
	for k, f := range fm.fetchers {
		f.stop()
		delete(fm.fetchers, k)
	}
	fm.owner = map[TopicPartition]fetcherKey{}
	fm.mu.Unlock()
	fm.wg.Wait()
}

// FetcherPartitions returns how many partitions each fetcher follows, by
// "leader-fetcherID" (for tests and metrics).
func (m *Manager) FetcherPartitions() map[string]int {
	fm := m.fetchers
	fm.mu.Lock()
	defer fm.mu.Unlock()
	out := map[string]int{}
	for k, f := range fm.fetchers {
		f.mu.Lock()
		out[strconv.Itoa(int(k.leader))+"-"+strconv.Itoa(k.id)] = len(f.parts)
		f.mu.Unlock()
	}
	return out
}

// fetchState is one partition's state in a fetcher (Kafka's
// PartitionFetchState). Fields after p are guarded by fetcher.mu.
type fetchState struct {
	tp          TopicPartition
	p           *Partition
	leaderEpoch int32
	// truncateToHW is set when the log has no leader epochs: Kafka then
	// truncates to the high watermark before fetching, since the leader
	// cannot find a divergence without LastFetchedEpoch.
	truncateToHW bool
	delayedUntil time.Time
	lastErr      int16 // last error code logged, to log each change once
	// epochRetries counts the UNKNOWN_LEADER_EPOCH answers in a row (see
	// unknownLeaderEpochDelay).
	epochRetries int
	// caughtUp: the last fetch brought the log to the leader's high
	// watermark (Kafka's isReplicaInSync for follower throttling).
	caughtUp bool
}

// fetcher is one fetcher goroutine (Kafka's ReplicaFetcherThread).
type fetcher struct {
	fm     *fetcherManager
	m      *Manager
	key    fetcherKey
	log    *logrus.Entry
	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{}

	mu    sync.Mutex
	addr  string
	parts map[TopicPartition]*fetchState
	conn  *kconn.Conn

	// failing is set after a connection or request failure was logged at
	// warn level; repeats go to debug until a fetch succeeds. Run goroutine
	// only.
	failing bool
}

// warnOnce logs a fetcher-level failure at warn level once per outage.
func (f *fetcher) warnOnce(err error, msg string) {
	if f.ctx.Err() != nil {
		return
	}
	e := f.log.WithError(err)
	if f.failing {
		e.Debug(msg)
		return
	}
	f.failing = true
	e.Warn(msg)
}

func newFetcher(fm *fetcherManager, key fetcherKey) *fetcher {
	ctx, cancel := context.WithCancel(context.Background())
	return &fetcher{
		fm: fm, m: fm.m, key: key,
		log:    fm.m.log.WithFields(logrus.Fields{"leader": key.leader, "fetcher_id": key.id}),
		ctx:    ctx,
		cancel: cancel,
		wake:   make(chan struct{}, 1),
		parts:  map[TopicPartition]*fetchState{},
	}
}

func (f *fetcher) add(s followerStart) {
	f.mu.Lock()
	if s.addr != "" && s.addr != f.addr {
		f.addr = s.addr
		if f.conn != nil { // the leader moved: reconnect
			_ = f.conn.Close()
		}
	}
	f.parts[s.tp] = &fetchState{tp: s.tp, p: s.p, leaderEpoch: s.leaderEpoch, truncateToHW: s.truncateToHW}
	f.mu.Unlock()
	f.log.WithFields(logrus.Fields{"topic": s.tp.Topic, "partition": s.tp.Partition, "leader_epoch": s.leaderEpoch, "addr": s.addr}).Info("added partition to fetcher")
	f.signal()
}

// remove drops a partition and returns how many are left.
func (f *fetcher) remove(tp TopicPartition) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.parts, tp)
	return len(f.parts)
}

func (f *fetcher) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// stop makes the goroutine exit and interrupts an in-flight fetch by
// closing the connection; it does not wait (the manager's WaitGroup does).
func (f *fetcher) stop() {
	f.cancel()
	f.mu.Lock()
	if f.conn != nil {
		_ = f.conn.Close()
	}
	f.mu.Unlock()
}

func (f *fetcher) run() {
	defer f.fm.wg.Done()
	defer f.closeConn()
	f.log.Info("fetcher started")
	defer f.log.Info("fetcher stopped")
	for f.ctx.Err() == nil {
		batch, wait := f.ready(time.Now())
		if len(batch) == 0 {
			if wait <= 0 {
				wait = time.Hour
			}
			t := time.NewTimer(wait)
			select {
			case <-f.ctx.Done():
			case <-f.wake:
			case <-t.C:
			}
			t.Stop()
			continue
		}
		f.fetchOnce(batch)
	}
}

// ready returns the partitions not backing off, and how long until the
// next one is ready when none is.
func (f *fetcher) ready(now time.Time) ([]*fetchState, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*fetchState
	var wait time.Duration
	for _, st := range f.parts {
		if d := st.delayedUntil.Sub(now); d > 0 {
			if wait == 0 || d < wait {
				wait = d
			}
			continue
		}
		out = append(out, st)
	}
	return out, wait
}

// backoff delays the partitions by replica.fetch.backoff.ms.
func (f *fetcher) backoff(sts ...*fetchState) {
	until := time.Now().Add(f.m.cfg.FetchBackoff)
	f.mu.Lock()
	for _, st := range sts {
		st.delayedUntil = until
	}
	f.mu.Unlock()
}

// delay holds the partitions back for d (a throttled partition waits for
// the follower quota, throttle.go).
func (f *fetcher) delay(d time.Duration, sts ...*fetchState) {
	until := time.Now().Add(d)
	f.mu.Lock()
	for _, st := range sts {
		st.delayedUntil = until
	}
	f.mu.Unlock()
}

func (f *fetcher) isCaughtUp(st *fetchState) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return st.caughtUp
}

func (f *fetcher) setCaughtUp(st *fetchState, v bool) {
	f.mu.Lock()
	st.caughtUp = v
	f.mu.Unlock()
}

func (f *fetcher) closeConn() {
	f.mu.Lock()
	if f.conn != nil {
		_ = f.conn.Close()
		f.conn = nil
	}
	f.mu.Unlock()
}

// connection returns the connection to the leader, dialling its
// inter-broker endpoint (from LiveLeaders, else the metadata cache).
func (f *fetcher) connection() (*kconn.Conn, error) {
	f.mu.Lock()
	c, addr := f.conn, f.addr
	f.mu.Unlock()
	if c != nil {
		return c, nil
	}
	if addr == "" {
		if f.m.cfg.Metadata == nil {
			return nil, fmt.Errorf("no address for leader %d", f.key.leader)
		}
		ep, ok := f.m.cfg.Metadata.Snapshot().Endpoint(f.key.leader, f.m.cfg.InterBrokerListener)
		if !ok {
			return nil, fmt.Errorf("leader %d has no %q endpoint in the metadata cache", f.key.leader, f.m.cfg.InterBrokerListener)
		}
		addr = net.JoinHostPort(ep.Host, strconv.Itoa(int(ep.Port)))
	}
	c, err := kconn.Dial(f.ctx, addr, kconn.Options{
		ClientID:  "broker-" + strconv.Itoa(int(f.m.cfg.BrokerID)) + "-fetcher-" + strconv.Itoa(f.key.id),
		LocalHost: f.m.cfg.LocalHost,
		Timeout:   f.m.cfg.SocketTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("dial leader %d at %s: %w", f.key.leader, addr, err)
	}
	f.mu.Lock()
	if f.ctx.Err() != nil {
		f.mu.Unlock()
		_ = c.Close()
		return nil, f.ctx.Err()
	}
	f.conn = c
	f.mu.Unlock()
	return c, nil
}

// sentPartition is what a fetch asked for one partition.
type sentPartition struct {
	st          *fetchState
	fetchOffset int64
}

// fetchOnce sends one Fetch for the batch and applies the response
// (Kafka's AbstractFetcherThread.processFetchRequest).
func (f *fetcher) fetchOnce(batch []*fetchState) {
	sent := map[TopicPartition]sentPartition{}
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12
	req.ReplicaID = f.m.cfg.BrokerID
	req.MaxWaitMillis = int32(f.m.cfg.FetchWaitMax / time.Millisecond)
	req.MinBytes = f.m.cfg.FetchMinBytes
	req.MaxBytes = f.m.cfg.FetchResponseMaxBytes
	req.SessionID, req.SessionEpoch = 0, -1 // full fetches, no session
	topicIdx := map[string]int{}
	var throttled []*fetchState
	var throttleWait time.Duration
	for _, st := range batch {
		if skip, wait := f.m.followerThrottleFetch(st.tp, f.isCaughtUp(st)); skip {
			throttled, throttleWait = append(throttled, st), wait // throttle.go
			continue
		}
		rp, ok := f.prepare(st)
		if !ok {
			continue
		}
		i, ok := topicIdx[st.tp.Topic]
		if !ok {
			i = len(req.Topics)
			topicIdx[st.tp.Topic] = i
			t := kmsg.NewFetchRequestTopic()
			t.Topic = st.tp.Topic
			req.Topics = append(req.Topics, t)
		}
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
		sent[st.tp] = sentPartition{st: st, fetchOffset: rp.FetchOffset}
	}
	if len(throttled) > 0 {
		defer f.delay(throttleWait, throttled...)
	}
	if len(sent) == 0 {
		// Every partition is stale (a LeaderAndIsr is replacing it);
		// wait for the manager to update this fetcher.
		f.backoff(batch...)
		return
	}
	all := make([]*fetchState, 0, len(sent))
	for _, s := range sent {
		all = append(all, s.st)
	}
	conn, err := f.connection()
	if err != nil {
		f.warnOnce(err, "connect to leader")
		f.backoff(all...)
		return
	}
	kresp, err := conn.Request(req, f.m.cfg.SocketTimeout+f.m.cfg.FetchWaitMax)
	if err != nil {
		f.closeConn()
		f.warnOnce(err, "fetch from leader")
		f.backoff(all...)
		return
	}
	resp := kresp.(*kmsg.FetchResponse)
	if resp.ErrorCode != 0 {
		f.warnOnce(kerr.ErrorForCode(resp.ErrorCode), "fetch from leader failed")
		f.backoff(all...)
		return
	}
	if f.failing {
		f.failing = false
		f.log.Info("fetching from leader")
	}
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			s, ok := sent[TopicPartition{rt.Topic, rp.Partition}]
			if !ok || !f.current(s.st) {
				continue // removed or restarted with a new epoch meanwhile
			}
			f.m.recordFollowerThrottle(s.st.tp, len(rp.RecordBatches))
			f.process(s, rp)
		}
	}
}

// current reports whether st is still the fetcher's state of its partition.
func (f *fetcher) current(st *fetchState) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.parts[st.tp] == st
}

// prepare builds the request entry for a partition and, on the first fetch
// of a log without leader epochs, truncates it to the high watermark. ok is
// false when the partition no longer follows this fetcher's epoch.
func (f *fetcher) prepare(st *fetchState) (kmsg.FetchRequestTopicPartition, bool) {
	rp := kmsg.NewFetchRequestTopicPartition()
	f.mu.Lock()
	truncate := st.truncateToHW
	st.truncateToHW = false
	f.mu.Unlock()
	p := st.p
	p.mu.RLock()
	defer p.mu.RUnlock()
	l, ok := p.followingLocked(st.leaderEpoch)
	if !ok {
		return rp, false
	}
	if truncate && l.LatestEpoch() < 0 {
		hw := p.HighWatermark()
		if leo := l.LogEndOffset(); leo > hw {
			if err := l.TruncateTo(hw); err != nil {
				f.log.WithError(err).WithFields(logrus.Fields{"topic": p.Topic, "partition": p.Index}).Error("truncate to high watermark")
				return rp, false
			}
			f.log.WithFields(logrus.Fields{"topic": p.Topic, "partition": p.Index, "offset": hw, "old_log_end_offset": leo,
				"reason": "no leader epochs"}).Warn("truncated to high watermark")
		}
	}
	rp.Partition = p.Index
	rp.CurrentLeaderEpoch = st.leaderEpoch
	rp.FetchOffset = l.LogEndOffset()
	rp.LastFetchedEpoch = l.LatestEpoch()
	rp.LogStartOffset = l.LogStartOffset()
	rp.PartitionMaxBytes = f.m.cfg.FetchMaxBytes
	return rp, true
}

// followingLocked returns the log when p still follows at leaderEpoch.
// p.mu is held.
func (p *Partition) followingLocked(leaderEpoch int32) (l *storage.Log, ok bool) {
	if p.stopped || p.isLeader || p.log == nil || p.leaderEpoch != leaderEpoch {
		return nil, false
	}
	return p.log, true
}

// process applies one partition of a fetch response (Kafka's
// processPartitionData, or the error handling of processFetchRequest).
func (f *fetcher) process(s sentPartition, rp *kmsg.FetchResponseTopicPartition) {
	st, p := s.st, s.st.p
	fields := logrus.Fields{"topic": p.Topic, "partition": p.Index, "leader_epoch": st.leaderEpoch}
	err := kerr.ErrorForCode(rp.ErrorCode)
	switch {
	case err == nil:
		if ferr := f.applyData(s, rp); ferr != nil {
			f.log.WithError(ferr).WithFields(fields).Warn("apply fetched data")
			f.backoff(st)
		}
		f.setLastErr(st, 0, fields)
	case err == kerr.UnknownLeaderEpoch:
		f.setLastErr(st, rp.ErrorCode, fields)
		f.delay(f.unknownLeaderEpochDelay(st), st)
	case err == kerr.OffsetOutOfRange:
		f.setLastErr(st, rp.ErrorCode, fields)
		if oerr := f.handleOutOfRange(s); oerr != nil {
			f.log.WithError(oerr).WithFields(fields).Warn("reset fetch offset after OFFSET_OUT_OF_RANGE")
			f.backoff(st)
		}
	default:
		// NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION,
		// FENCED_LEADER_EPOCH (we are behind: a LeaderAndIsr will come),
		// storage errors...
		f.setLastErr(st, rp.ErrorCode, fields)
		f.backoff(st)
	}
}

// firstEpochRetry is the first delay after UNKNOWN_LEADER_EPOCH.
const firstEpochRetry = 50 * time.Millisecond

// unknownLeaderEpochDelay is how long a partition waits after the leader
// answered UNKNOWN_LEADER_EPOCH: the leader has not applied yet the
// LeaderAndIsr that made it leader at our epoch. The controller sent it
// together with ours, so it is normally milliseconds behind (a follower of
// a controlled shutdown or failover often applies its request first).
// Kafka backs the partition off for replica.fetch.backoff.ms (1 s), which
// held every acks=all produce on such a partition for that second (120 of
// 500 partitions in one controlled shutdown run); here the retries start
// at 50 ms and double up to replica.fetch.backoff.ms, so a leader that stays
// behind is not polled hard.
func (f *fetcher) unknownLeaderEpochDelay(st *fetchState) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.m.cfg.FetchBackoff
	if st.epochRetries < 16 {
		d = min(firstEpochRetry<<st.epochRetries, d)
	}
	st.epochRetries++
	return d
}

// setLastErr logs a partition's fetch error once per change.
func (f *fetcher) setLastErr(st *fetchState, code int16, fields logrus.Fields) {
	f.mu.Lock()
	changed := st.lastErr != code
	st.lastErr = code
	if code != kerr.UnknownLeaderEpoch.Code {
		st.epochRetries = 0
	}
	f.mu.Unlock()
	if !changed {
		return
	}
	if code == 0 {
		f.log.WithFields(fields).Info("fetching from leader again")
		return
	}
	f.log.WithFields(fields).WithField("error", kerr.ErrorForCode(code).Error()).Info("fetch error for partition; backing off")
}

// applyData truncates on a diverging epoch, or appends the records, then
// moves the follower's high watermark (min(leader HW, LEO)) and log start
// offset (the leader's, when it is ahead).
func (f *fetcher) applyData(s sentPartition, rp *kmsg.FetchResponseTopicPartition) error {
	st, p := s.st, s.st.p
	p.mu.RLock()
	defer p.mu.RUnlock()
	l, ok := p.followingLocked(st.leaderEpoch)
	if !ok || l.LogEndOffset() != s.fetchOffset {
		return nil // stale: a LeaderAndIsr changed the partition meanwhile
	}
	if rp.DivergingEpoch.Epoch >= 0 {
		return p.truncateOnDivergenceLocked(l, rp.DivergingEpoch.Epoch, rp.DivergingEpoch.EndOffset, f.key.leader)
	}
	if len(rp.RecordBatches) > 0 {
		_, err := l.AppendAsFollower(rp.RecordBatches)
		if errors.Is(err, storage.ErrNotContiguous) && restartMidBatch(l, rp.RecordBatches) {
			// Kafka's Partition.appendRecordsToFollowerOrFutureReplica on
			// UnexpectedAppendOffsetException: the leader's log start
			// (moved by DeleteRecords or retention) falls inside its first
			// batch, so an empty follower log restarts at the batch's base.
			f.log.WithFields(logrus.Fields{"topic": p.Topic, "partition": p.Index, "log_start_offset": l.LogStartOffset()}).Info("restarted an empty log at the base offset of the leader's first batch")
			_, err = l.AppendAsFollower(rp.RecordBatches)
		}
		if err != nil {
			return fmt.Errorf("append as follower at %d: %w", s.fetchOffset, err)
		}
	}
	if rp.LogStartOffset > l.LogStartOffset() {
		if err := l.DeleteRecordsBefore(min(rp.LogStartOffset, rp.HighWatermark, l.LogEndOffset())); err != nil {
			return fmt.Errorf("follow the leader's log start offset %d: %w", rp.LogStartOffset, err)
		}
	}
	f.setCaughtUp(st, l.LogEndOffset() >= rp.HighWatermark)
	// Kafka's UnifiedLog.updateHighWatermark: the follower takes the
	// leader's high watermark, bounded by its own log.
	hw := min(max(rp.HighWatermark, l.LogStartOffset()), l.LogEndOffset())
	p.hwMu.Lock()
	p.highWatermark = hw
	p.hwMu.Unlock()
	return nil
}

// truncateOnDivergenceLocked is Kafka's getOffsetTruncationState applied to
// the leader's DivergingEpoch (leaderEpoch, endOffset), then truncate: it
// truncates to the end of the largest epoch both logs share, and the next
// fetch (with the new LastFetchedEpoch) finds any earlier divergence
// (KIP-279's multiple rounds). p.mu is held (read).
func (p *Partition) truncateOnDivergenceLocked(l *storage.Log, leaderEpoch int32, endOffset int64, leader int32) error {
	leo := l.LogEndOffset()
	hw := p.HighWatermark()
	target := truncationOffset(leaderEpoch, endOffset, leo, hw, l.EndOffsetForEpoch)
	if err := l.TruncateTo(target); err != nil {
		return fmt.Errorf("truncate to %d: %w", target, err)
	}
	newLEO := l.LogEndOffset()
	p.hwMu.Lock()
	if p.highWatermark > newLEO {
		p.highWatermark = newLEO
	}
	newHW := p.highWatermark
	p.hwMu.Unlock()
	fields := logrus.Fields{"topic": p.Topic, "partition": p.Index, "leader": leader, "leader_epoch": p.leaderEpoch,
		"diverging_epoch": leaderEpoch, "diverging_end_offset": endOffset, "offset": newLEO, "old_log_end_offset": leo,
		"high_watermark": newHW, "latest_epoch": l.LatestEpoch()}
	if target < hw {
		p.m.log.WithFields(fields).WithField("old_high_watermark", hw).Warn("truncated below the high watermark to the divergence point")
		return nil
	}
	p.m.log.WithFields(fields).Info("truncated to divergence point")
	return nil
}

// truncationOffset is Kafka's AbstractFetcherThread.getOffsetTruncationState:
// where a follower with log end offset leo and high watermark hw truncates,
// given the leader's (epoch, end offset) and the follower's own
// endOffsetFor.
func truncationOffset(leaderEpoch int32, leaderEnd, leo, hw int64, local func(int32) (int32, int64)) int64 {
	switch {
	case leaderEnd < 0:
		return min(hw, leo) // the leader knows no such epoch: the initial fetch offset
	case leaderEpoch < 0:
		return min(leaderEnd, leo)
	}
	fe, fo := local(leaderEpoch)
	switch {
	case fo < 0:
		return min(leaderEnd, leo) // the follower has no epoch <= the leader's
	case fe != leaderEpoch:
		return min(fo, leo) // the follower does not know that epoch: ask again
	default:
		return min(fo, leaderEnd, leo)
	}
}

// handleOutOfRange is Kafka's fetchOffsetAndTruncate for
// OFFSET_OUT_OF_RANGE: a follower ahead of the leader truncates to the
// leader's log end; one behind the leader's log start restarts its log
// there. Never fatal (KAFKA-7414).
func (f *fetcher) handleOutOfRange(s sentPartition) error {
	st, p := s.st, s.st.p
	leaderEnd, err := f.listOffset(st, LatestTimestamp)
	if err != nil {
		return err
	}
	var leaderStart int64 = -1
	if leaderEnd >= s.fetchOffset {
		if leaderStart, err = f.listOffset(st, EarliestTimestamp); err != nil {
			return err
		}
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	l, ok := p.followingLocked(st.leaderEpoch)
	if !ok || l.LogEndOffset() != s.fetchOffset {
		return nil
	}
	fields := logrus.Fields{"topic": p.Topic, "partition": p.Index, "leader": f.key.leader, "leader_epoch": st.leaderEpoch,
		"old_log_end_offset": s.fetchOffset, "leader_log_end_offset": leaderEnd, "leader_log_start_offset": leaderStart}
	switch {
	case leaderEnd < s.fetchOffset:
		if err := l.TruncateTo(leaderEnd); err != nil {
			return err
		}
		f.log.WithFields(fields).WithField("offset", l.LogEndOffset()).Warn("truncated to the leader's log end offset after OFFSET_OUT_OF_RANGE")
	case leaderStart > s.fetchOffset:
		if err := l.TruncateFullyAndStartAt(leaderStart); err != nil {
			return err
		}
		f.log.WithFields(fields).WithField("offset", leaderStart).Warn("restarted the log at the leader's log start offset after OFFSET_OUT_OF_RANGE")
	default:
		f.backoff(st) // transient (e.g. leader truncating); retry later
		return nil
	}
	p.hwMu.Lock()
	p.highWatermark = min(max(p.highWatermark, l.LogStartOffset()), l.LogEndOffset())
	p.hwMu.Unlock()
	return nil
}

// listOffset asks the leader for its latest or earliest offset as a replica
// (ListOffsets v4 with ReplicaID = this broker).
func (f *fetcher) listOffset(st *fetchState, timestamp int64) (int64, error) {
	conn, err := f.connection()
	if err != nil {
		return 0, err
	}
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = 4
	req.ReplicaID = f.m.cfg.BrokerID
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = st.tp.Topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.CurrentLeaderEpoch, rp.Timestamp = st.tp.Partition, st.leaderEpoch, timestamp
	t.Partitions = append(t.Partitions, rp)
	req.Topics = append(req.Topics, t)
	kresp, err := conn.Request(req, f.m.cfg.SocketTimeout)
	if err != nil {
		f.closeConn()
		return 0, fmt.Errorf("list offsets: %w", err)
	}
	resp := kresp.(*kmsg.ListOffsetsResponse)
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			if rt.Topic == st.tp.Topic && p.Partition == st.tp.Partition {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return 0, fmt.Errorf("list offsets: %w", err)
				}
				return p.Offset, nil
			}
		}
	}
	return 0, fmt.Errorf("list offsets: partition missing from the response")
}

// restartMidBatch restarts l at the base offset of the first batch in
// batches when l is empty and that batch holds its log end offset (base <
// LEO <= last offset), and reports whether it did.
func restartMidBatch(l *storage.Log, batches []byte) bool {
	if len(batches) < 27 {
		return false
	}
	base := int64(binary.BigEndian.Uint64(batches[0:]))
	last := base + int64(int32(binary.BigEndian.Uint32(batches[23:])))
	leo := l.LogEndOffset()
	if l.LogStartOffset() != leo || base >= leo || last < leo {
		return false
	}
	return l.TruncateFullyAndStartAt(base) == nil
}
