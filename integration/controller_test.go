package integration

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// TestControllerFailover runs two brokers, kills -9 the controller's broker,
// and checks that the other one takes over: /controller names it,
// /controller_epoch grows by one, metadata shows it as controller, the
// partition it leads keeps serving produce and fetch, and the dead broker's
// partition has no leader. When the old broker returns it leads its
// partition again with all its acknowledged messages, and the controller
// stays where it is.
func TestControllerFailover(t *testing.T) {
	c := newCluster(t, opts{Brokers: 2})
	old, err := c.Controller()
	if err != nil {
		t.Fatal(err)
	}
	survivor := 1 - old
	epoch, err := c.ControllerEpoch()
	if err != nil {
		t.Fatal(err)
	}
	if epoch < 1 {
		t.Fatalf("/controller_epoch is %d after the first election, want >= 1", epoch)
	}

	// Partition 0 lives on the controller's broker, partition 1 on the other.
	const topic = "failover"
	admin := c.Admin(t, nil)
	err = admin.CreateTopic(topic, &sarama.TopicDetail{
		NumPartitions:     -1,
		ReplicationFactor: -1,
		ReplicaAssignment: map[int32][]int32{0: {int32(old)}, 1: {int32(survivor)}},
	}, false)
	if err != nil {
		t.Fatalf("CreateTopic with a replica assignment: %v", err)
	}
	waitTopicReady(t, c, topic, 2)
	assertLeader(t, c, topic, 0, old)
	assertLeader(t, c, topic, 1, survivor)
	admin.Close()

	cfg := c.SaramaConfig()
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	var before []message
	for i := 0; i < 40; i++ {
		before = append(before, message{Partition: int32(i % 2), Value: fmt.Sprintf("before-%d", i)})
	}
	acked := produce(t, c, cfg, topic, before)

	c.KillBroker(old)
	c.WaitFor(t, 30*time.Second, func() error {
		ctrl, err := c.Controller()
		if err != nil {
			return err
		}
		if ctrl != survivor {
			return fmt.Errorf("/controller names broker %d, want the survivor %d", ctrl, survivor)
		}
		return nil
	})
	if e, err := c.ControllerEpoch(); err != nil || e != epoch+1 {
		t.Errorf("/controller_epoch after one failover: %d (%v), want %d", e, err, epoch+1)
	}
	c.WaitReady(t) // only the survivor in /brokers/ids and in metadata, and it is the controller

	c.WaitFor(t, 30*time.Second, func() error {
		md, err := fetchMetadata(c, topic)
		if err != nil {
			return err
		}
		if md.ControllerID != int32(survivor) {
			return fmt.Errorf("metadata controller %d, want %d", md.ControllerID, survivor)
		}
		for _, p := range md.Topics[0].Partitions {
			if p.ID == 0 && p.Leader == int32(old) {
				return fmt.Errorf("metadata still names dead broker %d as leader of partition 0", old)
			}
		}
		return nil
	})
	assertLeader(t, c, topic, 1, survivor)
	state := partitionState(t, c, topic, 0)
	if state.Leader != -1 {
		t.Errorf("partition 0 state after its only replica died: %+v, want leader -1", state)
	}

	var after []message
	for i := 0; i < 20; i++ {
		after = append(after, message{Partition: 1, Value: fmt.Sprintf("after-%d", i)})
	}
	acked = append(acked, produce(t, c, cfg, topic, after)...)
	got := consumePartitions(t, c, topic, 1)
	want := byPartition(acked)
	checkExactly(t, want[1], map[int32][]record{1: got[1]})

	// The old controller's broker returns: it leads partition 0 again with
	// its data; the controller stays with the survivor.
	c.StartBroker(old)
	waitTopicReady(t, c, topic, 2)
	assertLeader(t, c, topic, 0, old)
	checkExactly(t, acked, consumeAll(t, c, nil, topic))
	if ctrl, err := c.Controller(); err != nil || ctrl != survivor {
		t.Errorf("/controller after the old controller returned: %d (%v), want %d", ctrl, err, survivor)
	}
}

// partitionStateJSON is /brokers/topics/<t>/partitions/<p>/state.
type partitionStateJSON struct {
	ControllerEpoch int   `json:"controller_epoch"`
	Leader          int   `json:"leader"`
	Version         int   `json:"version"`
	LeaderEpoch     int   `json:"leader_epoch"`
	ISR             []int `json:"isr"`
}

func partitionState(t testing.TB, c *Cluster, topic string, p int) partitionStateJSON {
	t.Helper()
	s, err := readPartitionState(c, topic, p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func readPartitionState(c *Cluster, topic string, p int) (partitionStateJSON, error) {
	var s partitionStateJSON
	zc, err := c.ZKConn()
	if err != nil {
		return s, err
	}
	path := fmt.Sprintf("/brokers/topics/%s/partitions/%d/state", topic, p)
	data, _, err := zc.Get(path)
	if err != nil {
		return s, fmt.Errorf("get %s: %w", path, err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("%s holds %q: %v", path, data, err)
	}
	return s, nil
}

// assertLeader waits until both the partition state znode and the metadata
// name broker as the leader of topic/p.
func assertLeader(t testing.TB, c *Cluster, topic string, p int32, broker int) {
	t.Helper()
	c.WaitFor(t, 30*time.Second, func() error {
		s, err := readPartitionState(c, topic, int(p))
		if err != nil {
			return err
		}
		if s.Leader != broker {
			return fmt.Errorf("state znode of %s/%d names leader %d, want %d", topic, p, s.Leader, broker)
		}
		md, err := fetchMetadata(c, topic)
		if err != nil {
			return err
		}
		for _, pm := range md.Topics[0].Partitions {
			if pm.ID == p {
				if pm.Leader != int32(broker) {
					return fmt.Errorf("metadata names leader %d of %s/%d, want %d", pm.Leader, topic, p, broker)
				}
				return nil
			}
		}
		return fmt.Errorf("metadata has no partition %d of %s", p, topic)
	})
}

// consumePartitions reads the listed partitions of topic from the oldest
// offset to the high watermark (the others may have no leader).
func consumePartitions(t testing.TB, c *Cluster, topic string, parts ...int32) map[int32][]record {
	t.Helper()
	client := c.Client(t, nil)
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	out := map[int32][]record{}
	for _, p := range parts {
		_, hw, err := partitionOffsets(client, topic, p)
		if err != nil {
			t.Fatal(err)
		}
		if hw == 0 {
			continue
		}
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("ConsumePartition(%s, %d): %v", topic, p, err)
		}
		timeout := time.After(30 * time.Second)
	read:
		for {
			select {
			case m := <-pc.Messages():
				out[p] = append(out[p], record{Partition: p, Offset: m.Offset, Key: m.Key, Value: string(m.Value)})
				if m.Offset >= hw-1 {
					break read
				}
			case err := <-pc.Errors():
				t.Logf("consumer %s/%d: %v", topic, p, err)
			case <-timeout:
				pc.Close()
				t.Fatalf("%s/%d: consumed %d messages of %d in 30s", topic, p, len(out[p]), hw)
			}
		}
		pc.Close()
	}
	return out
}
