package handlers

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/replica"
)

func offsetForLeaderEpochRequest(replicaID int32, topic string, partition, current, epoch int32) *kmsg.OffsetForLeaderEpochRequest {
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.ReplicaID = replicaID
	rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = partition, current, epoch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// TestOffsetForLeaderEpoch: every version answers the leader epoch cache's
// end offset, fences stale current epochs (v2+), and accepts a replica (v3+)
// only on the inter-broker listener.
func TestOffsetForLeaderEpoch(t *testing.T) {
	b := newTestBroker(t)
	b.addTopic("t", testBrokerID)
	for i := 0; i < 3; i++ {
		if p := b.produce("t", 0, makeBatch(batchOpts{}, "v")); p.ErrorCode != 0 {
			t.Fatalf("produce: %s", codeName(p.ErrorCode))
		}
	}
	// A new leader epoch (5) so that an older current epoch can be sent.
	st := b.replicas.Partition("t", 0).State()
	if _, err := b.replicas.BecomeLeaderOrFollower(b.controllerEpoch, []replica.LeaderAndIsrPartition{{Topic: "t", TopicID: st.TopicID,
		Leader: testBrokerID, LeaderEpoch: 5, PartitionEpoch: st.PartitionEpoch + 1, Replicas: st.Replicas, ISR: st.ISR}}); err != nil {
		t.Fatal(err)
	}
	epoch := b.replicas.Partition("t", 0).State().LeaderEpoch
	if epoch != 5 {
		t.Fatalf("leader epoch %d", epoch)
	}
	for _, tc := range []struct {
		name      string
		version   int16
		listener  string
		replicaID int32
		topic     string
		current   int32
		epoch     int32
		code      int16
		endEpoch  int32
		end       int64
	}{
		{"v0 latest epoch", 0, clientListener, -1, "t", -1, epoch, 0, -1, 3},
		{"v1 latest epoch", 1, clientListener, -1, "t", -1, epoch, 0, epoch, 3},
		{"v4 unknown newer epoch", 4, clientListener, -1, "t", epoch, epoch + 5, 0, -1, -1},
		{"v2 fenced current epoch", 2, clientListener, -1, "t", epoch - 1, epoch, kerr.FencedLeaderEpoch.Code, -1, -1},
		{"v2 unknown current epoch", 2, clientListener, -1, "t", epoch + 1, epoch, kerr.UnknownLeaderEpoch.Code, -1, -1},
		{"v3 replica on the inter-broker listener", 3, controlListener, 2, "t", epoch, epoch, 0, epoch, 3},
		{"v3 replica on a client listener", 3, clientListener, 2, "t", epoch, epoch, kerr.ClusterAuthorizationFailed.Code, -1, -1},
		{"unknown topic", 4, clientListener, -1, "nope", -1, 0, kerr.UnknownTopicOrPartition.Code, -1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := b.do(tc.listener, tc.version, offsetForLeaderEpochRequest(tc.replicaID, tc.topic, 0, tc.current, tc.epoch)).(*kmsg.OffsetForLeaderEpochResponse)
			p := resp.Topics[0].Partitions[0]
			if tc.version == 0 {
				p.LeaderEpoch = -1 // not on the wire before v1
			}
			if p.ErrorCode != tc.code || p.LeaderEpoch != tc.endEpoch || p.EndOffset != tc.end {
				t.Fatalf("got %s epoch %d end %d, want %s %d %d", codeName(p.ErrorCode), p.LeaderEpoch, p.EndOffset, codeName(tc.code), tc.endEpoch, tc.end)
			}
		})
	}
}

// TestReplicaFetchOnlyOnInterBrokerListener: a fetch with a replica id on a
// client listener is refused (it would read past the high watermark and
// move the ISR); on the inter-broker listener it is served.
func TestReplicaFetchOnlyOnInterBrokerListener(t *testing.T) {
	b := newTestBroker(t)
	b.addTopic("t", testBrokerID)
	if p := b.produce("t", 0, makeBatch(batchOpts{}, "v")); p.ErrorCode != 0 {
		t.Fatalf("produce: %s", codeName(p.ErrorCode))
	}
	for _, tc := range []struct {
		listener string
		code     int16
	}{
		{clientListener, kerr.TopicAuthorizationFailed.Code},
		{controlListener, 0},
	} {
		req := fetchRequest("t", 0, 0, 0, 1)
		req.ReplicaID = 2
		resp := b.do(tc.listener, 12, req).(*kmsg.FetchResponse)
		if p := resp.Topics[0].Partitions[0]; p.ErrorCode != tc.code {
			t.Fatalf("replica fetch on %s: %s, want %s", tc.listener, codeName(p.ErrorCode), codeName(tc.code))
		}
	}
}
