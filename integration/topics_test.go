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

// TestAutoCreateTopic produces to a topic nobody created: with
// auto.create.topics.enable=true (Kafka's default) the broker creates it with
// num.partitions partitions and the message is stored; a Metadata request
// that does not allow auto-creation leaves an unknown topic unknown.
func TestAutoCreateTopic(t *testing.T) {
	c := newCluster(t, opts{Overrides: map[string]string{"num.partitions": "3"}})
	const topic = "created-on-first-produce"

	acked := produce(t, c, c.SaramaConfig(), topic, makeMessages(topic, 30, true))
	waitTopicReady(t, c, topic, 3)
	checkExactly(t, acked, consumeAll(t, c, nil, topic))

	zc := c.MustZK(t)
	for _, p := range []string{"/brokers/topics/" + topic, "/config/topics/" + topic, "/brokers/topics/" + topic + "/partitions/2/state"} {
		if ok, _, err := zc.Exists(p); err != nil || !ok {
			t.Errorf("znode %s after auto-creation: exists=%v err=%v", p, ok, err)
		}
	}

	md, err := fetchMetadata(c, "never-asked-for")
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Topics) != 1 || md.Topics[0].Err != sarama.ErrUnknownTopicOrPartition {
		t.Errorf("Metadata(allow_auto_topic_creation=false) for an unknown topic: %+v, want UNKNOWN_TOPIC_OR_PARTITION", md.Topics)
	}
	if ok, _, _ := zc.Exists("/brokers/topics/never-asked-for"); ok {
		t.Errorf("/brokers/topics/never-asked-for exists, but auto-creation was not allowed by the request")
	}
}

