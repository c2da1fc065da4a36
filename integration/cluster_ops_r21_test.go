package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/zkpaths"
)

const (
	r21Partitions = int32(20)
	// r21Deadline is the row's bound on the whole reassignment.
	r21Deadline = 60 * time.Second
	// r21Rate is the WI producer's rate (messages/s over the 20 partitions).
	r21Rate = 300
	// r21Throttle is the follower throttle (bytes/s per broker) on the
	// replicas the bounce variant adds: with r21Preload per partition each
	// broker takes about 2.5 MiB, some 10 s, so the move outlasts both
	// bounces and still ends well within r21Deadline.
	r21Throttle = 256 << 10
	r21Preload  = 512 << 10
)

// TestClusterOpsR21 is fault-matrix row R21: a random shuffle of every
// replica set of a 20-partition RF3 topic with min.insync.replicas=3, under
// workload WI (sarama's idempotent producer), on 4 brokers (so that a
// shuffle moves replicas to a broker that had none) and a 3-node ZooKeeper
// ensemble. Three variants, one topic each on the same cluster: plain; with
// a clean (SIGTERM) bounce of every other broker during the move (10 MiB
// preloaded and a follower throttle on the added replicas make the move
// last past both bounces); with a small segment.bytes/retention.bytes so
// that the log start offset moves by retention before and during the move. Each must finish within 60 s
// (nothing listed by ListPartitionReassignments, the topic znode's replicas
// equal to the targets), then every acknowledged record is read back once
// (I-lost, I-dup) and the new replicas are identical below the high
// watermark. NOT_ENOUGH_REPLICAS while a replica is out of the ISR is
// expected with min.isr=RF and only delays the retrying producer.
//
// The plain variant also checks DescribeProducers: after the move, the new
// leaders report the sarama producer and a franz-go producer with their
// producer ids and last sequences, state they rebuilt from replication.
func TestClusterOpsR21(t *testing.T) {
	if testing.Short() {
		t.Skip("R21 takes minutes; skipped with -short")
	}
	c := newCluster(t, opts{
		Brokers:    4,
		ZooKeepers: 3,
		Overrides: map[string]string{
			"zookeeper.session.timeout.ms":    "6000",
			"replica.lag.time.max.ms":         "10000",
			"unclean.leader.election.enable":  "false",
			"replica.fetch.backoff.ms":        "200",
			"log.retention.check.interval.ms": "500",
			// Small follower fetches, so that the throttle paces a move
			// instead of one fetch taking a partition's whole log.
			"replica.fetch.response.max.bytes": "65536",
		},
	})
	seed := time.Now().UnixNano()
	t.Logf("shuffle seed %d", seed)
	rng := rand.New(rand.NewSource(seed))

	for _, v := range []struct {
		name      string
		bounce    bool
		retention bool
	}{
		{name: "plain"},
		{name: "bounce", bounce: true},
		{name: "retention", retention: true},
	} {
		t.Run(v.name, func(t *testing.T) {
			topic := "r21-" + v.name
			configs := map[string]string{"min.insync.replicas": "3"}
			if v.retention {
				// About one roll a second per partition at r21Rate; retention
				// keeps two segments, so the log start moves every second.
				configs["segment.bytes"] = "1024"
				configs["retention.bytes"] = "2048"
			}
			createRF3Topic(t, c, topic, r21Partitions, configs)
			admin := c.Admin(t, nil)
			w := startIdempotentSarama(t, c, topic, topic, r21Rate)
			w.WaitAcks(c, 200, 60*time.Second)

			var kgoPID int64
			var kgoSeq int32
			if v.name == "plain" {
				kgoPID, kgoSeq = produceIdempotentKgo(t, c, topic, 0, 25)
			}
			var startsBefore []int64
			if v.retention {
				// The producer keys 20 values over the 20 partitions by hash,
				// so some partitions get none: those keep log start 0.
				c.WaitFor(t, 60*time.Second, func() error {
					starts, err := logStartOffsets(c, topic)
					if err != nil {
						return err
					}
					written := ackedPartitions(w)
					for p, s := range starts {
						if s == 0 && written[int32(p)] {
							return fmt.Errorf("%s-%d: log start still 0 (%s)", topic, p, w.Summary())
						}
					}
					startsBefore = starts
					return nil
				})
			}

			current := topicAssignment(t, c, topic)
			targets := shuffleReplicas(rng, current.Partitions, c.Brokers())
			if v.bounce {
				preloadR21(t, c, topic, r21Preload)
				setThrottleRates(t, admin, r21Throttle)
				setTopicConfig(t, admin, topic, "follower.replication.throttled.replicas", addingReplicas(current.Partitions, targets))
			}
			start := time.Now()
			if err := admin.AlterPartitionReassignments(topic, targets); err != nil {
				t.Fatalf("AlterPartitionReassignments: %v", err)
			}
			if v.bounce {
				for i := 0; i < c.Brokers(); i += 2 {
					moving, err := countReassigning(c, topic)
					t.Logf("clean bounce of broker %d, %v into the move, %d partitions still moving (%v)",
						i, time.Since(start).Round(time.Millisecond), moving, err)
					if err == nil && moving == 0 {
						t.Errorf("the reassignment was over before the bounce of broker %d: not a bounce during the move", i)
					}
					c.StopBroker(i)
					c.StartBroker(i)
				}
			}
			waitR21Done(t, c, topic, targets, start)
			if v.bounce {
				var moved int64
				for p, target := range targets {
					for _, b := range target {
						if !slices.Contains(current.Partitions[int32(p)], b) {
							moved += dirBytes(t, filepath.Join(c.DataDir(int(b)), fmt.Sprintf("%s-%d", topic, p)))
						}
					}
				}
				took := time.Since(start)
				t.Logf("moved %d bytes to the added replicas in %v: %.0f B/s per broker, follower throttle %d B/s",
					moved, took.Round(time.Millisecond), float64(moved)/took.Seconds()/float64(c.Brokers()), r21Throttle)
				deleteTopicConfig(t, c.Admin(t, nil), topic, "follower.replication.throttled.replicas")
			}
			t.Logf("reassignment of %d partitions done in %v; producer %s", r21Partitions, time.Since(start).Round(time.Millisecond), w.Summary())

			if v.retention {
				after, err := logStartOffsets(c, topic)
				if err != nil {
					t.Fatal(err)
				}
				moved, written := 0, ackedPartitions(w)
				for p := range after {
					if after[p] > startsBefore[p] {
						moved++
					}
				}
				t.Logf("log start moved on %d of the %d partitions written to during the move", moved, len(written))
				if moved == 0 {
					t.Errorf("retention did not move the log start of any partition during the move")
				}
			}

			// The producer goes on on the new replicas, then stops.
			w.WaitAcks(c, 100, 60*time.Second)
			w.Stop()
			c.WaitFullISR(t, 60*time.Second, 3, map[string]int32{topic: r21Partitions})
			if v.retention {
				// Freeze the log start so the check reads a stable log.
				setTopicConfig(t, admin, topic, "retention.bytes", "-1")
			}
			checkR21(t, c, w, v.retention)
			checkR21Replicas(t, c, topic, targets)
			if v.name == "plain" {
				checkR21Producers(t, c, w, kgoPID, kgoSeq, targets[0])
			}
		})
	}
}

