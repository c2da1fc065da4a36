package integration

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// Controlled shutdown (issue 7, reference §2.12; fault matrix R1 and R23):
// SIGTERM makes a broker hand its leaderships to other ISR members and
// leave the ISRs before it exits, so producers see a leader change rather
// than an outage, and a rolling restart loses nothing.

func shutdownCluster(t *testing.T) *Cluster {
	if testing.Short() {
		t.Skip("cluster operations take minutes; skipped with -short")
	}
	return newCluster(t, opts{
		Brokers: 3,
		Overrides: map[string]string{
			"min.insync.replicas":                  "2",
			"default.replication.factor":           "3",
			"controlled.shutdown.retry.backoff.ms": "1000",
			// The auto rebalance is the last step of a rolling restart.
			"leader.imbalance.check.interval.seconds": "5",
		},
	})
}

// metadataLeaders asks broker i itself (not a client's cache) for the
// leaders of topic's partitions.
func metadataLeaders(c *Cluster, i int, topic string) (map[int32]int32, error) {
	b := sarama.NewBroker(c.Addr(i))
	if err := b.Open(c.SaramaConfig()); err != nil {
		return nil, err
	}
	defer b.Close()
	resp, err := b.GetMetadata(&sarama.MetadataRequest{Version: 5, Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata from broker %d: %w", i, err)
	}
	out := map[int32]int32{}
	for _, tm := range resp.Topics {
		if tm.Name != topic {
			continue
		}
		for _, pm := range tm.Partitions {
			out[pm.ID] = pm.Leader
		}
	}
	return out, nil
}

// longestAckGap is the longest time partition p went without an
// acknowledgement between from and to (the whole window if none came).
func longestAckGap(acks []ack, p int32, from, to time.Time) time.Duration {
	var at []time.Time
	for _, a := range acks {
		if a.Partition == p && a.At.After(from) && a.At.Before(to) {
			at = append(at, a.At)
		}
	}
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	prev, longest := from, time.Duration(0)
	for _, t := range append(at, to) {
		if d := t.Sub(prev); d > longest {
			longest = d
		}
		prev = t
	}
	return longest
}

// TestControlledShutdownMovesLeaders is R1: SIGTERM to a broker leading
// partitions under acks=all load. When it has exited, the survivors'
// metadata names other leaders for all of them, ZooKeeper's ISRs no longer
// hold it, no partition went more than 5 s without an acknowledgement, and
// nothing acknowledged is lost; restarted, it rejoins every ISR.
func TestControlledShutdownMovesLeaders(t *testing.T) {
	c := shutdownCluster(t)
	const topic, parts = "shutdown", int32(6)
	createRF3Topic(t, c, topic, parts, nil)
	topics := map[string]int32{topic: parts}
	victim := c.Leader(t, topic, 0)
	var led []int32
	for p := int32(0); p < parts; p++ {
		if c.Leader(t, topic, p) == victim {
			led = append(led, p)
		}
	}
	w := startRetryingProducer(t, c, topic, "r1", 300)
	w.WaitAcks(c, 300, 30*time.Second)

	stopAt := time.Now()
	c.StopBroker(victim)
	exitAt := time.Now()
	t.Logf("broker %d (leader of %v) exited %v after SIGTERM; its shutdown:\n%s", victim, led, exitAt.Sub(stopAt).Round(time.Millisecond),
		grepTail(c.LogPath(victim), 20, "shutting down", "controlled shutdown", "shut down"))

	for i := 0; i < c.Brokers(); i++ {
		if i == victim {
			continue
		}
		leaders, err := metadataLeaders(c, i, topic)
		if err != nil {
			t.Fatal(err)
		}
		for p := int32(0); p < parts; p++ {
			if l, ok := leaders[p]; !ok || l == int32(victim) || l < 0 {
				t.Errorf("right after broker %d exited, broker %d's metadata says %s-%d is led by %d (present %v)", victim, i, topic, p, l, ok)
			}
		}
	}
	for p := int32(0); p < parts; p++ {
		st, err := c.PartitionState(topic, p)
		if err != nil {
			t.Fatal(err)
		}
		if contains(st.ISR, victim) || st.Leader == victim {
			t.Errorf("after the shutdown %s-%d has leader %d isr %v, still naming broker %d", topic, p, st.Leader, st.ISR, victim)
		}
	}
	if log, err := os.ReadFile(c.LogPath(victim)); err != nil || !strings.Contains(string(log), "controlled shutdown succeeded") {
		t.Errorf("broker %d's log does not report a successful controlled shutdown (%v)", victim, err)
	}

	w.WaitAcks(c, 600, 30*time.Second)
	acks := w.Acks()
	for _, p := range led {
		gap := longestAckGap(acks, p, stopAt.Add(-time.Second), exitAt.Add(3*time.Second))
		t.Logf("%s-%d: longest time without an ack around the shutdown: %v", topic, p, gap.Round(time.Millisecond))
		if gap > 5*time.Second {
			t.Errorf("%s-%d went %v without an acknowledgement (R1: <= 5 s)", topic, p, gap)
		}
	}

	c.StartBroker(victim)
	c.WaitFullISR(t, 60*time.Second, 3, topics)
	w.WaitAcks(c, 300, 30*time.Second)
	w.Stop()
	verify(t, c, w, parts)
}

// startRetryingProducer is the checker's workload with a producer that
// retries, as an application riding out a rolling restart would
// configure it: only errors that survive the retries reach the workload.
func startRetryingProducer(t testing.TB, c *Cluster, topic, name string, rate int) *producerWorkload {
	t.Helper()
	cfg := c.SaramaConfig()
	cfg.ClientID = "gregor-" + name
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Retry.Max = 30
	cfg.Producer.Retry.Backoff = 250 * time.Millisecond
	cfg.Producer.Timeout = 10 * time.Second
	cfg.Net.ReadTimeout = 12 * time.Second
	cfg.Net.MaxOpenRequests = 1 // retries keep the order within a partition
	cfg.Producer.Partitioner = sarama.NewHashPartitioner
	cfg.Metadata.RefreshFrequency = 2 * time.Second
	p, err := sarama.NewAsyncProducer(c.Bootstrap(), cfg)
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	return runWorkload(t, p, topic, name, rate)
}

// TestRollingRestart is R23 without the group: every broker in turn gets
// SIGTERM and is started again under acks=all load (RF 3,
// min.insync.replicas 2) from a producer with retries. No acknowledged
// record is lost, no error survives the producer's retries, and after the
// auto rebalance interval every partition is led by its preferred replica
// again.
func TestRollingRestart(t *testing.T) {
	c := shutdownCluster(t)
	const topic, parts = "rolling", int32(6)
	createRF3Topic(t, c, topic, parts, nil)
	topics := map[string]int32{topic: parts}
	waitPreferredLeaders(t, c, topic, 30*time.Second)
	w := startRetryingProducer(t, c, topic, "r23", 200)
	w.WaitAcks(c, 200, 30*time.Second)
	for i := 0; i < c.Brokers(); i++ {
		started := time.Now()
		c.StopBroker(i)
		t.Logf("broker %d stopped in %v", i, time.Since(started).Round(time.Millisecond))
		c.StartBroker(i)
		c.WaitFullISR(t, 60*time.Second, 3, topics)
		w.WaitAcks(c, 200, 30*time.Second)
	}
	// The last broker restarted leads nothing until the rebalance (first
	// check 5 s after a failover, then every 5 s here).
	waitPreferredLeaders(t, c, topic, 30*time.Second)
	w.WaitAcks(c, 200, 30*time.Second)
	w.Stop()
	w.mu.Lock()
	errs := len(w.errs)
	w.mu.Unlock()
	if errs > 0 {
		t.Errorf("errors reached the producer through its retries: %s", w.Summary())
	}
	verify(t, c, w, parts)
}
