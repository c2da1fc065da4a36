package handlers

import (
	"os"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func leaderAndIsr(controllerEpoch int32, brokerEpoch int64, topic string, leaderEpoch int32) *kmsg.LeaderAndISRRequest {
	req := kmsg.NewPtrLeaderAndISRRequest()
	req.ControllerID, req.ControllerEpoch, req.BrokerEpoch = 1, controllerEpoch, brokerEpoch
	ts := kmsg.NewLeaderAndISRRequestTopicState()
	ts.Topic, ts.TopicID = topic, [16]byte{0xEE}
	ps := kmsg.NewLeaderAndISRRequestTopicPartition()
	ps.Topic = topic // v0–1
	ps.ControllerEpoch, ps.Leader, ps.LeaderEpoch, ps.ISR, ps.Replicas, ps.ZKVersion = controllerEpoch, 1, leaderEpoch, []int32{1}, []int32{1}, leaderEpoch
	ts.PartitionStates = []kmsg.LeaderAndISRRequestTopicPartition{ps}
	req.TopicStates = []kmsg.LeaderAndISRRequestTopicState{ts}
	req.PartitionStates = []kmsg.LeaderAndISRRequestTopicPartition{ps}
	return req
}

func leaderAndIsrCodes(resp *kmsg.LeaderAndISRResponse) []int16 {
	var out []int16
	for _, p := range resp.Partitions {
		out = append(out, p.ErrorCode)
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out = append(out, p.ErrorCode)
		}
	}
	return out
}

func TestControlAPIsOnlyOnInterBrokerListener(t *testing.T) {
	b := newTestBroker(t)
	b.addTopic("t", testBrokerID)
	for _, tc := range []struct {
		name    string
		version int16
		req     kmsg.Request
		code    func(kmsg.Response) int16
	}{
		{"LeaderAndIsr", 7, leaderAndIsr(1, -1, "x", 0), func(r kmsg.Response) int16 { return r.(*kmsg.LeaderAndISRResponse).ErrorCode }},
		{"UpdateMetadata", 8, func() kmsg.Request {
			r := kmsg.NewPtrUpdateMetadataRequest()
			r.ControllerEpoch, r.BrokerEpoch = 1, -1
			return r
		}(), func(r kmsg.Response) int16 { return r.(*kmsg.UpdateMetadataResponse).ErrorCode }},
		{"StopReplica", 4, func() kmsg.Request {
			r := kmsg.NewPtrStopReplicaRequest()
			r.ControllerEpoch, r.BrokerEpoch = 1, -1
			st := kmsg.NewStopReplicaRequestTopic()
			st.Topic = "t"
			ps := kmsg.NewStopReplicaRequestTopicPartitionState()
			ps.LeaderEpoch, ps.Delete = -2, true
			st.PartitionStates = []kmsg.StopReplicaRequestTopicPartitionState{ps}
			r.Topics = []kmsg.StopReplicaRequestTopic{st}
			return r
		}(), func(r kmsg.Response) int16 { return r.(*kmsg.StopReplicaResponse).ErrorCode }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := b.do(clientListener, tc.version, tc.req)
			if got := tc.code(resp); got != kerr.ClusterAuthorizationFailed.Code {
				t.Fatalf("got %s, want CLUSTER_AUTHORIZATION_FAILED", codeName(got))
			}
		})
	}
	// Nothing was applied: the topic still exists and its log is there.
	if p := b.produce("t", 0, makeBatch(batchOpts{}, "still here")); p.ErrorCode != 0 {
		t.Fatalf("after forged control requests: %s", codeName(p.ErrorCode))
	}
	if snap := b.cache.Snapshot(); snap.ControllerID != 1 || len(snap.Brokers) != 1 {
		t.Fatalf("forged UpdateMetadata changed the cache: %+v", snap)
	}
}