// ackedPartitions is the set of partitions w has had records acknowledged on.
func ackedPartitions(w *producerWorkload) map[int32]bool {
	out := map[int32]bool{}
	for _, a := range w.Acks() {
		out[a.Partition] = true
	}
	return out
}

// preloadR21 writes size bytes of unique records to every partition with
// franz-go (unique, so the duplicate check is not fooled).
func preloadR21(t *testing.T, c *Cluster, topic string, size int) {
	t.Helper()
	const recSize = 16 << 10
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(32<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var recs []*kgo.Record
	fill := rand.New(rand.NewSource(1))
	for p := int32(0); p < r21Partitions; p++ {
		for i := 0; i < size/recSize; i++ {
			// Random bytes: franz-go compresses batches (snappy) by default.
			v := make([]byte, recSize)
			fill.Read(v)
			copy(v, fmt.Sprintf("preload-%d-%d", p, i))
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: v})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("preload %s: %v", topic, err)
	}
}

// addingReplicas is the follower.replication.throttled.replicas value
// ("partition:broker,...") for the replicas the targets add, as Kafka's
// reassignment tool sets it.
func addingReplicas(current map[int32][]int32, targets [][]int32) string {
	var list []string
	for p, target := range targets {
		for _, b := range target {
			if !slices.Contains(current[int32(p)], b) {
				list = append(list, fmt.Sprintf("%d:%d", p, b))
			}
		}
	}
	return strings.Join(list, ",")
}