// TestTopicAdmin covers CreateTopics and DeleteTopics through sarama's
// ClusterAdmin on one broker with auto.create.topics.enable=false.
func TestTopicAdmin(t *testing.T) {
	c := newCluster(t, opts{Overrides: map[string]string{"auto.create.topics.enable": "false"}})
	admin := c.Admin(t, nil)
	zc := c.MustZK(t)

	t.Run("replication factor above live brokers", func(t *testing.T) {
		err := admin.CreateTopic("rf-two", &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 2}, false)
		var te *sarama.TopicError
		if !errors.As(err, &te) || te.Err != sarama.ErrInvalidReplicationFactor {
			t.Fatalf("CreateTopic(rf=2) on 1 broker: %v, want INVALID_REPLICATION_FACTOR", err)
		}
		const want = "Replication factor: 2 larger than available brokers: 1."
		if te.ErrMsg == nil || *te.ErrMsg != want {
			t.Errorf("error message %v, want %q", errMsg(te), want)
		}
		if ok, _, _ := zc.Exists("/brokers/topics/rf-two"); ok {
			t.Errorf("/brokers/topics/rf-two was created by a failed CreateTopics")
		}
	})

	t.Run("errors", func(t *testing.T) {
		createTopic(t, c, admin, "exists", 2, 1)
		cases := []struct {
			name   string
			topic  string
			detail sarama.TopicDetail
			want   sarama.KError
		}{
			{"topic exists", "exists", sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1}, sarama.ErrTopicAlreadyExists},
			{"zero partitions", "no-partitions", sarama.TopicDetail{NumPartitions: 0, ReplicationFactor: 1}, sarama.ErrInvalidPartitions},
			{"zero replication factor", "no-replicas", sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 0}, sarama.ErrInvalidReplicationFactor},
			{"slash in the name", "a/b", sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, sarama.ErrInvalidTopic},
			{"name too long", strings.Repeat("x", 250), sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, sarama.ErrInvalidTopic},
			{"dot dot", "..", sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, sarama.ErrInvalidTopic},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				detail := tc.detail
				err := admin.CreateTopic(tc.topic, &detail, false)
				var te *sarama.TopicError
				if !errors.As(err, &te) || te.Err != tc.want {
					t.Fatalf("CreateTopic(%.30q, %+v): %v, want %v", tc.topic, tc.detail, err, tc.want)
				}
			})
		}
	})

	t.Run("validate only creates nothing", func(t *testing.T) {
		if err := admin.CreateTopic("validated", &sarama.TopicDetail{NumPartitions: 4, ReplicationFactor: 1}, true); err != nil {
			t.Fatalf("CreateTopic(validate_only): %v", err)
		}
		if ok, _, _ := zc.Exists("/brokers/topics/validated"); ok {
			t.Errorf("validate_only created /brokers/topics/validated")
		}
		md, err := fetchMetadata(c, "validated")
		if err != nil {
			t.Fatal(err)
		}
		if md.Topics[0].Err != sarama.ErrUnknownTopicOrPartition {
			t.Errorf("metadata for the validated topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", md.Topics[0].Err)
		}
	})

	t.Run("auto creation disabled", func(t *testing.T) {
		cfg := c.SaramaConfig()
		cfg.Producer.Retry.Max = 1
		cfg.Metadata.Retry.Max = 1
		cfg.Metadata.Retry.Backoff = 50 * time.Millisecond
		_, err := produceSome(c, cfg, "not-auto-created", makeMessages("x", 1, false))
		if !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
			t.Errorf("produce to an unknown topic with auto.create.topics.enable=false: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
		}
		if ok, _, _ := zc.Exists("/brokers/topics/not-auto-created"); ok {
			t.Errorf("/brokers/topics/not-auto-created exists with auto.create.topics.enable=false")
		}
	})

	t.Run("delete and recreate", func(t *testing.T) {
		const topic = "deleted-and-recreated"
		createTopic(t, c, admin, topic, 3, 1)
		acked := produce(t, c, c.SaramaConfig(), topic, makeMessages("first-life", 60, false))
		checkExactly(t, acked, consumeAll(t, c, nil, topic))
		oldID := topicID(t, c, topic)
		for p := 0; p < 3; p++ {
			if _, err := os.Stat(filepath.Join(c.DataDir(0), fmt.Sprintf("%s-%d", topic, p))); err != nil {
				t.Errorf("log dir of partition %d before deletion: %v", p, err)
			}
		}

		if err := admin.DeleteTopic(topic); err != nil {
			t.Fatalf("DeleteTopic: %v", err)
		}
		c.WaitFor(t, 30*time.Second, func() error {
			md, err := fetchMetadata(c, topic)
			if err != nil {
				return err
			}
			if md.Topics[0].Err != sarama.ErrUnknownTopicOrPartition {
				return fmt.Errorf("metadata after DeleteTopics: %v, want UNKNOWN_TOPIC_OR_PARTITION", md.Topics[0].Err)
			}
			for _, p := range []string{"/brokers/topics/" + topic, "/config/topics/" + topic, "/admin/delete_topics/" + topic} {
				if ok, _, err := zc.Exists(p); err != nil || ok {
					return fmt.Errorf("%s still exists (err %v)", p, err)
				}
			}
			for p := 0; p < 3; p++ {
				dir := filepath.Join(c.DataDir(0), fmt.Sprintf("%s-%d", topic, p))
				if _, err := os.Stat(dir); !os.IsNotExist(err) {
					return fmt.Errorf("log dir %s still there (stat: %v)", dir, err)
				}
			}
			return nil
		})

		createTopic(t, c, admin, topic, 2, 1)
		newID := topicID(t, c, topic)
		if newID == oldID {
			t.Errorf("recreated topic has the old topic id %s", oldID)
		}
		client := c.Client(t, nil)
		for p := int32(0); p < 2; p++ {
			oldest, newest, err := partitionOffsets(client, topic, p)
			if err != nil {
				t.Fatal(err)
			}
			if oldest != 0 || newest != 0 {
				t.Errorf("recreated %s/%d has offsets [%d, %d), want an empty log [0, 0)", topic, p, oldest, newest)
			}
		}
		cfg := c.SaramaConfig()
		cfg.Producer.Partitioner = sarama.NewManualPartitioner
		second := produce(t, c, cfg, topic, []message{{Partition: 0, Value: "second-life-0"}, {Partition: 1, Value: "second-life-1"}})
		checkExactly(t, second, consumeAll(t, c, nil, topic))
	})
}

func errMsg(te *sarama.TopicError) string {
	if te.ErrMsg == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%q", *te.ErrMsg)
}

// topicID is the topic id the broker reports in Metadata v11; it fails t
// when the id is missing (all zero).
func topicID(t testing.TB, c *Cluster, topic string) string {
	t.Helper()
	md, err := fetchMetadata(c, topic)
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Topics) != 1 || md.Topics[0].Err != sarama.ErrNoError {
		t.Fatalf("metadata for %s: %+v", topic, md.Topics)
	}
	if md.Topics[0].Uuid == (sarama.Uuid{}) {
		t.Fatalf("metadata v%d for %s carries no topic id", md.Version, topic)
	}
	return md.Topics[0].Uuid.String()
}
