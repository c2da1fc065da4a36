package handlers

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/storage"
)

func TestProduceFetchRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name             string
		produceV, fetchV int16
	}{
		{"sarama V0_11", 3, 5},
		{"sarama V2_1", 7, 10},
		{"sarama V2_8", 9, 12},
		{"franz-go", 11, 12},
		{"fetch v4", 5, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newTestBroker(t)
			b.addTopic("orders", testBrokerID)
			var want []string
			for i := 0; i < 3; i++ {
				vals := []string{strings.Repeat("a", i+1), strings.Repeat("b", i+1)}
				want = append(want, vals...)
				resp := b.produceReq(tc.produceV, 1, "orders", 0, makeBatch(batchOpts{}, vals...))
				p := resp.Topics[0].Partitions[0]
				if p.ErrorCode != 0 {
					t.Fatalf("produce: %s", codeName(p.ErrorCode))
				}
				if p.BaseOffset != int64(2*i) {
					t.Fatalf("base offset %d, want %d", p.BaseOffset, 2*i)
				}
				if tc.produceV >= 5 && p.LogStartOffset != 0 {
					t.Fatalf("log start offset %d", p.LogStartOffset)
				}
			}
			p := b.fetch(tc.fetchV, fetchRequest("orders", 0, 0, 0, 1))
			if p.ErrorCode != 0 {
				t.Fatalf("fetch: %s", codeName(p.ErrorCode))
			}
			if p.HighWatermark != 6 || p.LastStableOffset != 6 {
				t.Fatalf("hw %d lso %d, want 6", p.HighWatermark, p.LastStableOffset)
			}
			if got := readValues(t, p.RecordBatches); !slices.Equal(got, want) {
				t.Fatalf("values %q, want %q", got, want)
			}
			// From the middle: the batch containing offset 3 starts at 2.
			p = b.fetch(tc.fetchV, fetchRequest("orders", 0, 3, 0, 1))
			if got := readValues(t, p.RecordBatches); !slices.Equal(got, want[2:]) {
				t.Fatalf("values from 3 %q, want %q", got, want[2:])
			}
		})
	}
}

func TestProduceErrors(t *testing.T) {
	good := func() []byte { return makeBatch(batchOpts{}, "v") }
	for _, tc := range []struct {
		name    string
		version int16
		acks    int16
		topic   string
		records func() []byte
		txn     bool
		want    *kerr.Error
	}{
		{name: "acks=2", acks: 2, records: good, want: kerr.InvalidRequiredAcks},
		{name: "acks=-2", acks: -2, records: good, want: kerr.InvalidRequiredAcks},
		{name: "bad crc", acks: 1, records: func() []byte {
			b := good()
			b[len(b)-1] ^= 0xff
			return b
		}, want: kerr.CorruptMessage},
		{name: "base offset not 0", acks: 1, records: func() []byte {
			b := good() // the CRC does not cover the base offset
			binary.BigEndian.PutUint64(b[0:], 5)
			return b
		}, want: kerr.InvalidRecord},
		{name: "two batches", acks: 1, records: func() []byte { return append(good(), good()...) }, want: kerr.InvalidRecord},
		{name: "magic 1", acks: 1, records: func() []byte {
			b := good()
			b[16] = 1
			return b
		}, want: kerr.InvalidRecord},
		{name: "no records", acks: 1, records: func() []byte { return nil }, want: kerr.InvalidRecord},
		{name: "too large", acks: 1, records: func() []byte {
			return makeBatch(batchOpts{}, strings.Repeat("x", 4096))
		}, want: kerr.MessageTooLarge},
		{name: "zstd before v7", version: 5, acks: 1, records: func() []byte {
			return makeBatch(batchOpts{attributes: 4}, "v")
		}, want: kerr.UnsupportedCompressionType},
		{name: "codec 7", acks: 1, records: func() []byte {
			return makeBatch(batchOpts{attributes: 7}, "v")
		}, want: kerr.UnsupportedCompressionType},
		{name: "client log append time", acks: 1, records: func() []byte {
			return makeBatch(batchOpts{attributes: 8}, "v")
		}, want: kerr.InvalidTimestamp},
		{name: "control bit", acks: 1, records: func() []byte {
			return makeBatch(batchOpts{attributes: 32}, "v")
		}, want: kerr.InvalidRecord},
		{name: "unknown topic", acks: 1, topic: "nope", records: good, want: kerr.UnknownTopicOrPartition},
		{name: "partition led elsewhere", acks: 1, topic: "elsewhere", records: good, want: kerr.NotLeaderForPartition},
		{name: "transactional", acks: -1, txn: true, records: good, want: kerr.InvalidTxnState},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newTestBroker(t, withLogConfig(func(lc *storage.LogConfig) { lc.MaxMessageBytes = 1024 }))
			b.addTopic("t", testBrokerID)
			b.addTopic("elsewhere", 2)
			topic := tc.topic
			if topic == "" {
				topic = "t"
			}
			version := tc.version
			if version == 0 {
				version = 9
			}
			req := produceRequest(tc.acks, topic, 0, tc.records())
			if tc.txn {
				id := "txn-1"
				req.TransactionID = &id
			}
			resp := b.do(clientListener, version, req).(*kmsg.ProduceResponse)
			p := resp.Topics[0].Partitions[0]
			if p.ErrorCode != tc.want.Code {
				t.Fatalf("got %s, want %s", codeName(p.ErrorCode), tc.want.Message)
			}
			if p.BaseOffset != -1 {
				t.Errorf("base offset %d on error", p.BaseOffset)
			}
			// The connection stays usable: a good batch still appends.
			if ok := b.produce("t", 0, good()); ok.ErrorCode != 0 || ok.BaseOffset != 0 {
				t.Fatalf("after the bad request: %s at %d", codeName(ok.ErrorCode), ok.BaseOffset)
			}
		})
	}
}