func deleteTopicConfig(t *testing.T, admin sarama.ClusterAdmin, topic, key string) {
	t.Helper()
	err := admin.IncrementalAlterConfig(sarama.TopicResource, topic, map[string]sarama.IncrementalAlterConfigsEntry{
		key: {Operation: sarama.IncrementalAlterConfigsOperationDelete},
	}, false)
	if err != nil {
		t.Fatalf("delete %s on %s: %v", key, topic, err)
	}
}

// topicAssignment reads /brokers/topics/<topic>.
func topicAssignment(t testing.TB, c *Cluster, topic string) zkpaths.TopicAssignment {
	t.Helper()
	data, _, err := c.MustZK(t).Get(zkpaths.TopicPath(topic))
	if err != nil {
		t.Fatalf("get topic znode: %v", err)
	}
	a, err := zkpaths.DecodeTopicAssignment(data)
	if err != nil {
		t.Fatalf("decode topic znode %q: %v", data, err)
	}
	return a
}

// shuffleReplicas gives every partition a random ordered set of 3 of the
// brokers that differs from its current set, so each partition gains a
// replica and loses one.
func shuffleReplicas(rng *rand.Rand, current map[int32][]int32, brokers int) [][]int32 {
	out := make([][]int32, len(current))
	for p := range out {
		cur := slices.Clone(current[int32(p)])
		slices.Sort(cur)
		for {
			perm := rng.Perm(brokers)[:len(cur)]
			next := make([]int32, len(perm))
			for i, b := range perm {
				next[i] = int32(b)
			}
			sorted := slices.Clone(next)
			slices.Sort(sorted)
			if !slices.Equal(sorted, cur) {
				out[p] = next
				break
			}
		}
	}
	return out
}

// countReassigning is how many partitions of topic ListPartitionReassignments
// lists, asked through a fresh admin (the controller may have moved).
func countReassigning(c *Cluster, topic string) (int, error) {
	admin, err := sarama.NewClusterAdmin(c.LiveBootstrap(), c.SaramaConfig())
	if err != nil {
		return 0, err
	}
	defer admin.Close()
	parts := make([]int32, r21Partitions)
	for p := range parts {
		parts[p] = int32(p)
	}
	st, err := admin.ListPartitionReassignments(topic, parts)
	if err != nil {
		return 0, err
	}
	return len(st[topic]), nil
}

