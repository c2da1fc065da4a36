package handlers

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// countingIDs stands in for zkpaths.ProducerIDManager (tested against a
// real ZooKeeper in zkpaths): ids from 4000 up, or err.
type countingIDs struct {
	mu   sync.Mutex
	next int64
	err  error
}

func (c *countingIDs) GenerateProducerID() (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return -1, c.err
	}
	id := c.next
	c.next++
	return id, nil
}

func TestInitProducerID(t *testing.T) {
	txn := "txn-1"
	tests := []struct {
		name     string
		versions []int16
		txnID    *string
		pid      int64
		epoch    int16
		idsErr   error
		wantCode int16
		wantNew  bool // a fresh id with epoch 0
	}{
		{name: "idempotent producer gets a new id, epoch 0", versions: []int16{0, 1, 2, 3, 4}, pid: -1, epoch: -1, wantNew: true},
		{name: "KIP-360 existing id and epoch: a new id, as Kafka answers non-transactional producers", versions: []int16{3, 4}, pid: 17, epoch: 5, wantNew: true},
		{name: "KIP-360 epoch about to overflow: a new id", versions: []int16{3, 4}, pid: 17, epoch: 32767, wantNew: true},
		{name: "producer id without epoch", versions: []int16{3, 4}, pid: 17, epoch: -1, wantCode: kerr.InvalidRequest.Code},
		{name: "epoch without producer id", versions: []int16{3, 4}, pid: -1, epoch: 3, wantCode: kerr.InvalidRequest.Code},
		{name: "transactional id: transactions are not served here", versions: []int16{0, 4}, txnID: &txn, pid: -1, epoch: -1, wantCode: kerr.UnsupportedVersion.Code},
		{name: "no block from ZooKeeper: retriable", versions: []int16{0, 4}, pid: -1, epoch: -1, idsErr: errors.New("zk down"), wantCode: kerr.CoordinatorLoadInProgress.Code},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTestBroker(t)
			ids := &countingIDs{next: 4000, err: tt.idsErr}
			b.h.ProducerIDs = ids
			seen := map[int64]bool{}
			for _, v := range tt.versions {
				req := kmsg.NewPtrInitProducerIDRequest()
				req.TransactionalID = tt.txnID
				req.TransactionTimeoutMillis = 60000
				req.ProducerID, req.ProducerEpoch = tt.pid, tt.epoch
				resp := b.do(clientListener, v, req).(*kmsg.InitProducerIDResponse)
				if resp.ErrorCode != tt.wantCode {
					t.Fatalf("v%d: error %s, want %s", v, codeName(resp.ErrorCode), codeName(tt.wantCode))
				}
				if !tt.wantNew {
					if resp.ProducerID != -1 || resp.ProducerEpoch != -1 {
						t.Fatalf("v%d: error answer carries id %d epoch %d, want -1/-1", v, resp.ProducerID, resp.ProducerEpoch)
					}
					continue
				}
				if resp.ProducerID < 4000 || seen[resp.ProducerID] || resp.ProducerID == tt.pid || resp.ProducerEpoch != 0 {
					t.Fatalf("v%d: id %d epoch %d, want a fresh id (seen %v) with epoch 0", v, resp.ProducerID, resp.ProducerEpoch, seen)
				}
				seen[resp.ProducerID] = true
			}
		})
	}
}

// idemBatch is makeBatch for producer pid at epoch and first sequence seq.
func idemBatch(pid int64, epoch int16, seq int32, values ...string) []byte {
	raw := makeBatch(batchOpts{producerID: pid}, values...)
	binary.BigEndian.PutUint16(raw[51:], uint16(epoch))
	binary.BigEndian.PutUint32(raw[53:], uint32(seq))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

// An idempotent producer end to end through the handlers: a producer id
// from InitProducerId, then Produce with its sequence rules.
func TestProduceIdempotent(t *testing.T) {
	b := newTestBroker(t)
	b.h.ProducerIDs = &countingIDs{next: 4000}
	b.addTopic("t", testBrokerID)
	init := b.do(clientListener, 4, kmsg.NewPtrInitProducerIDRequest()).(*kmsg.InitProducerIDResponse)
	if init.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %s", codeName(init.ErrorCode))
	}
	pid, epoch := init.ProducerID, init.ProducerEpoch
	steps := []struct {
		name     string
		batch    []byte
		wantCode int16
		wantBase int64
	}{
		{"first batch", idemBatch(pid, epoch, 0, "a", "b"), 0, 0},
		{"second batch", idemBatch(pid, epoch, 2, "c"), 0, 2},
		{"resend of the first: original offset", idemBatch(pid, epoch, 0, "a", "b"), 0, 0},
		{"resend of the second", idemBatch(pid, epoch, 2, "c"), 0, 2},
		{"gap", idemBatch(pid, epoch, 5, "d"), kerr.OutOfOrderSequenceNumber.Code, -1},
		{"older epoch", idemBatch(pid, epoch-1, 3, "d"), kerr.InvalidProducerEpoch.Code, -1},
		{"next in sequence", idemBatch(pid, epoch, 3, "d"), 0, 3},
	}
	for _, s := range steps {
		p := b.produceReq(9, -1, "t", 0, s.batch).Topics[0].Partitions[0]
		if p.ErrorCode != s.wantCode || p.BaseOffset != s.wantBase {
			t.Fatalf("%s: %s at %d, want %s at %d", s.name, codeName(p.ErrorCode), p.BaseOffset, codeName(s.wantCode), s.wantBase)
		}
		if s.wantCode != 0 && (p.ErrorMessage == nil || *p.ErrorMessage == "") {
			t.Fatalf("%s: no error message", s.name)
		}
	}
	if leo := b.logs.Get("t", 0).LogEndOffset(); leo != 4 {
		t.Fatalf("log end offset %d, want 4 (resends not written)", leo)
	}
}
