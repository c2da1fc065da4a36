package metadata

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func update(controllerEpoch int32, topic string, id [16]byte, leaders map[int32]int32) *kmsg.UpdateMetadataRequest {
	req := kmsg.NewPtrUpdateMetadataRequest()
	req.SetVersion(8)
	req.ControllerID, req.ControllerEpoch = 1, controllerEpoch
	lb := kmsg.NewUpdateMetadataRequestLiveBroker()
	lb.ID = 1
	ep := kmsg.NewUpdateMetadataRequestLiveBrokerEndpoint()
	ep.Host, ep.Port, ep.ListenerName = "h", 9092, "PLAINTEXT"
	lb.Endpoints = []kmsg.UpdateMetadataRequestLiveBrokerEndpoint{ep}
	req.LiveBrokers = []kmsg.UpdateMetadataRequestLiveBroker{lb}
	if topic != "" {
		ts := kmsg.NewUpdateMetadataRequestTopicState()
		ts.Topic, ts.TopicID = topic, id
		for p, l := range leaders {
			ps := kmsg.NewUpdateMetadataRequestTopicPartition()
			ps.Partition, ps.Leader, ps.LeaderEpoch, ps.ISR, ps.Replicas = p, l, 3, []int32{l}, []int32{l}
			ts.PartitionStates = append(ts.PartitionStates, ps)
		}
		req.TopicStates = []kmsg.UpdateMetadataRequestTopicState{ts}
	}
	return req
}

func TestCacheUpdate(t *testing.T) {
	c := New()
	if s := c.Snapshot(); s.ControllerID != -1 || len(s.Brokers) != 0 {
		t.Fatalf("empty cache %+v", s)
	}
	id := [16]byte{1}
	c.Update(update(1, "a", id, map[int32]int32{0: 1, 1: 1}))
	before := c.Snapshot()
	c.Update(update(1, "b", [16]byte{2}, map[int32]int32{0: 1}))
	s := c.Snapshot()
	if len(s.Topics) != 2 || s.Topics["a"] != before.Topics["a"] {
		t.Fatalf("merge: %+v (untouched topics are shared)", s.Topics)
	}
	if leader, epoch, ok := s.Leader("a", 1); !ok || leader != 1 || epoch != 3 {
		t.Fatalf("leader %d %d %v", leader, epoch, ok)
	}
	if t2, ok := s.TopicByID(id); !ok || t2.Name != "a" {
		t.Fatal("topic by id")
	}
	if ep, ok := s.Endpoint(1, "PLAINTEXT"); !ok || ep.Port != 9092 {
		t.Fatalf("endpoint %+v", ep)
	}
	if !s.HasLiveLeaders("a", 2) || s.HasLiveLeaders("a", 3) {
		t.Fatal("HasLiveLeaders")
	}
	// Leader -2 deletes; a topic without partitions disappears.
	deleted := c.Update(update(1, "a", [16]byte{}, map[int32]int32{0: LeaderDuringDelete}))
	if len(deleted) != 1 {
		t.Fatalf("deleted %v", deleted)
	}
	if _, ok := c.Snapshot().Partition("a", 0); ok {
		t.Fatal("a-0 still there")
	}
	c.Update(update(1, "a", [16]byte{}, map[int32]int32{1: LeaderDuringDelete}))
	if _, ok := c.Snapshot().Topic("a"); ok {
		t.Fatal("a still there")
	}
	if _, ok := c.Snapshot().TopicByID(id); ok {
		t.Fatal("a's id still there")
	}
	// The old snapshot is unchanged.
	if len(before.Topics["a"].Partitions) != 2 {
		t.Fatal("snapshot mutated")
	}
}

func TestCacheWait(t *testing.T) {
	c := New()
	done := make(chan error, 1)
	go func() {
		done <- c.Wait(context.Background(), func(s *Snapshot) bool { return s.HasLiveLeaders("a", 1) })
	}()
	c.Update(update(1, "", [16]byte{}, nil))
	c.Update(update(1, "a", [16]byte{1}, map[int32]int32{0: 1}))
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait not woken")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := c.Wait(ctx, func(*Snapshot) bool { return false }); err == nil {
		t.Fatal("Wait ignored its context")
	}
}

func TestCacheUpdateV0(t *testing.T) {
	c := New()
	req := kmsg.NewPtrUpdateMetadataRequest()
	req.SetVersion(0)
	lb := kmsg.NewUpdateMetadataRequestLiveBroker()
	lb.ID, lb.Host, lb.Port = 3, "h", 9092
	req.LiveBrokers = []kmsg.UpdateMetadataRequestLiveBroker{lb}
	ps := kmsg.NewUpdateMetadataRequestTopicPartition()
	ps.Topic, ps.Leader = "t", 3
	req.PartitionStates = []kmsg.UpdateMetadataRequestTopicPartition{ps}
	c.Update(req)
	if ep, ok := c.Snapshot().Endpoint(3, "PLAINTEXT"); !ok || ep.Host != "h" {
		t.Fatalf("v0 endpoint %+v", ep)
	}
	if _, ok := c.Snapshot().Partition("t", 0); !ok {
		t.Fatal("v0 partition state")
	}
}
