package handlers

import (
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestMetadataOfflineReplicas: what the controller's UpdateMetadata says
// after a broker failure reaches clients: an offline partition (leader -1,
// the ISR keeping its last member) answers LEADER_NOT_AVAILABLE with leader
// -1; an online one lists the dead follower as an offline replica (v5+)
// and, from v1 on, keeps it in the replica list without an error.
func TestMetadataOfflineReplicas(t *testing.T) {
	b := newTestBroker(t)
	um := kmsg.NewUpdateMetadataRequestTopicState()
	um.Topic, um.TopicID = "rep", [16]byte{0x42}
	for _, s := range []struct {
		p, leader int32
		isr       []int32
	}{{0, -1, []int32{2}}, {1, testBrokerID, []int32{testBrokerID}}} {
		ps := kmsg.NewUpdateMetadataRequestTopicPartition()
		ps.Partition, ps.ControllerEpoch, ps.Leader, ps.LeaderEpoch, ps.ZKVersion = s.p, 1, s.leader, 3, 4
		ps.ISR, ps.Replicas, ps.OfflineReplicas = s.isr, []int32{testBrokerID, 2}, []int32{2}
		um.PartitionStates = append(um.PartitionStates, ps)
	}
	b.updateMetadata([]kmsg.UpdateMetadataRequestTopicState{um})

	tests := []struct {
		version  int16
		p        int32
		leader   int32
		code     int16
		replicas []int32
		isr      []int32
		offline  []int32
	}{
		{9, 0, -1, kerr.LeaderNotAvailable.Code, []int32{1, 2}, []int32{2}, []int32{2}},
		{9, 1, 1, 0, []int32{1, 2}, []int32{1}, []int32{2}},
		{5, 1, 1, 0, []int32{1, 2}, []int32{1}, []int32{2}},
		{1, 1, 1, 0, []int32{1, 2}, []int32{1}, nil}, // no offline replicas before v5
		{0, 1, 1, kerr.ReplicaNotAvailable.Code, []int32{1}, []int32{1}, nil},
	}
	for _, tc := range tests {
		resp := b.do(clientListener, tc.version, metadataRequest("rep")).(*kmsg.MetadataResponse)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 2 {
			t.Fatalf("v%d: %+v", tc.version, resp.Topics)
		}
		p := resp.Topics[0].Partitions[tc.p]
		if p.Leader != tc.leader || p.ErrorCode != tc.code || !reflect.DeepEqual(p.Replicas, tc.replicas) ||
			!reflect.DeepEqual(p.ISR, tc.isr) || !reflect.DeepEqual(p.OfflineReplicas, tc.offline) {
			t.Errorf("v%d p%d: leader %d %s replicas %v isr %v offline %v", tc.version, tc.p, p.Leader, codeName(p.ErrorCode), p.Replicas, p.ISR, p.OfflineReplicas)
		}
		if tc.version >= 7 && p.LeaderEpoch != 3 {
			t.Errorf("v%d p%d: leader epoch %d", tc.version, tc.p, p.LeaderEpoch)
		}
	}
}
