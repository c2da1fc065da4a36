package handlers

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeProducers shows each idempotent producer that wrote to a
// partition hosted here with its epoch and last sequence, and answers
// NOT_LEADER_OR_FOLLOWER / UNKNOWN_TOPIC_OR_PARTITION like Kafka for the
// partitions it does not host.
func TestDescribeProducers(t *testing.T) {
	b := newTestBroker(t)
	// "t": partition 0 led here, partition 1 hosted only by another broker.
	b.addTopic("t", testBrokerID, testBrokerID+1)
	b.addTopic("quiet", testBrokerID)
	for _, s := range []struct {
		pid   int64
		epoch int16
		seq   int32
		vals  []string
	}{
		{7001, 0, 0, []string{"a", "b", "c"}},
		{7000, 2, 0, []string{"d"}},
		{7001, 0, 3, []string{"e", "f"}},
		{7001, 0, 3, []string{"e", "f"}}, // a resend: no change
	} {
		if p := b.produceReq(9, -1, "t", 0, idemBatch(s.pid, s.epoch, s.seq, s.vals...)).Topics[0].Partitions[0]; p.ErrorCode != 0 {
			t.Fatalf("produce %d/%d: %s", s.pid, s.seq, codeName(p.ErrorCode))
		}
	}
	// A plain (non-idempotent) producer is no active producer.
	if p := b.produce("quiet", 0, makeBatch(batchOpts{}, "x")); p.ErrorCode != 0 {
		t.Fatalf("produce quiet: %s", codeName(p.ErrorCode))
	}

	type producer struct {
		pid          int64
		epoch        int32
		lastSeq      int32
		coord        int32
		txnStart     int64
		hasTimestamp bool
	}
	tests := []struct {
		name      string
		topic     string
		partition int32
		wantCode  int16
		want      []producer
	}{
		{"leader", "t", 0, 0, []producer{{7000, 2, 0, -1, -1, true}, {7001, 0, 4, -1, -1, true}}},
		{"no idempotent producer", "quiet", 0, 0, []producer{}},
		{"not hosted here", "t", 1, kerr.NotLeaderForPartition.Code, nil},
		{"unknown partition", "t", 9, kerr.UnknownTopicOrPartition.Code, nil},
		{"unknown topic", "nope", 0, kerr.UnknownTopicOrPartition.Code, nil},
	}
	req := kmsg.NewPtrDescribeProducersRequest()
	for _, tc := range tests {
		rt := kmsg.NewDescribeProducersRequestTopic()
		rt.Topic, rt.Partitions = tc.topic, []int32{tc.partition}
		req.Topics = append(req.Topics, rt)
	}
	resp := b.do(clientListener, 0, req).(*kmsg.DescribeProducersResponse)
	if len(resp.Topics) != len(tests) {
		t.Fatalf("%d topics in the response, want %d", len(resp.Topics), len(tests))
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt := resp.Topics[i]
			if rt.Topic != tc.topic || len(rt.Partitions) != 1 || rt.Partitions[0].Partition != tc.partition {
				t.Fatalf("response %+v, want %s-%d", rt, tc.topic, tc.partition)
			}
			p := rt.Partitions[0]
			if p.ErrorCode != tc.wantCode {
				t.Fatalf("error %s, want %s", codeName(p.ErrorCode), codeName(tc.wantCode))
			}
			var got []producer
			for _, ap := range p.ActiveProducers {
				got = append(got, producer{ap.ProducerID, ap.ProducerEpoch, ap.LastSequence, ap.CoordinatorEpoch, ap.CurrentTxnStartOffset, ap.LastTimestamp > 0})
			}
			if len(got) != len(tc.want) {
				t.Fatalf("producers %+v, want %+v", got, tc.want)
			}
			for k := range got {
				if got[k] != tc.want[k] {
					t.Fatalf("producers %+v, want %+v", got, tc.want)
				}
			}
		})
	}
}
