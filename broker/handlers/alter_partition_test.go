package handlers

import (
	"context"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// answeringController stands in for coordinator.Controller (whose
// decisions are tested against a real ZooKeeper in coordinator/): it
// records what reaches it and accepts every proposal.
type answeringController struct {
	mu   sync.Mutex
	seen []*kmsg.AlterPartitionRequest
}

func (c *answeringController) AlterPartition(_ context.Context, req *kmsg.AlterPartitionRequest) *kmsg.AlterPartitionResponse {
	c.mu.Lock()
	c.seen = append(c.seen, req)
	c.mu.Unlock()
	resp := req.ResponseKind().(*kmsg.AlterPartitionResponse)
	for _, rt := range req.Topics {
		t := kmsg.NewAlterPartitionResponseTopic()
		t.Topic, t.TopidID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			p := kmsg.NewAlterPartitionResponseTopicPartition()
			p.Partition, p.LeaderID, p.LeaderEpoch, p.ISR, p.PartitionEpoch = rp.Partition, req.BrokerID, rp.LeaderEpoch, rp.NewISR, rp.PartitionEpoch+1
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

func (c *answeringController) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// TestAlterPartitionHandler: only the inter-broker listener of the active
// controller hands AlterPartition to the controller; every served version
// round-trips.
func TestAlterPartitionHandler(t *testing.T) {
	b := newTestBroker(t)
	ctl := &answeringController{}
	b.h.Controller = ctl
	req := func() *kmsg.AlterPartitionRequest {
		r := kmsg.NewPtrAlterPartitionRequest()
		r.BrokerID, r.BrokerEpoch = 2, 77
		rt := kmsg.NewAlterPartitionRequestTopic()
		rt.Topic, rt.TopicID = "t", [16]byte{7}
		rp := kmsg.NewAlterPartitionRequestTopicPartition()
		rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch, rp.NewISR = 3, 4, 5, []int32{2, 1}
		rt.Partitions = []kmsg.AlterPartitionRequestTopicPartition{rp}
		r.Topics = []kmsg.AlterPartitionRequestTopic{rt}
		return r
	}
	tests := []struct {
		name       string
		listener   string
		controller bool
		version    int16
		top        int16
		reaches    bool
	}{
		{"client listener", clientListener, true, 1, kerr.ClusterAuthorizationFailed.Code, false},
		{"not the controller", controlListener, false, 1, kerr.NotController.Code, false},
		{"v0", controlListener, true, 0, 0, true},
		{"v1", controlListener, true, 1, 0, true},
		{"v2", controlListener, true, 2, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b.setController(tc.controller)
			before := ctl.count()
			resp := b.do(tc.listener, tc.version, req()).(*kmsg.AlterPartitionResponse)
			if resp.ErrorCode != tc.top {
				t.Fatalf("error %s, want %s", codeName(resp.ErrorCode), codeName(tc.top))
			}
			if reached := ctl.count() > before; reached != tc.reaches {
				t.Fatalf("reached the controller: %v", reached)
			}
			if !tc.reaches {
				return
			}
			p := resp.Topics[0].Partitions[0]
			if p.Partition != 3 || p.PartitionEpoch != 6 || len(p.ISR) != 2 || p.LeaderID != 2 {
				t.Fatalf("answer %+v", p)
			}
			if tc.version >= 2 && resp.Topics[0].TopidID != [16]byte{7} || tc.version < 2 && resp.Topics[0].Topic != "t" {
				t.Fatalf("topic %+v", resp.Topics[0])
			}
		})
	}
	b.h.Controller = nil
	b.setController(true)
	if resp := b.do(controlListener, 1, req()).(*kmsg.AlterPartitionResponse); resp.ErrorCode != kerr.NotController.Code {
		t.Fatalf("without a controller module: %s", codeName(resp.ErrorCode))
	}
}
