package integration

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// TestClusterOpsConfigs drives issue 7's cluster operations with sarama's
// ClusterAdmin against three broker processes: dynamic topic and broker
// configs applied without a restart (retention, min.insync.replicas),
// CreatePartitions, and DeleteRecords reaching every replica.
func TestClusterOpsConfigs(t *testing.T) {
	c := newCluster(t, opts{
		Brokers: 3,
		Overrides: map[string]string{
			"log.retention.check.interval.ms": "500",
			"replica.fetch.backoff.ms":        "200",
			"replica.lag.time.max.ms":         "6000",
		},
	})
	admin := c.Admin(t, nil)

	t.Run("retention.ms applied live", func(t *testing.T) {
		const topic = "ret"
		createTopicRF(t, c, topic, 1, 1, map[string]string{"segment.bytes": "1024"})
		produceN(t, c, topic, 0, 60, 200)
		before := segmentFiles(t, c, topic, 0)
		if before < 5 {
			t.Fatalf("%d segments, want several (segment.bytes 1024)", before)
		}
		// The records are a few seconds old: retention.ms 1000 expires
		// every closed segment.
		time.Sleep(1500 * time.Millisecond)
		setTopicConfig(t, admin, topic, "retention.ms", "1000")
		c.WaitFor(t, 30*time.Second, func() error {
			earliest := offsetOf(t, c, topic, 0, sarama.OffsetOldest)
			if n := segmentFiles(t, c, topic, 0); earliest == 0 || n >= before {
				return fmt.Errorf("earliest offset %d, %d segments (were %d)", earliest, n, before)
			}
			return nil
		})
		e := configEntry(t, admin, sarama.ConfigResource{Type: sarama.TopicResource, Name: topic}, "retention.ms")
		if e.Value != "1000" || e.Source != sarama.SourceTopic {
			t.Fatalf("describe retention.ms: %q from %v", e.Value, e.Source)
		}
	})

	t.Run("cluster default broker config", func(t *testing.T) {
		v := "3600000"
		if err := admin.AlterConfig(sarama.BrokerResource, "", map[string]*string{"log.retention.ms": &v}, false); err != nil {
			t.Fatalf("alter cluster default: %v", err)
		}
		createTopicRF(t, c, "plain", 1, 1, nil)
		e := configEntry(t, admin, sarama.ConfigResource{Type: sarama.TopicResource, Name: "plain"}, "retention.ms")
		if e.Value != v || e.Source != sarama.SourceDynamicDefaultBroker {
			t.Fatalf("retention.ms of a topic without override: %q from %v", e.Value, e.Source)
		}
		bad := "log-dirs"
		err := admin.AlterConfig(sarama.BrokerResource, "", map[string]*string{"log.dirs": &bad}, false)
		if !errors.Is(err, sarama.ErrInvalidRequest) || !strings.Contains(err.Error(), "Cannot update these configs dynamically") {
			t.Fatalf("log.dirs dynamically: %v", err)
		}
		// Applied live to the logs of topics without an override.
		createTopicRF(t, c, "aged", 1, 1, map[string]string{"segment.bytes": "1024"})
		produceN(t, c, "aged", 0, 30, 200)
		time.Sleep(1500 * time.Millisecond)
		short := "1000"
		if err := admin.AlterConfig(sarama.BrokerResource, "", map[string]*string{"log.retention.ms": &short}, false); err != nil {
			t.Fatalf("alter cluster default: %v", err)
		}
		c.WaitFor(t, 30*time.Second, func() error {
			if earliest := offsetOf(t, c, "aged", 0, sarama.OffsetOldest); earliest == 0 {
				return fmt.Errorf("earliest offset of aged-0 still 0")
			}
			return nil
		})
		if err := admin.AlterConfig(sarama.BrokerResource, "", map[string]*string{}, false); err != nil {
			t.Fatalf("clear cluster default: %v", err)
		}
	})

	t.Run("CreatePartitions then produce to the new partition", func(t *testing.T) {
		const topic = "grow"
		createTopicRF(t, c, topic, 2, 2, nil)
		err := admin.CreatePartitions(topic, 1, nil, false)
		if !errors.Is(err, sarama.ErrInvalidPartitions) {
			t.Fatalf("fewer partitions: %v", err)
		}
		if err := admin.CreatePartitions(topic, 4, nil, false); err != nil {
			t.Fatalf("create partitions: %v", err)
		}
		c.WaitFullISR(t, 60*time.Second, 2, map[string]int32{topic: 4})
		produceN(t, c, topic, 3, 5, 10)
		if off := offsetOf(t, c, topic, 3, sarama.OffsetNewest); off != 5 {
			t.Fatalf("partition 3 ends at %d, want 5", off)
		}
	})

	t.Run("DeleteRecords on every replica", func(t *testing.T) {
		const topic = "del"
		createTopicRF(t, c, topic, 1, 3, nil)
		produceN(t, c, topic, 0, 100, 50)
		c.WaitFullISR(t, 60*time.Second, 3, map[string]int32{topic: 1})
		if err := admin.DeleteRecords(topic, map[int32]int64{0: 60}); err != nil {
			t.Fatalf("delete records: %v", err)
		}
		// Every replica has moved its log start offset (the answer waited
		// for the low watermark): each in turn leads and answers 60.
		var stopped []int
		for i := 0; i < 3; i++ {
			leader := c.Leader(t, topic, 0)
			c.WaitFor(t, 30*time.Second, func() error {
				if off := offsetOf(t, c, topic, 0, sarama.OffsetOldest); off != 60 {
					return fmt.Errorf("broker %d: earliest offset %d, want 60", leader, off)
				}
				return nil
			})
			if i < 2 {
				c.StopBroker(leader)
				stopped = append(stopped, leader)
				c.WaitFor(t, 60*time.Second, func() error {
					st, err := c.PartitionState(topic, 0)
					if err != nil {
						return err
					}
					if st.Leader < 0 || st.Leader == leader || contains(stopped, st.Leader) {
						return fmt.Errorf("leader %d", st.Leader)
					}
					return nil
				})
			}
		}
		for _, b := range stopped {
			c.StartBroker(b)
		}
		c.WaitReady(t)
		c.WaitFullISR(t, 90*time.Second, 3, map[string]int32{topic: 1})
		if off := offsetOf(t, c, topic, 0, sarama.OffsetOldest); off != 60 {
			t.Fatalf("after restarts: earliest %d", off)
		}
	})

	// A follower whose log is empty restarts at the base offset of the
	// leader's first batch when DeleteRecords moved the leader's log start
	// into that batch (Kafka's UnexpectedAppendOffsetException handling).
	t.Run("wiped follower catches up after DeleteRecords mid-batch", func(t *testing.T) {
		const topic = "midbatch"
		createTopicRF(t, c, topic, 1, 2, nil)
		p, err := sarama.NewSyncProducer(c.LiveBootstrap(), c.SaramaConfig())
		if err != nil {
			t.Fatal(err)
		}
		var msgs []*sarama.ProducerMessage
		for i := 0; i < 10; i++ {
			msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: 0, Value: sarama.StringEncoder(fmt.Sprint(i))})
		}
		err = p.SendMessages(msgs) // one batch, offsets 0-9
		p.Close()
		if err != nil {
			t.Fatalf("produce: %v", err)
		}
		c.WaitFullISR(t, 60*time.Second, 2, map[string]int32{topic: 1})
		admin := c.Admin(t, nil) // fresh connections: earlier steps restarted brokers
		if err := admin.DeleteRecords(topic, map[int32]int64{0: 5}); err != nil {
			t.Fatalf("delete records: %v", err)
		}
		_, followers := followersOf(t, c, topic, 0)
		f := followers[0]
		c.StopBroker(f)
		if err := os.RemoveAll(filepath.Join(c.DataDir(f), topic+"-0")); err != nil {
			t.Fatal(err)
		}
		c.StartBroker(f)
		c.WaitReady(t)
		c.WaitFullISR(t, 60*time.Second, 2, map[string]int32{topic: 1})
	})

	t.Run("min.insync.replicas applied live", func(t *testing.T) {
		const topic = "isr"
		createTopicRF(t, c, topic, 1, 3, nil)
		_, followers := followersOf(t, c, topic, 0)
		down := followers[0]
		c.StopBroker(down)
		c.WaitFor(t, 60*time.Second, func() error {
			st, err := c.PartitionState(topic, 0)
			if err != nil {
				return err
			}
			if len(st.ISR) != 2 {
				return fmt.Errorf("isr %v", st.ISR)
			}
			return nil
		})
		if err := produceOnce(c, topic); err != nil {
			t.Fatalf("acks=all with 2 in sync and min.insync.replicas 1: %v", err)
		}
		admin := c.Admin(t, nil) // on the live brokers
		setTopicConfig(t, admin, topic, "min.insync.replicas", "3")
		c.WaitFor(t, 30*time.Second, func() error {
			if err := produceOnce(c, topic); !errors.Is(err, sarama.ErrNotEnoughReplicas) {
				return fmt.Errorf("produce: %v, want NOT_ENOUGH_REPLICAS", err)
			}
			return nil
		})
		setTopicConfig(t, admin, topic, "min.insync.replicas", "2")
		c.WaitFor(t, 30*time.Second, func() error { return produceOnce(c, topic) })
		c.StartBroker(down)
		c.WaitReady(t)
	})
}

