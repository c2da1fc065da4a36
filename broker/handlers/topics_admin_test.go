package handlers

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func createTopicsRequest(timeoutMs int32, validateOnly bool, topics ...kmsg.CreateTopicsRequestTopic) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis, req.ValidateOnly, req.Topics = timeoutMs, validateOnly, topics
	return req
}

func newTopic(name string, partitions int32, rf int16) kmsg.CreateTopicsRequestTopic {
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = name, partitions, rf
	return t
}

func TestCreateTopics(t *testing.T) {
	for _, tc := range []struct {
		name       string
		version    int16
		controller bool
		noLeaders  bool
		timeout    int32
		validate   bool
		topics     []kmsg.CreateTopicsRequestTopic
		want       []*kerr.Error
		wantMsg    string
	}{
		{name: "created and waited", version: 7, controller: true, timeout: 10000, topics: []kmsg.CreateTopicsRequestTopic{newTopic("a", 3, 1)}, want: []*kerr.Error{nil}},
		{name: "created v0", version: 0, controller: true, timeout: 10000, topics: []kmsg.CreateTopicsRequestTopic{newTopic("a", 1, 1)}, want: []*kerr.Error{nil}},
		{name: "defaults", version: 5, controller: true, timeout: 10000, topics: []kmsg.CreateTopicsRequestTopic{newTopic("a", -1, -1)}, want: []*kerr.Error{nil}},
		{name: "no wait", version: 4, controller: true, timeout: 0, noLeaders: true, topics: []kmsg.CreateTopicsRequestTopic{newTopic("a", 1, 1)}, want: []*kerr.Error{nil}},
		{name: "not controller", version: 7, controller: false, timeout: 1000, topics: []kmsg.CreateTopicsRequestTopic{newTopic("a", 1, 1), newTopic("b", 1, 1)}, want: []*kerr.Error{kerr.NotController, kerr.NotController}},
		{name: "timed out", version: 3, controller: true, noLeaders: true, timeout: 100, topics: []kmsg.CreateTopicsRequestTopic{newTopic("a", 1, 1)}, want: []*kerr.Error{kerr.RequestTimedOut}},
		{name: "validate only", version: 1, controller: true, validate: true, noLeaders: true, timeout: 10000, topics: []kmsg.CreateTopicsRequestTopic{newTopic("a", 1, 1)}, want: []*kerr.Error{nil}},
		{name: "duplicate", version: 2, controller: true, timeout: 10000, topics: []kmsg.CreateTopicsRequestTopic{newTopic("a", 1, 1), newTopic("a", 1, 1), newTopic("b", 1, 1)}, want: []*kerr.Error{kerr.InvalidRequest, kerr.InvalidRequest, nil}},
		{name: "invalid name", version: 7, controller: true, timeout: 1000, topics: []kmsg.CreateTopicsRequestTopic{newTopic("a/b", 1, 1)}, want: []*kerr.Error{kerr.InvalidTopicException}},
		{name: "rf above brokers", version: 7, controller: true, timeout: 1000, topics: []kmsg.CreateTopicsRequestTopic{newTopic("a", 1, 2)}, want: []*kerr.Error{kerr.InvalidReplicationFactor}, wantMsg: "Replication factor: 2 larger than available brokers: 1."},
		{name: "zero partitions", version: 7, controller: true, timeout: 1000, topics: []kmsg.CreateTopicsRequestTopic{newTopic("a", 0, 1)}, want: []*kerr.Error{kerr.InvalidPartitions}},
		{name: "exists", version: 7, controller: true, timeout: 1000, topics: []kmsg.CreateTopicsRequestTopic{newTopic("existing", 1, 1)}, want: []*kerr.Error{kerr.TopicAlreadyExists}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newTestBroker(t)
			b.addTopic("existing", testBrokerID)
			b.setController(tc.controller)
			b.admin.noLeaders = tc.noLeaders
			resp := b.do(clientListener, tc.version, createTopicsRequest(tc.timeout, tc.validate, tc.topics...)).(*kmsg.CreateTopicsResponse)
			if len(resp.Topics) != len(tc.want) {
				t.Fatalf("%d topics in the response", len(resp.Topics))
			}
			for i, rt := range resp.Topics {
				want := int16(0)
				if tc.want[i] != nil {
					want = tc.want[i].Code
				}
				if rt.Topic != tc.topics[i].Topic || rt.ErrorCode != want {
					t.Fatalf("topic %d %q: got %s, want %s", i, rt.Topic, codeName(rt.ErrorCode), codeName(want))
				}
				if tc.wantMsg != "" && (rt.ErrorMessage == nil || *rt.ErrorMessage != tc.wantMsg) {
					t.Fatalf("message %v, want %q", rt.ErrorMessage, tc.wantMsg)
				}
				if want != 0 || tc.validate || tc.timeout == 0 {
					continue
				}
				snap := b.cache.Snapshot()
				topic, ok := snap.Topic(rt.Topic)
				if !ok || !snap.HasLiveLeaders(rt.Topic, 0) {
					t.Fatalf("%s answered before its leaders exist", rt.Topic)
				}
				if tc.version >= 5 {
					wantN, wantRF := tc.topics[i].NumPartitions, tc.topics[i].ReplicationFactor
					if wantN == -1 {
						wantN, wantRF = 2, 1
					}
					if rt.NumPartitions != wantN || rt.ReplicationFactor != wantRF {
						t.Fatalf("shape %d/%d, want %d/%d", rt.NumPartitions, rt.ReplicationFactor, wantN, wantRF)
					}
				}
				if tc.version >= 7 && rt.TopicID != topic.ID {
					t.Fatalf("topic id %x, want %x", rt.TopicID, topic.ID)
				}
			}
			if tc.validate {
				if c := b.admin.createdTopics(); len(c) != 1 || !c[0].ValidateOnly {
					t.Fatalf("admin calls %+v", c)
				}
				if _, ok := b.cache.Snapshot().Topic("a"); ok {
					t.Fatal("validate_only created the topic")
				}
			}
		})
	}
}

