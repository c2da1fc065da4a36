package coordinator

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/handlers"
	"github.com/gregor-broker/gregor/broker/metadata"
)

func createPartitionsReq(topic string, count int32, validateOnly bool, assignment ...[]int32) *kmsg.CreatePartitionsRequest {
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.ValidateOnly = validateOnly
	req.TimeoutMillis = 0 // no metadata cache here: answer at once
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = topic, count
	if assignment != nil {
		for _, rs := range assignment {
			a := kmsg.NewCreatePartitionsRequestTopicAssignment()
			a.Replicas = rs
			rt.Assignment = append(rt.Assignment, a)
		}
	}
	req.Topics = []kmsg.CreatePartitionsRequestTopic{rt}
	return req
}

func TestCreatePartitions(t *testing.T) {
	chroot := testChroot(t)
	b1 := startBroker(t, chroot, 1, true)
	startBroker(t, chroot, 2, false)
	startBroker(t, chroot, 3, false)
	waitActive(t, b1)
	zkc := b1.zk
	id := createTopic(t, zkc, "t", map[int32][]int32{0: {2, 3}, 1: {3, 1}}, nil)
	waitState(t, zkc, "t", 1, `{"controller_epoch":1,"leader":3,"version":1,"leader_epoch":0,"isr":[3,1]}`)

	admin := NewAdmin(zkc, testConfig(1), testLog(t))
	isController := true
	h := handlers.New(handlers.Deps{BrokerID: 1, Metadata: metadata.New(), Admin: admin, ClusterAdmin: admin,
		IsController: func() bool { return isController }, Log: testLog(t)})

	for _, tc := range []struct {
		name     string
		topic    string
		count    int32
		validate bool
		assign   [][]int32
		code     *kerr.Error
		message  string
	}{
		{name: "fewer", count: 1, code: kerr.InvalidPartitions, message: "Topic currently has 2 partitions, which is higher than the requested 1."},
		{name: "same", count: 2, code: kerr.InvalidPartitions, message: "Topic already has 2 partitions."},
		{name: "unknown topic", topic: "nope", count: 3, code: kerr.UnknownTopicOrPartition, message: "The topic 'nope' does not exist."},
		{name: "unknown broker", count: 3, assign: [][]int32{{1, 9}}, code: kerr.InvalidReplicaAssignment, message: "Unknown broker(s) in replica assignment: 9."},
		{name: "assignment count", count: 4, assign: [][]int32{{1, 2}}, code: kerr.InvalidReplicaAssignment, message: "Increasing the number of partitions by 2 but 1 assignments provided."},
		{name: "replication factor", count: 3, assign: [][]int32{{1}}, code: kerr.InvalidReplicaAssignment,
			message: "Inconsistent replication factor between partitions, partition 0 has 2 while partitions [2] have replication factors [1], respectively."},
		{name: "duplicate broker", count: 3, assign: [][]int32{{1, 1}}, code: kerr.InvalidReplicaAssignment, message: "Duplicate brokers not allowed in replica assignment: 1, 1 for partition id 2."},
		{name: "validate only", count: 5, validate: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := tc.topic
			if topic == "" {
				topic = "t"
			}
			for _, version := range []int16{0, 3} {
				r := call(t, h, version, createPartitionsReq(topic, tc.count, tc.validate, tc.assign...)).(*kmsg.CreatePartitionsResponse).Topics[0]
				want := int16(0)
				if tc.code != nil {
					want = tc.code.Code
				}
				if r.ErrorCode != want || (tc.message != "" && deref(r.ErrorMessage) != tc.message) {
					t.Fatalf("v%d: got %s %v, want %s %q", version, kerr.ErrorForCode(r.ErrorCode), deref(r.ErrorMessage), kerr.ErrorForCode(want), tc.message)
				}
			}
		})
	}
	if ta, _, _ := zkc.GetTopicAssignment("t"); len(ta.Partitions) != 2 {
		t.Fatalf("failed requests changed the assignment: %v", ta.Partitions)
	}

	// Kafka's algorithm from broker 2 (partition 0's first replica) for
	// partition 2, then an explicit partition 3. Without a metadata cache fed
	// by the controller the wait times out (timeout 0: at once, as Kafka).
	r := call(t, h, 2, createPartitionsReq("t", 3, false)).(*kmsg.CreatePartitionsResponse).Topics[0]
	if r.ErrorCode != kerr.RequestTimedOut.Code {
		t.Fatalf("add partition 2: %s %v", kerr.ErrorForCode(r.ErrorCode), deref(r.ErrorMessage))
	}
	r = call(t, h, 2, createPartitionsReq("t", 4, false, []int32{1, 2})).(*kmsg.CreatePartitionsResponse).Topics[0]
	if r.ErrorCode != kerr.RequestTimedOut.Code {
		t.Fatalf("add partition 3: %s %v", kerr.ErrorForCode(r.ErrorCode), deref(r.ErrorMessage))
	}
	ta, _, err := zkc.GetTopicAssignment("t")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(ta.Partitions); got != "map[0:[2 3] 1:[3 1] 2:[1 3] 3:[1 2]]" || ta.TopicID != id {
		t.Fatalf("assignment %s topic id %v, want partition 2 on [1 3] (Kafka's algorithm started at broker 2's index), 3 on [1 2], id kept", got, ta.TopicID)
	}
	// The controller's partition-modification watch creates them.
	waitState(t, zkc, "t", 2, `{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":0,"isr":[1,3]}`)
	waitState(t, zkc, "t", 3, `{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":0,"isr":[1,2]}`)

	isController = false
	r = call(t, h, 3, createPartitionsReq("t", 5, false)).(*kmsg.CreatePartitionsResponse).Topics[0]
	if r.ErrorCode != kerr.NotController.Code {
		t.Fatalf("not the controller: %s", kerr.ErrorForCode(r.ErrorCode))
	}
}