// waitR21Done waits, up to r21Deadline after start, until no partition is
// listed as reassigning and the topic znode holds exactly the targets with
// no adding or removing replicas.
func waitR21Done(t *testing.T, c *Cluster, topic string, targets [][]int32, start time.Time) {
	t.Helper()
	parts := make([]int32, len(targets))
	for p := range parts {
		parts[p] = int32(p)
	}
	c.WaitFor(t, max(time.Until(start.Add(r21Deadline)), 0), func() error {
		// A fresh admin each time: the controller may have moved with a
		// bounce, and sarama's admin keeps asking the one it knew.
		admin, err := sarama.NewClusterAdmin(c.LiveBootstrap(), c.SaramaConfig())
		if err != nil {
			return err
		}
		defer admin.Close()
		st, err := admin.ListPartitionReassignments(topic, parts)
		if err != nil {
			return err
		}
		if n := len(st[topic]); n > 0 {
			return fmt.Errorf("%d partitions still listed as reassigning", n)
		}
		zc, err := c.ZKConn()
		if err != nil {
			return err
		}
		data, _, err := zc.Get(zkpaths.TopicPath(topic))
		if err != nil {
			return err
		}
		a, err := zkpaths.DecodeTopicAssignment(data)
		if err != nil {
			return err
		}
		if len(a.AddingReplicas) > 0 || len(a.RemovingReplicas) > 0 {
			return fmt.Errorf("topic znode still has adding %v removing %v", a.AddingReplicas, a.RemovingReplicas)
		}
		for p, want := range targets {
			if got := a.Partitions[int32(p)]; !slices.Equal(got, want) {
				return fmt.Errorf("%s-%d: topic znode replicas %v, want %v", topic, p, got, want)
			}
		}
		return nil
	})
	if took := time.Since(start); took > r21Deadline {
		t.Errorf("reassignment took %v, over the %v of R21", took, r21Deadline)
	}
}

// logStartOffsets is ListOffsets EARLIEST for every partition of topic.
func logStartOffsets(c *Cluster, topic string) ([]int64, error) {
	client, err := newQuietClient(c)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	out := make([]int64, r21Partitions)
	for p := range out {
		if out[p], err = client.GetOffset(topic, int32(p), sarama.OffsetOldest); err != nil {
			return nil, fmt.Errorf("log start of %s-%d: %w", topic, p, err)
		}
	}
	return out, nil
}

// checkR21 is I-lost and I-dup for the WI producer. With retention on, an
// acknowledged record below its partition's log start offset (read after
// the topic) was deleted by retention, not lost; everything from the log
// start up must be there.
func checkR21(t *testing.T, c *Cluster, w *producerWorkload, retention bool) {
	t.Helper()
	acks := w.Acks()
	read := readTopic(t, c, w.topic, r21Partitions)
	expired := 0
	if retention {
		starts, err := logStartOffsets(c, w.topic)
		if err != nil {
			t.Fatal(err)
		}
		kept := acks[:0:0]
		for _, a := range acks {
			if a.Offset < starts[a.Partition] {
				expired++
				continue
			}
			kept = append(kept, a)
		}
		acks = kept
	}
	d := checkDelivery(acks, read, logView{})
	t.Logf("checker %s: %s (%d more acked records deleted by retention); producer %s", w.topic, d, expired, w.Summary())
	if !d.ok() || d.Duplicates != 0 {
		t.Errorf("R21 invariants broken on %s: %s", w.topic, d)
	}
	if d.Acked == 0 {
		t.Errorf("R21 on %s: nothing acknowledged to check", w.topic)
	}
}