func TestDeleteTopics(t *testing.T) {
	req := func(version int16, timeoutMs int32, names ...string) *kmsg.DeleteTopicsRequest {
		r := kmsg.NewPtrDeleteTopicsRequest()
		r.TimeoutMillis = timeoutMs
		for _, n := range names {
			r.TopicNames = append(r.TopicNames, n)
			dt := kmsg.NewDeleteTopicsRequestTopic()
			dt.Topic = kmsg.StringPtr(n)
			r.Topics = append(r.Topics, dt)
		}
		return r
	}
	for _, version := range []int16{0, 1, 4, 5, 6} {
		t.Run("v"+string(rune('0'+version)), func(t *testing.T) {
			t.Parallel()
			b := newTestBroker(t)
			b.addTopic("a", testBrokerID, testBrokerID)
			b.produce("a", 0, makeBatch(batchOpts{}, "x"))

			b.setController(false)
			resp := b.do(clientListener, version, req(version, 1000, "a")).(*kmsg.DeleteTopicsResponse)
			if resp.Topics[0].ErrorCode != kerr.NotController.Code {
				t.Fatalf("not controller: %s", codeName(resp.Topics[0].ErrorCode))
			}
			b.setController(true)

			resp = b.do(clientListener, version, req(version, 10000, "a", "nope")).(*kmsg.DeleteTopicsResponse)
			if got := resp.Topics[0]; got.ErrorCode != 0 || *got.Topic != "a" {
				t.Fatalf("delete a: %s", codeName(got.ErrorCode))
			}
			if got := resp.Topics[1]; got.ErrorCode != kerr.UnknownTopicOrPartition.Code {
				t.Fatalf("delete nope: %s", codeName(got.ErrorCode))
			}
			if _, ok := b.cache.Snapshot().Topic("a"); ok {
				t.Fatal("answered before the topic left the metadata cache")
			}
			if b.logs.Get("a", 0) != nil || b.logs.Get("a", 1) != nil {
				t.Fatal("logs still there")
			}
		})
	}

	t.Run("by topic id", func(t *testing.T) {
		b := newTestBroker(t)
		id := b.addTopic("a", testBrokerID)
		r := kmsg.NewPtrDeleteTopicsRequest()
		r.TimeoutMillis = 10000
		byID, unknown, both := kmsg.NewDeleteTopicsRequestTopic(), kmsg.NewDeleteTopicsRequestTopic(), kmsg.NewDeleteTopicsRequestTopic()
		byID.TopicID, unknown.TopicID = id, [16]byte{1, 2, 3}
		both.Topic, both.TopicID = kmsg.StringPtr("a"), id
		r.Topics = []kmsg.DeleteTopicsRequestTopic{byID, unknown, both}
		resp := b.do(clientListener, 6, r).(*kmsg.DeleteTopicsResponse)
		if got := resp.Topics[0]; got.ErrorCode != 0 || got.Topic == nil || *got.Topic != "a" || got.TopicID != id {
			t.Fatalf("by id: %s %+v", codeName(got.ErrorCode), got)
		}
		if got := resp.Topics[1]; got.ErrorCode != kerr.UnknownTopicID.Code {
			t.Fatalf("unknown id: %s", codeName(got.ErrorCode))
		}
		if got := resp.Topics[2]; got.ErrorCode != kerr.InvalidRequest.Code {
			t.Fatalf("both: %s", codeName(got.ErrorCode))
		}
	})

	t.Run("timed out", func(t *testing.T) {
		b := newTestBroker(t)
		b.addTopic("a", testBrokerID)
		b.admin.noDelete = true
		resp := b.do(clientListener, 4, req(4, 100, "a")).(*kmsg.DeleteTopicsResponse)
		if got := resp.Topics[0]; got.ErrorCode != kerr.RequestTimedOut.Code {
			t.Fatalf("got %s", codeName(got.ErrorCode))
		}
	})
}
