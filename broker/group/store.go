package group

import (
	"context"
	"errors"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/replica"
	"github.com/gregor-broker/gregor/broker/storage"
)

// appendRecords appends records to __consumer_offsets-partition as its
// leader and, with waitAcks, waits up to offsets.commit.timeout.ms for the
// high watermark to pass them (acks=-1). It returns the offset of the last
// record and the append's error (a *kerr.Error or a storage sentinel).
func (c *Coordinator) appendRecords(ctx context.Context, partition int32, records []kv, waitAcks bool) (int64, error) {
	batch := recordBatch(records, c.nowMs())
	acks := int16(1)
	if waitAcks {
		acks = -1
	}
	res := c.replicas.AppendRecords(OffsetsTopic, partition, batch, acks, time.Now())
	if res.Err != nil || !waitAcks {
		return res.Info.LastOffset, res.Err
	}
	results := []replica.AppendResult{res}
	c.replicas.WaitForAcks(ctx, c.cfg.OffsetCommitTimeout, results)
	return results[0].Info.LastOffset, results[0].Err
}

// errCode is the Kafka code of an append error.
func errCode(err error) *kerr.Error {
	var ke *kerr.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ke):
		return ke
	case errors.Is(err, storage.ErrLogClosed):
		return kerr.NotLeaderForPartition
	case errors.Is(err, storage.ErrBatchTooLarge):
		return kerr.MessageTooLarge
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return kerr.RequestTimedOut
	}
	return kerr.UnknownServerError
}

// storeGroup writes a group's metadata record and maps the append error as
// GroupMetadataManager.storeGroup does.
func (c *Coordinator) storeGroup(partition int32, records []kv) *kerr.Error {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.OffsetCommitTimeout+time.Second)
	defer cancel()
	_, err := c.appendRecords(ctx, partition, records, true)
	switch e := errCode(err); e {
	case nil:
		return nil
	case kerr.UnknownTopicOrPartition, kerr.NotEnoughReplicas, kerr.NotEnoughReplicasAfterAppend, kerr.RequestTimedOut:
		return errCoordinatorNotAvailable
	case kerr.NotLeaderForPartition, kerr.KafkaStorageError:
		return errNotCoordinator
	case kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidFetchSize:
		return kerr.UnknownServerError
	default:
		return e
	}
}

// commitErrorCode maps an offset commit's append error
// (GroupMetadataManager.storeOffsets).
func commitErrorCode(err error) *kerr.Error {
	switch e := errCode(err); e {
	case nil:
		return nil
	case kerr.UnknownTopicOrPartition, kerr.NotEnoughReplicas, kerr.NotEnoughReplicasAfterAppend:
		return errCoordinatorNotAvailable
	case kerr.NotLeaderForPartition, kerr.KafkaStorageError:
		return errNotCoordinator
	case kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidFetchSize:
		return kerr.InvalidCommitOffsetSize
	default:
		return e
	}
}

// loadedGroup is what the log says about one group.
type loadedGroup struct {
	value   *kmsg.GroupMetadataValue // nil: no metadata record (or a tombstone)
	removed bool                     // the last group record was a tombstone
	offsets map[TopicPartition]*offsetEntry
}

// load reads __consumer_offsets-partition from its start to its end and
// installs the groups and offsets it holds (GroupMetadataManager.doLoadGroupsAndOffsets):
// the last record of a key wins and tombstones remove. The load is dropped
// when op is cancelled (unloaded or re-elected meanwhile).
func (c *Coordinator) load(partition int32, op *offsetsPartition) {
	started := time.Now()
	log := c.log.WithFields(logrus.Fields{"partition": partition, "leader_epoch": op.epoch})
	loaded, records, err := c.readPartition(partition, op.cancel)
	if err != nil {
		select {
		case <-op.cancel:
			return
		default:
		}
		// The partition stays "loading": clients retry and get
		// COORDINATOR_LOAD_IN_PROGRESS until leadership moves on.
		log.WithError(err).Error("load group metadata and offsets")
		return
	}
	now := c.clock.Now()
	c.mu.Lock()
	if c.partitions[partition] != op {
		c.mu.Unlock()
		return
	}
	var groups, offsets int
	var installed []*groupMeta
	for id, lg := range loaded {
		if lg.value == nil && len(lg.offsets) == 0 {
			continue
		}
		if c.groups[id] != nil {
			log.WithField("group", id).Warn("group already cached; keeping it instead of the loaded one")
			continue
		}
		g := newGroupMeta(id, partition, now)
		if lg.value != nil {
			applyGroupValue(g, lg.value)
		}
		g.offsets = lg.offsets
		offsets += len(lg.offsets)
		c.groups[id] = g
		installed = append(installed, g)
		groups++
	}
	op.loading = false
	c.mu.Unlock()
	// Members of loaded groups must heartbeat to this coordinator within
	// their session timeout (GroupCoordinator.onGroupLoaded).
	for _, g := range installed {
		g.mu.Lock()
		for _, m := range g.allMembers() {
			c.scheduleHeartbeatLocked(g, m, m.sessionTimeout)
		}
		g.mu.Unlock()
	}
	log.WithFields(logrus.Fields{"groups": groups, "offsets": offsets, "records": records, "elapsed": time.Since(started).String()}).Info("loaded group metadata and offsets")
}

