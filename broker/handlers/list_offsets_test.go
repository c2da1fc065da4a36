package handlers

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestListOffsets(t *testing.T) {
	b := newTestBroker(t)
	b.addTopic("t", testBrokerID)
	b.addTopic("elsewhere", 2)
	// Offsets 0-1 at ts base+1000-1001, 2-3 at base+2000-2001, 4-5 at
	// base+3000-3001.
	base := time.Now().UnixMilli() - 10000
	for _, ts := range []int64{1000, 2000, 3000} {
		if p := b.produce("t", 0, makeBatch(batchOpts{firstTimestamp: base + ts}, "a", "b")); p.ErrorCode != 0 {
			t.Fatalf("produce: %s", codeName(p.ErrorCode))
		}
	}
	for _, version := range []int16{1, 2, 4, 6} {
		for _, tc := range []struct {
			name       string
			topic      string
			ts         int64
			epoch      int32
			wantOffset int64
			wantTS     int64
			wantErr    *kerr.Error
		}{
			{name: "latest", ts: -1, epoch: -1, wantOffset: 6, wantTS: -1},
			{name: "earliest", ts: -2, epoch: -1, wantOffset: 0, wantTS: -1},
			{name: "by time exact", ts: base + 2000, epoch: -1, wantOffset: 2, wantTS: base + 2000},
			{name: "by time inside a batch", ts: base + 1001, epoch: -1, wantOffset: 1, wantTS: base + 1001},
			{name: "by time between", ts: base + 1500, epoch: -1, wantOffset: 2, wantTS: base + 2000},
			{name: "by time before all", ts: base + 0, epoch: -1, wantOffset: 0, wantTS: base + 1000},
			{name: "by time after all", ts: base + 9999, epoch: -1, wantOffset: -1, wantTS: -1},
			{name: "unknown topic", topic: "nope", ts: -1, epoch: -1, wantOffset: -1, wantTS: -1, wantErr: kerr.UnknownTopicOrPartition},
			{name: "not leader", topic: "elsewhere", ts: -1, epoch: -1, wantOffset: -1, wantTS: -1, wantErr: kerr.NotLeaderForPartition},
			{name: "current epoch", ts: -1, epoch: 0, wantOffset: 6, wantTS: -1},
			{name: "newer epoch", ts: -1, epoch: 3, wantOffset: -1, wantTS: -1, wantErr: kerr.UnknownLeaderEpoch},
		} {
			if tc.epoch >= 0 && version < 4 {
				continue
			}
			t.Run(tc.name+"/v"+string(rune('0'+version)), func(t *testing.T) {
				topic := tc.topic
				if topic == "" {
					topic = "t"
				}
				req := kmsg.NewPtrListOffsetsRequest()
				req.ReplicaID = -1
				rt := kmsg.NewListOffsetsRequestTopic()
				rt.Topic = topic
				rp := kmsg.NewListOffsetsRequestTopicPartition()
				rp.Timestamp, rp.CurrentLeaderEpoch = tc.ts, tc.epoch
				rt.Partitions = []kmsg.ListOffsetsRequestTopicPartition{rp}
				req.Topics = []kmsg.ListOffsetsRequestTopic{rt}
				p := b.do(clientListener, version, req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
				wantCode := int16(0)
				if tc.wantErr != nil {
					wantCode = tc.wantErr.Code
				}
				if p.ErrorCode != wantCode {
					t.Fatalf("got %s, want %s", codeName(p.ErrorCode), codeName(wantCode))
				}
				if p.Offset != tc.wantOffset || p.Timestamp != tc.wantTS {
					t.Fatalf("offset %d ts %d, want %d %d", p.Offset, p.Timestamp, tc.wantOffset, tc.wantTS)
				}
				if version >= 4 && tc.name == "latest" && p.LeaderEpoch != 0 {
					t.Fatalf("leader epoch %d", p.LeaderEpoch)
				}
			})
		}
	}
}