// checkR21Replicas is I-div on the new replica sets: each partition's
// batches below the high watermark are the same on its three replicas,
// from the highest first offset among them on (retention deletes segments
// on each replica by its own segment boundaries).
func checkR21Replicas(t *testing.T, c *Cluster, topic string, targets [][]int32) {
	t.Helper()
	for p, replicas := range targets {
		c.WaitFor(t, 30*time.Second, func() error {
			hw, err := leaderHighWatermark(c, topic, int32(p))
			if err != nil {
				return err
			}
			logs := make([][]byte, len(replicas))
			from := int64(0)
			for i, b := range replicas {
				if logs[i], err = replicaBatches(c.DataDir(int(b)), topic, int32(p), hw); err != nil {
					return err
				}
				if len(logs[i]) > 0 {
					from = max(from, int64(binary.BigEndian.Uint64(logs[i])))
				}
			}
			for i := range logs {
				logs[i] = batchesFrom(logs[i], from)
			}
			for i := 1; i < len(logs); i++ {
				if !bytes.Equal(logs[i], logs[0]) {
					return fmt.Errorf("I-div: %s-%d from %d below HW %d: broker %d has %d bytes, broker %d %d, and they differ",
						topic, p, from, hw, replicas[i], len(logs[i]), replicas[0], len(logs[0]))
				}
			}
			if hw > from && len(logs[0]) == 0 {
				return fmt.Errorf("%s-%d: no batches in [%d, %d) on broker %d", topic, p, from, hw, replicas[0])
			}
			return nil
		})
	}
}

func leaderHighWatermark(c *Cluster, topic string, p int32) (int64, error) {
	client, err := newQuietClient(c)
	if err != nil {
		return -1, err
	}
	defer client.Close()
	return client.GetOffset(topic, p, sarama.OffsetNewest)
}

// batchesFrom drops the leading batches of b (as replicaBatches returns
// them) whose base offset is below from.
func batchesFrom(b []byte, from int64) []byte {
	for len(b) >= 12 {
		if int64(binary.BigEndian.Uint64(b)) >= from {
			return b
		}
		b = b[12+int(int32(binary.BigEndian.Uint32(b[8:]))):]
	}
	return b
}

// produceIdempotentKgo sends n records to one partition with franz-go's
// idempotent producer and returns its producer id and the last sequence
// number it used there (n-1: one record per sequence number).
func produceIdempotentKgo(t *testing.T, c *Cluster, topic string, partition int32, n int) (int64, int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := 0; i < n; i++ {
		rec := &kgo.Record{Topic: topic, Partition: partition, Value: []byte(fmt.Sprintf("kgo-%d", i))}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatalf("franz-go produce %d: %v", i, err)
		}
	}
	pid, _, err := cl.ProducerID(ctx)
	if err != nil {
		t.Fatalf("franz-go producer id: %v", err)
	}
	return pid, int32(n - 1)
}