// readPartition reads the whole partition log into per-group state.
func (c *Coordinator) readPartition(partition int32, cancel <-chan struct{}) (map[string]*loadedGroup, int, error) {
	loaded := map[string]*loadedGroup{}
	get := func(id string) *loadedGroup {
		lg, ok := loaded[id]
		if !ok {
			lg = &loadedGroup{offsets: map[TopicPartition]*offsetEntry{}}
			loaded[id] = lg
		}
		return lg
	}
	l := c.logs.Get(OffsetsTopic, partition)
	if l == nil {
		return nil, 0, errors.New("group: no log for " + OffsetsTopic)
	}
	end := l.LogEndOffset()
	records := 0
	for off := l.LogStartOffset(); off < end; {
		select {
		case <-cancel:
			return nil, 0, errors.New("group: load cancelled")
		default:
		}
		info, err := l.Read(off, c.cfg.OffsetsLoadBufferSize, end, true)
		if err != nil {
			if errors.Is(err, storage.ErrOffsetOutOfRange) && off < l.LogStartOffset() {
				off = l.LogStartOffset() // retention moved the start meanwhile
				continue
			}
			return nil, 0, err
		}
		if len(info.Records) == 0 {
			break
		}
		next, err := forEachBatch(info.Records, func(b *kmsg.RecordBatch) error {
			if b.Attributes&0x20 != 0 { // control batch (transaction marker)
				return nil
			}
			recs, err := batchRecords(b)
			if errors.Is(err, errCompressedBatch) {
				c.log.WithFields(logrus.Fields{"partition": partition, "offset": b.FirstOffset}).Error("skipping a compressed batch of " + OffsetsTopic)
				return nil
			}
			if err != nil {
				return err
			}
			for i, r := range recs {
				records++
				applyRecord(get, r.Key, r.Value, b.FirstOffset+int64(i))
			}
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
		if next <= off {
			break
		}
		off = next
	}
	return loaded, records, nil
}

// applyRecord folds one record into the loaded state. Unknown key versions
// are skipped, as Kafka's readMessageKey returns an unknown key for them.
func applyRecord(get func(string) *loadedGroup, key, value []byte, recordOffset int64) {
	if len(key) < 2 {
		return
	}
	switch version := int16(key[0])<<8 | int16(key[1]); version {
	case 0, 1:
		var k kmsg.OffsetCommitKey
		if k.ReadFrom(key) != nil {
			return
		}
		lg := get(k.Group)
		tp := TopicPartition{k.Topic, k.Partition}
		if value == nil {
			delete(lg.offsets, tp)
			return
		}
		var v kmsg.OffsetCommitValue
		if v.ReadFrom(value) != nil {
			return
		}
		e := &offsetEntry{offset: v.Offset, leaderEpoch: -1, metadata: v.Metadata, commitTimestamp: v.CommitTimestamp, expireTimestamp: -1, recordOffset: recordOffset}
		if v.Version >= 3 {
			e.leaderEpoch = v.LeaderEpoch
		}
		if v.Version == 1 {
			e.expireTimestamp = v.ExpireTimestamp
		}
		lg.offsets[tp] = e
	case 2:
		var k kmsg.GroupMetadataKey
		if k.ReadFrom(key) != nil {
			return
		}
		lg := get(k.Group)
		if value == nil {
			lg.value, lg.removed = nil, true
			return
		}
		v := new(kmsg.GroupMetadataValue)
		if v.ReadFrom(value) != nil {
			return
		}
		lg.value, lg.removed = v, false
	}
}

// applyGroupValue is GroupMetadata.loadGroup: Empty without members, else
// Stable with the stored generation, protocol, leader and assignments.
func applyGroupValue(g *groupMeta, v *kmsg.GroupMetadataValue) {
	g.protocolType = v.ProtocolType
	g.generation = v.Generation
	if v.Protocol != nil {
		g.protocol = *v.Protocol
	}
	if v.Leader != nil {
		g.leader = *v.Leader
	}
	g.stateTimestamp = -1
	if v.Version >= 2 {
		g.stateTimestamp = v.CurrentStateTimestamp
	}
	if len(v.Members) == 0 {
		g.state = Empty
		g.computeSubscribedTopics()
		return
	}
	g.state = Stable
	for _, vm := range v.Members {
		m := &member{
			id: vm.MemberID, clientID: vm.ClientID, clientHost: vm.ClientHost,
			rebalanceTimeout: time.Duration(vm.RebalanceTimeoutMillis) * time.Millisecond,
			sessionTimeout:   time.Duration(vm.SessionTimeoutMillis) * time.Millisecond,
			protocolType:     v.ProtocolType,
			protocols:        []Protocol{{Name: g.protocol, Metadata: vm.Subscription}},
			assignment:       vm.Assignment,
		}
		if vm.RebalanceTimeoutMillis < 0 { // v0 records have none
			m.rebalanceTimeout = m.sessionTimeout
		}
		if vm.InstanceID != nil {
			m.instanceID = *vm.InstanceID
		}
		leader := g.leader
		g.add(m, nil)
		g.leader = leader
	}
	g.computeSubscribedTopics()
}
