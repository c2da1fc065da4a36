package handlers

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/storage"
)

func deleteRecordsRequest(topic string, partition int32, offset int64, timeoutMs int32) *kmsg.DeleteRecordsRequest {
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.TimeoutMillis = timeoutMs
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = partition, offset
	rt.Partitions = []kmsg.DeleteRecordsRequestTopicPartition{rp}
	req.Topics = []kmsg.DeleteRecordsRequestTopic{rt}
	return req
}

func listEarliest(b *testBroker, topic string) int64 {
	b.t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = -2
	rt.Partitions = []kmsg.ListOffsetsRequestTopicPartition{rp}
	req.Topics = []kmsg.ListOffsetsRequestTopic{rt}
	resp := b.do(clientListener, 4, req).(*kmsg.ListOffsetsResponse)
	return resp.Topics[0].Partitions[0].Offset
}

func TestDeleteRecords(t *testing.T) {
	b := newTestBroker(t, withLogConfig(func(lc *storage.LogConfig) { lc.SegmentBytes = 200 }))
	b.addTopic("t", testBrokerID)
	b.addTopic("elsewhere", 2)
	for i := 0; i < 10; i++ {
		if p := b.produce("t", 0, makeBatch(batchOpts{}, fmt.Sprintf("v%d", i))); p.ErrorCode != 0 {
			t.Fatalf("produce: %s", codeName(p.ErrorCode))
		}
	}
	segsBefore := b.logs.Get("t", 0).NumSegments()
	for _, tc := range []struct {
		name     string
		version  int16
		topic    string
		offset   int64
		wantCode *kerr.Error
		wantLow  int64
	}{
		{name: "beyond the high watermark", version: 0, topic: "t", offset: 11, wantCode: kerr.OffsetOutOfRange, wantLow: -1},
		{name: "negative", version: 1, topic: "t", offset: -5, wantCode: kerr.OffsetOutOfRange, wantLow: -1},
		{name: "move to 4", version: 2, topic: "t", offset: 4, wantLow: 4},
		{name: "backwards is a no-op", version: 2, topic: "t", offset: 2, wantLow: 4},
		{name: "to the high watermark", version: 1, topic: "t", offset: -1, wantLow: 10},
		{name: "unknown topic", version: 2, topic: "nope", offset: 1, wantCode: kerr.UnknownTopicOrPartition, wantLow: -1},
		{name: "not the leader", version: 2, topic: "elsewhere", offset: 1, wantCode: kerr.NotLeaderForPartition, wantLow: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := b.do(clientListener, tc.version, deleteRecordsRequest(tc.topic, 0, tc.offset, 5000)).(*kmsg.DeleteRecordsResponse)
			p := resp.Topics[0].Partitions[0]
			want := int16(0)
			if tc.wantCode != nil {
				want = tc.wantCode.Code
			}
			if p.ErrorCode != want || p.LowWatermark != tc.wantLow {
				t.Fatalf("got %s low %d, want %s low %d", codeName(p.ErrorCode), p.LowWatermark, codeName(want), tc.wantLow)
			}
		})
	}
	if got := listEarliest(b, "t"); got != 10 {
		t.Fatalf("ListOffsets earliest %d, want 10", got)
	}
	if after := b.logs.Get("t", 0).NumSegments(); after >= segsBefore {
		t.Fatalf("segments %d -> %d: none deleted", segsBefore, after)
	}
}

func TestDeleteRecordsPolicyViolation(t *testing.T) {
	b := newTestBroker(t, withLogConfig(func(lc *storage.LogConfig) { lc.CleanupPolicy = "compact" }))
	b.addTopic("c", testBrokerID)
	resp := b.do(clientListener, 2, deleteRecordsRequest("c", 0, 0, 1000)).(*kmsg.DeleteRecordsResponse)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.PolicyViolation.Code {
		t.Fatalf("got %s, want POLICY_VIOLATION", codeName(code))
	}
}

func TestDescribeLogDirs(t *testing.T) {
	b := newTestBroker(t)
	b.addTopic("a", testBrokerID, testBrokerID)
	b.addTopic("b", testBrokerID)
	if p := b.produce("a", 1, makeBatch(batchOpts{}, "x", "y")); p.ErrorCode != 0 {
		t.Fatalf("produce: %s", codeName(p.ErrorCode))
	}
	for _, version := range []int16{0, 1, 2, 3, 4} {
		for _, tc := range []struct {
			name  string
			want  []kmsg.DescribeLogDirsRequestTopic
			parts map[string]int
		}{
			{name: "all", parts: map[string]int{"a": 2, "b": 1}},
			{name: "one partition", want: []kmsg.DescribeLogDirsRequestTopic{{Topic: "a", Partitions: []int32{1}}}, parts: map[string]int{"a": 1}},
		} {
			t.Run(fmt.Sprintf("%s/v%d", tc.name, version), func(t *testing.T) {
				req := kmsg.NewPtrDescribeLogDirsRequest()
				req.Topics = tc.want
				resp := b.do(clientListener, version, req).(*kmsg.DescribeLogDirsResponse)
				if len(resp.Dirs) != 1 {
					t.Fatalf("dirs %+v, want one", resp.Dirs)
				}
				d := resp.Dirs[0]
				got := map[string]int{}
				var sizeA1 int64 = -1
				for _, dt := range d.Topics {
					got[dt.Topic] = len(dt.Partitions)
					for _, p := range dt.Partitions {
						if dt.Topic == "a" && p.Partition == 1 {
							sizeA1 = p.Size
						}
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(tc.parts) {
					t.Fatalf("partitions %v, want %v", got, tc.parts)
				}
				if sizeA1 <= 0 {
					t.Fatalf("size of a-1 %d, want > 0", sizeA1)
				}
				if version >= 4 && (d.TotalBytes <= 0 || d.UsableBytes <= 0) {
					t.Fatalf("total %d usable %d", d.TotalBytes, d.UsableBytes)
				}
			})
		}
	}
}

func TestDescribeCluster(t *testing.T) {
	b := newTestBroker(t)
	for _, version := range []int16{0, 1} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			resp := b.do(clientListener, version, kmsg.NewPtrDescribeClusterRequest()).(*kmsg.DescribeClusterResponse)
			if resp.ErrorCode != 0 || resp.ClusterID != testClusterID || resp.ControllerID != testBrokerID {
				t.Fatalf("got %s cluster %q controller %d", codeName(resp.ErrorCode), resp.ClusterID, resp.ControllerID)
			}
			if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != testBrokerID || resp.Brokers[0].Port != 9092 {
				t.Fatalf("brokers %+v, want broker 1 on the client listener's port 9092", resp.Brokers)
			}
		})
	}
	req := kmsg.NewPtrDescribeClusterRequest()
	req.EndpointType = 2
	resp := b.do(clientListener, 1, req).(*kmsg.DescribeClusterResponse)
	if resp.ErrorCode != kerr.UnsupportedEndpointType.Code {
		t.Fatalf("controller endpoints: got %s", codeName(resp.ErrorCode))
	}
}
