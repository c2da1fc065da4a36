package group

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record key versions (GroupMetadataManager / reference §7.1): offset
// commit keys are written as version 1 (0 and 1 are identical), group
// metadata keys as version 2.
const (
	offsetCommitKeyVersion  = 1
	groupMetadataKeyVersion = 2
	// groupMetadataValueVersion 3 carries static members (IBP >= 2.3).
	groupMetadataValueVersion = 3
)

// kv is one record: a nil value is a tombstone.
type kv struct {
	key, value []byte
}

func offsetCommitKey(group string, tp TopicPartition) []byte {
	k := kmsg.OffsetCommitKey{Version: offsetCommitKeyVersion, Group: group, Topic: tp.Topic, Partition: tp.Partition}
	return k.AppendTo(nil)
}

func groupMetadataKey(group string) []byte {
	k := kmsg.GroupMetadataKey{Version: groupMetadataKeyVersion, Group: group}
	return k.AppendTo(nil)
}

// offsetCommitValue is GroupMetadataManager.offsetCommitValue: version 3
// (with the leader epoch) normally, version 1 when an explicit expire
// timestamp was requested (OffsetCommit v2–v4 retention time).
func offsetCommitValue(e *offsetEntry) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Offset, v.Metadata, v.CommitTimestamp = e.offset, e.metadata, e.commitTimestamp
	if e.expireTimestamp >= 0 {
		v.Version = 1
		v.ExpireTimestamp = e.expireTimestamp
	} else {
		v.Version = 3
		v.LeaderEpoch = e.leaderEpoch
	}
	return v.AppendTo(nil)
}

// groupMetadataRecords is the GroupMetadataValue of g with the given
// assignment (nil for an empty group), version 3.
func groupMetadataRecords(g *groupMeta, assignment map[string][]byte, nowMs int64) []kv {
	v := kmsg.NewGroupMetadataValue()
	v.Version = groupMetadataValueVersion
	v.ProtocolType = g.protocolType
	v.Generation = g.generation
	v.Protocol = g.protocolPtr()
	v.Leader = strPtr(g.leader)
	v.CurrentStateTimestamp = g.stateTimestamp
	if assignment != nil {
		for _, m := range g.allMembers() {
			vm := kmsg.NewGroupMetadataValueMember()
			vm.MemberID, vm.InstanceID, vm.ClientID, vm.ClientHost = m.id, m.instancePtr(), m.clientID, m.clientHost
			vm.RebalanceTimeoutMillis = int32(m.rebalanceTimeout.Milliseconds())
			vm.SessionTimeoutMillis = int32(m.sessionTimeout.Milliseconds())
			vm.Subscription = orEmpty(m.metadata(g.protocol))
			vm.Assignment = orEmpty(assignment[m.id])
			v.Members = append(v.Members, vm)
		}
	}
	return []kv{{groupMetadataKey(g.id), v.AppendTo(nil)}}
}

func orEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// recordBatch builds an uncompressed magic-2 record batch of records with
// CreateTime timestamps nowMs, as MemoryRecords.withRecords does for the
// coordinator's appends. The log assigns the offsets.
func recordBatch(records []kv, nowMs int64) []byte {
	var recs []byte
	for i, r := range records {
		rec := kmsg.Record{OffsetDelta: int32(i), Key: r.key, Value: r.value}
		body := rec.AppendTo(nil)
		rec.Length = int32(len(body) - 1) // the zero length varint is one byte
		recs = rec.AppendTo(recs)
	}
	b := kmsg.RecordBatch{
		Magic:           2,
		LastOffsetDelta: int32(len(records) - 1),
		FirstTimestamp:  nowMs,
		MaxTimestamp:    nowMs,
		ProducerID:      -1,
		ProducerEpoch:   -1,
		FirstSequence:   -1,
		NumRecords:      int32(len(records)),
		Records:         recs,
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32c))
	return raw
}

// errCompressedBatch marks a compressed batch in __consumer_offsets, which
// this coordinator never writes and does not read.
var errCompressedBatch = errors.New("group: compressed batch in " + OffsetsTopic)

// forEachBatch walks the whole record batches in data (a log read), calling
// fn for each; it returns the offset after the last whole batch.
func forEachBatch(data []byte, fn func(b *kmsg.RecordBatch) error) (next int64, err error) {
	next = -1
	for len(data) >= 12 {
		size := int(int32(binary.BigEndian.Uint32(data[8:12]))) + 12
		if size < 61 || size > len(data) {
			break
		}
		var b kmsg.RecordBatch
		if err := b.ReadFrom(data[:size]); err != nil {
			return next, fmt.Errorf("decode record batch: %w", err)
		}
		data = data[size:]
		next = b.FirstOffset + int64(b.LastOffsetDelta) + 1
		if err := fn(&b); err != nil {
			return next, err
		}
	}
	return next, nil
}

// batchRecords decodes the records of an uncompressed batch.
func batchRecords(b *kmsg.RecordBatch) ([]kmsg.Record, error) {
	if b.Attributes&0x07 != 0 {
		return nil, errCompressedBatch
	}
	out := make([]kmsg.Record, 0, b.NumRecords)
	data := b.Records
	for len(data) > 0 {
		l, n := binary.Varint(data)
		if n <= 0 || l < 0 || int64(len(data)-n) < l {
			return nil, fmt.Errorf("decode record: bad length")
		}
		var r kmsg.Record
		if err := r.ReadFrom(data[:n+int(l)]); err != nil {
			return nil, fmt.Errorf("decode record: %w", err)
		}
		out = append(out, r)
		data = data[n+int(l):]
	}
	return out, nil
}