// createTopicRF creates a topic through sarama's ClusterAdmin and waits
// until every partition has its full ISR.
func createTopicRF(t *testing.T, c *Cluster, name string, partitions int32, rf int16, configs map[string]string) {
	t.Helper()
	detail := &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: rf, ConfigEntries: map[string]*string{}}
	for k, v := range configs {
		detail.ConfigEntries[k] = &v
	}
	if err := c.Admin(t, nil).CreateTopic(name, detail, false); err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	c.WaitFullISR(t, 60*time.Second, int(rf), map[string]int32{name: partitions})
}

func setTopicConfig(t *testing.T, admin sarama.ClusterAdmin, topic, key, value string) {
	t.Helper()
	err := admin.IncrementalAlterConfig(sarama.TopicResource, topic, map[string]sarama.IncrementalAlterConfigsEntry{
		key: {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &value},
	}, false)
	if err != nil {
		t.Fatalf("set %s=%s on %s: %v", key, value, topic, err)
	}
}

func configEntry(t *testing.T, admin sarama.ClusterAdmin, res sarama.ConfigResource, name string) sarama.ConfigEntry {
	t.Helper()
	entries, err := admin.DescribeConfig(res)
	if err != nil {
		t.Fatalf("describe %v: %v", res, err)
	}
	for _, e := range entries {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("%s not in the description of %v", name, res)
	return sarama.ConfigEntry{}
}

// produceN sends n acks=all records of size bytes to one partition.
func produceN(t *testing.T, c *Cluster, topic string, partition int32, n, size int) {
	t.Helper()
	cfg := c.SaramaConfig()
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	var p sarama.SyncProducer
	// A new partition reaches each broker's metadata cache with the
	// controller's UpdateMetadata: retry until the first record is in.
	c.WaitFor(t, 30*time.Second, func() error {
		var err error
		if p, err = sarama.NewSyncProducer(c.LiveBootstrap(), cfg); err != nil {
			return err
		}
		msg := &sarama.ProducerMessage{Topic: topic, Partition: partition, Value: sarama.ByteEncoder(make([]byte, size))}
		if _, _, err = p.SendMessage(msg); err != nil {
			p.Close()
			return fmt.Errorf("produce to %s-%d: %w", topic, partition, err)
		}
		return nil
	})
	defer p.Close()
	for i := 1; i < n; i++ {
		msg := &sarama.ProducerMessage{Topic: topic, Partition: partition, Value: sarama.ByteEncoder(make([]byte, size))}
		if _, _, err := p.SendMessage(msg); err != nil {
			t.Fatalf("produce %d to %s-%d: %v", i, topic, partition, err)
		}
	}
}

// produceOnce sends one acks=all record without retries and returns the
// broker's answer.
func produceOnce(c *Cluster, topic string) error {
	cfg := c.SaramaConfig()
	cfg.Producer.Retry.Max = 0
	p, err := sarama.NewSyncProducer(c.LiveBootstrap(), cfg)
	if err != nil {
		return err
	}
	defer p.Close()
	_, _, err = p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder("x")})
	return err
}

// offsetOf is ListOffsets on the partition's leader, through a fresh client.
func offsetOf(t *testing.T, c *Cluster, topic string, partition int32, which int64) int64 {
	t.Helper()
	client, err := newQuietClient(c)
	if err != nil {
		return -1
	}
	defer client.Close()
	off, err := client.GetOffset(topic, partition, which)
	if err != nil {
		return -1
	}
	return off
}

// segmentFiles counts the live .log segments of a partition on every
// broker that hosts it.
func segmentFiles(t *testing.T, c *Cluster, topic string, partition int32) int {
	t.Helper()
	n := 0
	for b := 0; b < c.Brokers(); b++ {
		files, _ := filepath.Glob(filepath.Join(c.DataDir(b), fmt.Sprintf("%s-%d", topic, partition), "*.log"))
		for _, f := range files {
			if _, err := os.Stat(f); err == nil {
				n++
			}
		}
	}
	return n
}