func TestProduceNotLeaderCarriesCurrentLeader(t *testing.T) {
	b := newTestBroker(t)
	b.addTopic("elsewhere", 2)
	p := b.produceReq(10, 1, "elsewhere", 0, makeBatch(batchOpts{}, "v")).Topics[0].Partitions[0]
	if p.ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Fatalf("got %s", codeName(p.ErrorCode))
	}
	// Broker 2 is not live in the cache, so no current leader is known.
	if p.CurrentLeader.LeaderID != -1 {
		t.Fatalf("current leader %+v", p.CurrentLeader)
	}
}

func TestProduceAcks(t *testing.T) {
	b := newTestBroker(t)
	b.addTopic("t", testBrokerID)

	t.Run("acks=0 sends nothing", func(t *testing.T) {
		req := produceRequest(0, "t", 0, makeBatch(batchOpts{}, "a"))
		resp, err := b.doCtx(t.Context(), clientListener, 9, req)
		if err != nil || resp != nil {
			t.Fatalf("got %v, %v; want nil, nil", resp, err)
		}
	})
	t.Run("acks=0 with a bad batch closes the connection", func(t *testing.T) {
		bad := makeBatch(batchOpts{}, "a")
		bad[len(bad)-1] ^= 1
		resp, err := b.doCtx(t.Context(), clientListener, 9, produceRequest(0, "t", 0, bad))
		if err == nil || resp != nil {
			t.Fatalf("got %v, %v; want nil, error", resp, err)
		}
	})
	t.Run("acks=-1 with ISR of one completes at once", func(t *testing.T) {
		p := b.produceReq(9, -1, "t", 0, makeBatch(batchOpts{}, "b")).Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.BaseOffset != 1 {
			t.Fatalf("got %s at %d", codeName(p.ErrorCode), p.BaseOffset)
		}
	})
	t.Run("acks=1", func(t *testing.T) {
		p := b.produceReq(3, 1, "t", 0, makeBatch(batchOpts{}, "c")).Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.BaseOffset != 2 {
			t.Fatalf("got %s at %d", codeName(p.ErrorCode), p.BaseOffset)
		}
	})
	t.Run("idempotent batch stored", func(t *testing.T) {
		p := b.produceReq(9, -1, "t", 0, makeBatch(batchOpts{producerID: 7}, "d")).Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.BaseOffset != 3 {
			t.Fatalf("got %s at %d", codeName(p.ErrorCode), p.BaseOffset)
		}
	})
}

func TestValidateProduceRecords(t *testing.T) {
	good := makeBatch(batchOpts{}, "v")
	for _, tc := range []struct {
		name    string
		records []byte
		want    int16
	}{
		{"good", good, 0},
		{"short", good[:10], kerr.InvalidRecord.Code},
		{"header cut", good[:40], kerr.CorruptMessage.Code},
		{"length below header", func() []byte {
			b := slices.Clone(good)
			binary.BigEndian.PutUint32(b[8:], 3)
			return b
		}(), kerr.CorruptMessage.Code},
		{"negative length", func() []byte {
			b := slices.Clone(good)
			binary.BigEndian.PutUint32(b[8:], 0xffffffff)
			return b
		}(), kerr.CorruptMessage.Code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := validateProduceRecords(9, tc.records)
			got := int16(0)
			if err != nil {
				got = kerr.UnknownServerError.Code
				var h Handlers
				got = h.errorCode(err)
			}
			if got != tc.want {
				t.Fatalf("got %s, want %s", codeName(got), codeName(tc.want))
			}
		})
	}
}