func TestControlEpochs(t *testing.T) {
	for _, version := range []int16{1, 4, 7} {
		t.Run("LeaderAndIsr v"+string(rune('0'+version)), func(t *testing.T) {
			b := newTestBroker(t) // controller epoch 1 seen, broker epoch 100
			codes := leaderAndIsrCodes(b.do(controlListener, version, leaderAndIsr(5, -1, "x", 0)).(*kmsg.LeaderAndISRResponse))
			if len(codes) != 1 || codes[0] != 0 {
				t.Fatalf("first: %v", codes)
			}
			// Same leader epoch again: per-partition STALE_CONTROLLER_EPOCH.
			codes = leaderAndIsrCodes(b.do(controlListener, version, leaderAndIsr(5, -1, "x", 0)).(*kmsg.LeaderAndISRResponse))
			if codes[0] != kerr.StaleControllerEpoch.Code {
				t.Fatalf("same epoch: %s", codeName(codes[0]))
			}
			// An older controller epoch fails the whole request.
			resp := b.do(controlListener, version, leaderAndIsr(4, -1, "x", 1)).(*kmsg.LeaderAndISRResponse)
			if resp.ErrorCode != kerr.StaleControllerEpoch.Code || leaderAndIsrCodes(resp)[0] != kerr.StaleControllerEpoch.Code {
				t.Fatalf("stale controller: %s", codeName(resp.ErrorCode))
			}
			if version >= 2 {
				resp := b.do(controlListener, version, leaderAndIsr(5, 99, "x", 1)).(*kmsg.LeaderAndISRResponse)
				if resp.ErrorCode != kerr.StaleBrokerEpoch.Code {
					t.Fatalf("stale broker epoch: %s", codeName(resp.ErrorCode))
				}
				// A newer broker epoch is accepted (KIP-380).
				resp = b.do(controlListener, version, leaderAndIsr(5, 101, "x", 1)).(*kmsg.LeaderAndISRResponse)
				if resp.ErrorCode != 0 || leaderAndIsrCodes(resp)[0] != 0 {
					t.Fatalf("newer broker epoch: %s", codeName(resp.ErrorCode))
				}
			}
			if p := b.replicas.Partition("x", 0); p == nil || !p.State().IsLeader {
				t.Fatal("x-0 not led")
			}
		})
	}

	t.Run("UpdateMetadata", func(t *testing.T) {
		b := newTestBroker(t)
		for _, tc := range []struct {
			name            string
			version         int16
			controllerEpoch int32
			brokerEpoch     int64
			want            *kerr.Error
		}{
			{"newer controller", 8, 3, 100, nil},
			{"stale controller v8", 8, 2, 100, kerr.StaleControllerEpoch},
			{"stale controller v0", 0, 2, -1, kerr.StaleControllerEpoch},
			{"stale broker epoch", 5, 3, 50, kerr.StaleBrokerEpoch},
			{"broker epoch skipped", 5, 3, -1, nil},
			{"v3", 3, 3, -1, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req := kmsg.NewPtrUpdateMetadataRequest()
				req.ControllerID, req.ControllerEpoch, req.BrokerEpoch = 1, tc.controllerEpoch, tc.brokerEpoch
				req.LiveBrokers = liveBrokers()
				if tc.version == 0 {
					req.LiveBrokers[0].Host, req.LiveBrokers[0].Port = "127.0.0.1", 9092
				}
				resp := b.do(controlListener, tc.version, req).(*kmsg.UpdateMetadataResponse)
				want := int16(0)
				if tc.want != nil {
					want = tc.want.Code
				}
				if resp.ErrorCode != want {
					t.Fatalf("got %s, want %s", codeName(resp.ErrorCode), codeName(want))
				}
			})
		}
	})
}

func TestStopReplica(t *testing.T) {
	b := newTestBroker(t)
	b.addTopic("t", testBrokerID, testBrokerID)
	b.produce("t", 0, makeBatch(batchOpts{}, "a"))
	dir := b.logs.Get("t", 0).Dir()

	stop := func(version int16, controllerEpoch int32, partition, leaderEpoch int32, del bool) *kmsg.StopReplicaResponse {
		req := kmsg.NewPtrStopReplicaRequest()
		req.ControllerID, req.ControllerEpoch, req.BrokerEpoch = 1, controllerEpoch, -1
		req.DeletePartitions = del
		st := kmsg.NewStopReplicaRequestTopic()
		st.Topic, st.Partition, st.Partitions = "t", partition, []int32{partition}
		ps := kmsg.NewStopReplicaRequestTopicPartitionState()
		ps.Partition, ps.LeaderEpoch, ps.Delete = partition, leaderEpoch, del
		st.PartitionStates = []kmsg.StopReplicaRequestTopicPartitionState{ps}
		req.Topics = []kmsg.StopReplicaRequestTopic{st}
		return b.do(controlListener, version, req).(*kmsg.StopReplicaResponse)
	}
	b.addTopic("t", testBrokerID, testBrokerID) // leader epoch 1
	if resp := stop(4, 1, 0, 0, true); resp.Partitions[0].ErrorCode != kerr.FencedLeaderEpoch.Code {
		t.Fatalf("older leader epoch: %s", codeName(resp.Partitions[0].ErrorCode))
	}
	if resp := stop(4, 0, 0, -2, true); resp.ErrorCode != kerr.StaleControllerEpoch.Code {
		t.Fatalf("stale controller: %s", codeName(resp.ErrorCode))
	}
	if resp := stop(4, 1, 0, -2, true); resp.ErrorCode != 0 || resp.Partitions[0].ErrorCode != 0 {
		t.Fatalf("delete: %s / %s", codeName(resp.ErrorCode), codeName(resp.Partitions[0].ErrorCode))
	}
	if b.replicas.Partition("t", 0) != nil || b.logs.Get("t", 0) != nil {
		t.Fatal("t-0 still hosted after StopReplica with delete")
	}
	// The directory is removed, or renamed to <dir>.<uuid>-delete for
	// asynchronous removal as Kafka does.
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("log dir %s still there: %v", dir, err)
	}
	// Producing to the stopped partition: not hosted, known to the cache.
	if p := b.produce("t", 0, makeBatch(batchOpts{}, "b")); p.ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Fatalf("produce after stop: %s", codeName(p.ErrorCode))
	}
	// v0 without delete stops partition 1 and keeps its log.
	if resp := stop(0, 1, 1, -1, false); resp.Partitions[0].ErrorCode != 0 {
		t.Fatalf("v0: %s", codeName(resp.Partitions[0].ErrorCode))
	}
	if b.replicas.Partition("t", 1) != nil || b.logs.Get("t", 1) == nil {
		t.Fatal("v0 stop without delete")
	}
}