// checkR21Producers is DescribeProducers on the leaders after the move:
// each partition shows the sarama producer (one producer id on every
// partition, its last sequence the partition's acknowledged records − 1
// when no record failed), and partition 0 the franz-go producer with its
// id and last sequence. Asked directly, every replica of partition 0 (in
// replicas0) answers the same for the franz-go producer, as Kafka lets an
// operator ask a follower, and the broker without one answers
// NOT_LEADER_OR_FOLLOWER.
func checkR21Producers(t *testing.T, c *Cluster, w *producerWorkload, kgoPID int64, kgoSeq int32, replicas0 []int32) {
	t.Helper()
	acked := map[int32]int32{}
	for _, a := range w.Acks() {
		acked[a.Partition]++
	}
	w.mu.Lock()
	failed := len(w.errs) > 0
	w.mu.Unlock()

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.LiveBootstrap()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrDescribeProducersRequest()
	rt := kmsg.NewDescribeProducersRequestTopic()
	rt.Topic = w.topic
	for p := int32(0); p < r21Partitions; p++ {
		rt.Partitions = append(rt.Partitions, p)
	}
	req.Topics = append(req.Topics, rt)
	var resp *kmsg.DescribeProducersResponse
	c.WaitFor(t, 30*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// The client sends each partition to its leader.
		kresp, err := cl.Request(ctx, req)
		if err != nil {
			return err
		}
		resp = kresp.(*kmsg.DescribeProducersResponse)
		n := 0
		for _, rt := range resp.Topics {
			for _, p := range rt.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return fmt.Errorf("%s-%d: %w", rt.Topic, p.Partition, err)
				}
				n++
			}
		}
		if n != int(r21Partitions) {
			return fmt.Errorf("%d partitions described, want %d", n, r21Partitions)
		}
		return nil
	})

	saramaPID := int64(-1)
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			var others []kmsg.DescribeProducersResponseTopicPartitionActiveProducer
			sawKgo := false
			for _, ap := range p.ActiveProducers {
				if ap.CurrentTxnStartOffset != -1 {
					t.Errorf("%s-%d: producer %d has an open transaction at %d", rt.Topic, p.Partition, ap.ProducerID, ap.CurrentTxnStartOffset)
				}
				if p.Partition == 0 && ap.ProducerID == kgoPID {
					sawKgo = true
					if ap.LastSequence != kgoSeq {
						t.Errorf("%s-0: franz-go producer %d last sequence %d, want %d", rt.Topic, kgoPID, ap.LastSequence, kgoSeq)
					}
					continue
				}
				others = append(others, ap)
			}
			if p.Partition == 0 && !sawKgo {
				t.Errorf("%s-0: franz-go producer %d not described: %+v", rt.Topic, kgoPID, p.ActiveProducers)
			}
			// The producer's 20 keys hash to some partitions only.
			if want := min(int(acked[p.Partition]), 1); len(others) != want {
				t.Errorf("%s-%d: %d producers besides franz-go's, want %d (the sarama producer, %d records acknowledged): %+v",
					rt.Topic, p.Partition, len(others), want, acked[p.Partition], others)
				continue
			}
			if len(others) == 0 {
				continue
			}
			sp := others[0]
			if saramaPID == -1 {
				saramaPID = sp.ProducerID
			}
			if sp.ProducerID != saramaPID || sp.ProducerID < 0 || sp.ProducerEpoch < 0 || sp.LastTimestamp <= 0 {
				t.Errorf("%s-%d: sarama producer described as %+v (producer id %d on partitions before)", rt.Topic, p.Partition, sp, saramaPID)
			}
			if want := acked[p.Partition] - 1; !failed && sp.ProducerEpoch == 0 && sp.LastSequence != want {
				t.Errorf("%s-%d: sarama producer last sequence %d, want %d (records acknowledged − 1)", rt.Topic, p.Partition, sp.LastSequence, want)
			}
		}
	}
	t.Logf("DescribeProducers: sarama producer %d on %d partitions, franz-go producer %d at sequence %d", saramaPID, r21Partitions, kgoPID, kgoSeq)

	one := kmsg.NewPtrDescribeProducersRequest()
	ot := kmsg.NewDescribeProducersRequestTopic()
	ot.Topic, ot.Partitions = w.topic, []int32{0}
	one.Topics = append(one.Topics, ot)
	for b := 0; b < c.Brokers(); b++ {
		hosted := slices.Contains(replicas0, int32(b))
		c.WaitFor(t, 30*time.Second, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			kresp, err := cl.Broker(b).Request(ctx, one)
			if err != nil {
				return err
			}
			r := kresp.(*kmsg.DescribeProducersResponse)
			if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
				return fmt.Errorf("broker %d: response %+v", b, r)
			}
			p := r.Topics[0].Partitions[0]
			if !hosted {
				if p.ErrorCode != kerr.NotLeaderForPartition.Code {
					return fmt.Errorf("broker %d, no replica of %s-0: %v, want NOT_LEADER_OR_FOLLOWER", b, w.topic, kerr.ErrorForCode(p.ErrorCode))
				}
				return nil
			}
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("broker %d, replica of %s-0: %w", b, w.topic, err)
			}
			for _, ap := range p.ActiveProducers {
				if ap.ProducerID == kgoPID && ap.LastSequence == kgoSeq {
					return nil
				}
			}
			return fmt.Errorf("broker %d, replica of %s-0: franz-go producer %d at sequence %d not described: %+v", b, w.topic, kgoPID, kgoSeq, p.ActiveProducers)
		})
	}
}
