package handlers

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func metadataRequest(topics ...string) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = true
	if topics == nil {
		req.Topics = nil
		return req
	}
	req.Topics = []kmsg.MetadataRequestTopic{}
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	return req
}

func TestMetadata(t *testing.T) {
	b := newTestBroker(t)
	id := b.addTopic("orders", testBrokerID, testBrokerID, 2)
	for _, v := range []int16{0, 1, 4, 7, 9, 10, 12} {
		t.Run("v"+string(rune('0'+v/10))+string(rune('0'+v%10)), func(t *testing.T) {
			req := metadataRequest("orders")
			resp := b.do(clientListener, v, req).(*kmsg.MetadataResponse)
			if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != 1 || resp.Brokers[0].Port != 9092 || resp.Brokers[0].Host != "127.0.0.1" {
				t.Fatalf("brokers %+v", resp.Brokers)
			}
			if v >= 1 {
				if resp.ControllerID != 1 {
					t.Errorf("controller %d", resp.ControllerID)
				}
				if resp.Brokers[0].Rack == nil || *resp.Brokers[0].Rack != "rack-a" {
					t.Errorf("rack %v", resp.Brokers[0].Rack)
				}
			}
			if v >= 2 && (resp.ClusterID == nil || *resp.ClusterID != testClusterID) {
				t.Errorf("cluster id %v", resp.ClusterID)
			}
			if len(resp.Topics) != 1 {
				t.Fatalf("topics %+v", resp.Topics)
			}
			mt := resp.Topics[0]
			if mt.ErrorCode != 0 || *mt.Topic != "orders" || len(mt.Partitions) != 3 {
				t.Fatalf("topic %s %v %d partitions", codeName(mt.ErrorCode), *mt.Topic, len(mt.Partitions))
			}
			if v >= 10 && mt.TopicID != id {
				t.Errorf("topic id %x, want %x", mt.TopicID, id)
			}
			for i, p := range mt.Partitions {
				if p.Partition != int32(i) {
					t.Fatalf("partition order %+v", mt.Partitions)
				}
			}
			if p := mt.Partitions[0]; p.Leader != 1 || p.ErrorCode != 0 || len(p.ISR) != 1 {
				t.Errorf("partition 0 %+v", p)
			}
			// Partition 2's leader (broker 2) is not live.
			if p := mt.Partitions[2]; p.Leader != -1 || p.ErrorCode != kerr.LeaderNotAvailable.Code {
				t.Errorf("partition 2 %+v", p)
			}
		})
	}

	t.Run("all topics", func(t *testing.T) {
		for _, v := range []int16{0, 1, 9} {
			req := metadataRequest()
			if v == 0 {
				req.Topics = []kmsg.MetadataRequestTopic{}
			}
			resp := b.do(clientListener, v, req).(*kmsg.MetadataResponse)
			if len(resp.Topics) != 1 || *resp.Topics[0].Topic != "orders" {
				t.Fatalf("v%d topics %+v", v, resp.Topics)
			}
		}
		// v1+ empty list: no topics.
		req := metadataRequest()
		req.Topics = []kmsg.MetadataRequestTopic{}
		if resp := b.do(clientListener, 4, req).(*kmsg.MetadataResponse); len(resp.Topics) != 0 {
			t.Fatalf("empty list gave %d topics", len(resp.Topics))
		}
	})

	t.Run("by topic id", func(t *testing.T) {
		req := kmsg.NewPtrMetadataRequest()
		known, unknown := kmsg.NewMetadataRequestTopic(), kmsg.NewMetadataRequestTopic()
		known.TopicID, unknown.TopicID = id, [16]byte{9, 9}
		req.Topics = []kmsg.MetadataRequestTopic{known, unknown}
		resp := b.do(clientListener, 12, req).(*kmsg.MetadataResponse)
		if resp.Topics[0].ErrorCode != 0 || *resp.Topics[0].Topic != "orders" {
			t.Fatalf("known id: %s", codeName(resp.Topics[0].ErrorCode))
		}
		if resp.Topics[1].ErrorCode != kerr.UnknownTopicID.Code {
			t.Fatalf("unknown id: %s", codeName(resp.Topics[1].ErrorCode))
		}
	})

	t.Run("other listener", func(t *testing.T) {
		resp := b.do(controlListener, 9, metadataRequest("orders")).(*kmsg.MetadataResponse)
		if len(resp.Brokers) != 1 || resp.Brokers[0].Port != 9093 {
			t.Fatalf("brokers %+v", resp.Brokers)
		}
		resp = b.do("NOSUCH", 9, metadataRequest("orders")).(*kmsg.MetadataResponse)
		if len(resp.Brokers) != 0 || resp.Topics[0].Partitions[0].ErrorCode != kerr.ListenerNotFound.Code {
			t.Fatalf("brokers %+v, partition %s", resp.Brokers, codeName(resp.Topics[0].Partitions[0].ErrorCode))
		}
	})
}

