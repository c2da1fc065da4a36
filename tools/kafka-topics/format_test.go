package main

import (
	"strings"
	"testing"
)

// seedTopic is the seed's three-broker topic: 5 partitions, RF 3.
func seedTopic() topicDesc {
	return topicDesc{Name: "test-tatum-service-2", ID: "6snkWGs0SOiJ_Zx8I71LWw", MinISR: 2, Partitions: []partitionDesc{
		{4, 2, []int32{2, 0, 1}, []int32{2, 0, 1}},
		{0, 0, []int32{0, 2, 1}, []int32{0, 2, 1}},
		{1, 2, []int32{2, 1, 0}, []int32{2, 1}},
		{2, -1, []int32{1, 0, 2}, []int32{1}},
		{3, 0, []int32{0, 1, 2}, []int32{0, 1, 2}},
	}}
}

func TestWriteDescribe(t *testing.T) {
	live := map[int32]bool{0: true, 2: true}
	cases := []struct {
		name string
		f    describeFilter
		want string
	}{
		{"all", describeFilter{liveBrokers: live},
			"Topic: test-tatum-service-2\tTopicId: 6snkWGs0SOiJ_Zx8I71LWw\tPartitionCount: 5\tReplicationFactor: 3\tConfigs: min.insync.replicas=2\n" +
				"\tTopic: test-tatum-service-2\tPartition: 0\tLeader: 0\tReplicas: 0,2,1\tIsr: 0,2,1\n" +
				"\tTopic: test-tatum-service-2\tPartition: 1\tLeader: 2\tReplicas: 2,1,0\tIsr: 2,1\n" +
				"\tTopic: test-tatum-service-2\tPartition: 2\tLeader: none\tReplicas: 1,0,2\tIsr: 1\n" +
				"\tTopic: test-tatum-service-2\tPartition: 3\tLeader: 0\tReplicas: 0,1,2\tIsr: 0,1,2\n" +
				"\tTopic: test-tatum-service-2\tPartition: 4\tLeader: 2\tReplicas: 2,0,1\tIsr: 2,0,1\n"},
		{"under-replicated", describeFilter{underReplicated: true, liveBrokers: live},
			"\tTopic: test-tatum-service-2\tPartition: 1\tLeader: 2\tReplicas: 2,1,0\tIsr: 2,1\n" +
				"\tTopic: test-tatum-service-2\tPartition: 2\tLeader: none\tReplicas: 1,0,2\tIsr: 1\n"},
		{"unavailable", describeFilter{unavailable: true, liveBrokers: map[int32]bool{0: true}},
			"\tTopic: test-tatum-service-2\tPartition: 1\tLeader: 2\tReplicas: 2,1,0\tIsr: 2,1\n" +
				"\tTopic: test-tatum-service-2\tPartition: 2\tLeader: none\tReplicas: 1,0,2\tIsr: 1\n" +
				"\tTopic: test-tatum-service-2\tPartition: 4\tLeader: 2\tReplicas: 2,0,1\tIsr: 2,0,1\n"},
		{"under-min-isr", describeFilter{underMinIsr: true, liveBrokers: live},
			"\tTopic: test-tatum-service-2\tPartition: 2\tLeader: none\tReplicas: 1,0,2\tIsr: 1\n"},
		{"at-min-isr", describeFilter{atMinIsr: true, liveBrokers: live},
			"\tTopic: test-tatum-service-2\tPartition: 1\tLeader: 2\tReplicas: 2,1,0\tIsr: 2,1\n"},
		{"with overrides", describeFilter{withOverrides: true, liveBrokers: live},
			"Topic: test-tatum-service-2\tTopicId: 6snkWGs0SOiJ_Zx8I71LWw\tPartitionCount: 5\tReplicationFactor: 3\tConfigs: min.insync.replicas=2\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			td := seedTopic()
			td.Configs = []configEntry{{Name: "min.insync.replicas", Value: "2"}, {Name: "segment.bytes", Value: "1073741824", Default: true}}
			var b strings.Builder
			writeDescribe(&b, []topicDesc{td}, tc.f)
			if b.String() != tc.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tc.want)
			}
		})
	}
}

func TestSelectTopics(t *testing.T) {
	all := []string{"b", "__consumer_offsets", "a.b", "axb", "c"}
	cases := []struct {
		name     string
		include  string
		has, exc bool
		want     string
	}{
		{"all", "", false, false, "__consumer_offsets,a.b,axb,b,c"},
		{"exclude internal", "", false, true, "a.b,axb,b,c"},
		{"regex is anchored", "a", true, false, ""},
		{"regex", "a.b", true, false, "a.b,axb"},
		{"comma is or", "b,c", true, false, "b,c"},
		{"quoted", `"a\.b"`, true, false, "a.b"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := selectTopics(append([]string(nil), all...), tc.include, tc.has, tc.exc)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ",") != tc.want {
				t.Errorf("got %v, want %s", got, tc.want)
			}
		})
	}
}

func TestParseReplicaAssignment(t *testing.T) {
	got, err := parseReplicaAssignment("0:1, 1:2 ,2:0")
	if err != nil || len(got) != 3 || got[1][0] != 1 || got[1][1] != 2 {
		t.Fatalf("got %v, %v", got, err)
	}
	for in, want := range map[string]string{
		"0:0":   "Partition replica lists may not contain duplicate entries: 0",
		"0:1,2": "Partition 1 has different replication factor: [2]",
		"0:x":   `For input string: "x"`,
	} {
		if _, err := parseReplicaAssignment(in); err == nil || err.Error() != want {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}
