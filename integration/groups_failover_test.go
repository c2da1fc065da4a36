package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// TestGroupCoordinatorFailover: three brokers, __consumer_offsets with
// replication factor 3. The broker coordinating a sarama group is killed
// with SIGKILL: the group re-forms on the new leader of its offsets
// partition, which loaded the offsets, so no committed offset goes back and
// every message is consumed.
func TestGroupCoordinatorFailover(t *testing.T) {
	c := newCluster(t, opts{Brokers: 3, Overrides: map[string]string{"offsets.topic.num.partitions": "10"}})
	const topic, groupID = "failover-group-topic", "failover-group"
	createTopic(t, c, c.Admin(t, nil), topic, 6, 3)
	sink := newGroupSink()
	var members []*saramaMember
	for i := 0; i < 3; i++ {
		members = append(members, startSaramaMember(t, c, groupConfig(c, sarama.OffsetOldest), groupID, topic, fmt.Sprintf("m%d", i), sink))
	}
	gen := waitAssignment(t, members, 6, 2, 2)
	vals := produceValues(t, c, topic, "before", 200)
	waitConsumed(t, sink, vals)
	var before map[int32]int64
	waitFor(t, 30*time.Second, func() error {
		before = committedOffsets(t, c, groupID, topic, 6)
		hw := highWatermarks(t, c, topic, 6)
		for p := int32(0); p < 6; p++ {
			if before[p] != hw[p] {
				return fmt.Errorf("partition %d committed %d of %d", p, before[p], hw[p])
			}
		}
		return nil
	})

	client := c.Client(t, nil)
	coord, err := client.Coordinator(groupID)
	if err != nil {
		t.Fatalf("coordinator of %s: %v", groupID, err)
	}
	victim := int(coord.ID())
	t.Logf("killing coordinator broker %d (generation %d)", victim, gen)
	c.KillBroker(victim)

	more := produceValues(t, c, topic, "after", 200)
	waitConsumed(t, sink, more)
	waitAssignment(t, members, 6, 2, 2)
	after := committedOffsets(t, c, groupID, topic, 6)
	for p := int32(0); p < 6; p++ {
		if after[p] < before[p] {
			t.Fatalf("partition %d: committed offset went back from %d to %d after the failover", p, before[p], after[p])
		}
	}
	client2 := c.Client(t, nil)
	if err := client2.RefreshCoordinator(groupID); err != nil {
		t.Fatal(err)
	}
	if nc, err := client2.Coordinator(groupID); err != nil || int(nc.ID()) == victim {
		t.Fatalf("coordinator after the kill: %v %v", nc, err)
	}
}