func TestMetadataAutoCreate(t *testing.T) {
	for _, tc := range []struct {
		name      string
		version   int16
		topic     string
		enabled   bool
		allow     bool
		want      *kerr.Error
		wantAdmin bool
	}{
		{name: "created", version: 9, topic: "new", enabled: true, allow: true, want: kerr.LeaderNotAvailable, wantAdmin: true},
		{name: "created v0", version: 0, topic: "new", enabled: true, want: kerr.LeaderNotAvailable, wantAdmin: true},
		{name: "client disallows", version: 9, topic: "new", enabled: true, allow: false, want: kerr.UnknownTopicOrPartition},
		{name: "broker disallows", version: 9, topic: "new", enabled: false, allow: true, want: kerr.UnknownTopicOrPartition},
		{name: "slash", version: 9, topic: "a/b", enabled: true, allow: true, want: kerr.InvalidTopicException},
		{name: "dot dot", version: 9, topic: "..", enabled: true, allow: true, want: kerr.InvalidTopicException},
		{name: "nul", version: 9, topic: "a\x00b", enabled: true, allow: true, want: kerr.InvalidTopicException},
		{name: "250 chars", version: 9, topic: strings.Repeat("x", 250), enabled: true, allow: true, want: kerr.InvalidTopicException},
		{name: "slash, auto-create off", version: 9, topic: "a/b", enabled: false, allow: true, want: kerr.InvalidTopicException},
		{name: "internal", version: 9, topic: "__consumer_offsets", enabled: true, allow: true, want: kerr.UnknownTopicOrPartition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newTestBroker(t, withConfig(func(c *Config) { c.AutoCreateTopicsEnable = tc.enabled }))
			req := metadataRequest(tc.topic)
			req.AllowAutoTopicCreation = tc.allow
			resp := b.do(clientListener, tc.version, req).(*kmsg.MetadataResponse)
			if got := resp.Topics[0].ErrorCode; got != tc.want.Code {
				t.Fatalf("got %s, want %s", codeName(got), tc.want.Message)
			}
			created := b.admin.createdTopics()
			if tc.wantAdmin != (len(created) == 1) {
				t.Fatalf("admin calls %+v", created)
			}
			if !tc.wantAdmin {
				return
			}
			if c := created[0]; c.Name != tc.topic || c.NumPartitions != 2 || c.ReplicationFactor != 1 {
				t.Fatalf("created %+v", c)
			}
			// Once the controller has acted, the topic has leaders.
			deadline := time.Now().Add(10 * time.Second)
			for {
				resp := b.do(clientListener, tc.version, metadataRequest(tc.topic)).(*kmsg.MetadataResponse)
				mt := resp.Topics[0]
				if mt.ErrorCode == 0 && len(mt.Partitions) == 2 && mt.Partitions[0].Leader == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no leaders: %s", codeName(mt.ErrorCode))
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}
