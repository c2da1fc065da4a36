package integration

// Helpers that produce with sarama, remember what the broker acknowledged, read
// partitions back from the oldest offset and compare the two the way a user
// would: every acknowledged message once, at the offset the producer was told,
// in per-partition order.

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// record is one message as acknowledged by the broker or as consumed.
type record struct {
	Partition int32
	Offset    int64
	Key       []byte // nil: no key
	Value     string
}

func (r record) String() string {
	k := "<nil>"
	if r.Key != nil {
		k = string(r.Key)
	}
	return fmt.Sprintf("p%d@%d key=%s value=%.40q", r.Partition, r.Offset, k, r.Value)
}

func (r record) same(o record) bool {
	return r.Partition == o.Partition && r.Offset == o.Offset && r.Value == o.Value &&
		(r.Key == nil) == (o.Key == nil) && string(r.Key) == string(o.Key)
}

// createTopic creates topic with partitions and replication factor rf through
// the ClusterAdmin and waits until the metadata shows a leader for every
// partition.
func createTopic(t testing.TB, c *Cluster, admin sarama.ClusterAdmin, topic string, partitions int32, rf int16) {
	t.Helper()
	err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: rf}, false)
	if err != nil {
		t.Fatalf("CreateTopic(%s, partitions=%d, rf=%d): %v", topic, partitions, rf, err)
	}
	waitTopicReady(t, c, topic, int(partitions))
}

// waitTopicReady waits until a fresh metadata request lists topic with n
// partitions, each with a live leader.
func waitTopicReady(t testing.TB, c *Cluster, topic string, n int) {
	t.Helper()
	c.WaitFor(t, 30*time.Second, func() error {
		md, err := fetchMetadata(c, topic)
		if err != nil {
			return err
		}
		return topicReady(md, topic, n, c.live())
	})
}

func topicReady(md *sarama.MetadataResponse, topic string, n int, live []int) error {
	for _, tm := range md.Topics {
		if tm.Name != topic {
			continue
		}
		if tm.Err != sarama.ErrNoError {
			return fmt.Errorf("metadata for %s: %v", topic, tm.Err)
		}
		if len(tm.Partitions) != n {
			return fmt.Errorf("metadata for %s lists %d partitions, want %d", topic, len(tm.Partitions), n)
		}
		for _, p := range tm.Partitions {
			if p.Err != sarama.ErrNoError {
				return fmt.Errorf("metadata for %s/%d: %v", topic, p.ID, p.Err)
			}
			if !contains(live, int(p.Leader)) {
				return fmt.Errorf("metadata for %s/%d: leader %d is not a live broker %v", topic, p.ID, p.Leader, live)
			}
		}
		return nil
	}
	return fmt.Errorf("metadata does not list topic %s", topic)
}

// fetchMetadata sends one Metadata request (v11, topic ids and cluster id
// included, no auto-creation) to a live broker, bypassing sarama's cache.
func fetchMetadata(c *Cluster, topics ...string) (*sarama.MetadataResponse, error) {
	live := c.LiveBootstrap()
	if len(live) == 0 {
		return nil, errors.New("no live broker")
	}
	cfg := c.SaramaConfig()
	cfg.Net.ReadTimeout = 5 * time.Second
	var lastErr error
	for _, addr := range live {
		b := sarama.NewBroker(addr)
		if err := b.Open(cfg); err != nil {
			lastErr = err
			continue
		}
		req := sarama.NewMetadataRequest(sarama.V2_8_0_0, topics)
		req.AllowAutoTopicCreation = false
		md, err := b.GetMetadata(req)
		b.Close()
		if err != nil {
			lastErr = fmt.Errorf("metadata from %s: %w", addr, err)
			continue
		}
		return md, nil
	}
	return nil, lastErr
}

// message describes one message to produce.
type message struct {
	Partition int32  // used with a manual partitioner
	Key       []byte // nil: no key
	Value     string
}

// makeMessages builds n messages for topic; keyed ones cycle through 7 keys.
// Values are unique, a few hundred bytes, and compressible.
func makeMessages(prefix string, n int, keyed bool) []message {
	msgs := make([]message, n)
	for i := range msgs {
		m := message{Value: fmt.Sprintf("%s-%05d|%s", prefix, i, strings.Repeat(fmt.Sprintf("payload %s %d ", prefix, i%13), 1+i%17))}
		if keyed {
			m.Key = []byte(fmt.Sprintf("key-%d", i%7))
		}
		msgs[i] = m
	}
	return msgs
}

// produce sends msgs to topic with a SyncProducer built from cfg (batched,
// so compressed batches carry several records) and returns what the broker
// acknowledged. Any failed message fails t.
func produce(t testing.TB, c *Cluster, cfg *sarama.Config, topic string, msgs []message) []record {
	t.Helper()
	acked, err := produceSome(c, cfg, topic, msgs)
	if err != nil {
		t.Fatalf("produce %d messages to %s (%s, %s): %v", len(msgs), topic, cfg.Producer.Compression, cfg.Version, err)
	}
	return acked
}

// produceSome is produce that returns the acknowledged records together with
// the errors of the messages that failed.
func produceSome(c *Cluster, cfg *sarama.Config, topic string, msgs []message) ([]record, error) {
	p, err := sarama.NewSyncProducer(c.LiveBootstrap(), cfg)
	if err != nil {
		return nil, fmt.Errorf("NewSyncProducer: %w", err)
	}
	defer p.Close()
	pms := make([]*sarama.ProducerMessage, len(msgs))
	for i, m := range msgs {
		pm := &sarama.ProducerMessage{Topic: topic, Partition: m.Partition, Value: sarama.StringEncoder(m.Value)}
		if m.Key != nil {
			pm.Key = sarama.ByteEncoder(m.Key)
		}
		pms[i] = pm
	}
	sendErr := p.SendMessages(pms)
	failed := map[*sarama.ProducerMessage]error{}
	var errs sarama.ProducerErrors
	if errors.As(sendErr, &errs) {
		for _, pe := range errs {
			failed[pe.Msg] = pe.Err
		}
	} else if sendErr != nil {
		return nil, sendErr
	}
	var acked []record
	for i, pm := range pms {
		if _, bad := failed[pm]; bad {
			continue
		}
		acked = append(acked, record{Partition: pm.Partition, Offset: pm.Offset, Key: msgs[i].Key, Value: msgs[i].Value})
	}
	if len(failed) > 0 {
		var first error
		for _, pe := range errs {
			first = pe.Err
			break
		}
		return acked, fmt.Errorf("%d of %d messages failed, first: %w", len(failed), len(msgs), first)
	}
	return acked, nil
}

// byPartition groups records by partition, each list sorted by offset.
func byPartition(recs []record) map[int32][]record {
	m := map[int32][]record{}
	for _, r := range recs {
		m[r.Partition] = append(m[r.Partition], r)
	}
	for _, l := range m {
		sort.Slice(l, func(i, j int) bool { return l[i].Offset < l[j].Offset })
	}
	return m
}

// partitionOffsets asks the partition leader for the earliest and latest
// (high watermark) offsets.
func partitionOffsets(client sarama.Client, topic string, p int32) (oldest, newest int64, err error) {
	if oldest, err = client.GetOffset(topic, p, sarama.OffsetOldest); err != nil {
		return 0, 0, fmt.Errorf("ListOffsets earliest %s/%d: %w", topic, p, err)
	}
	if newest, err = client.GetOffset(topic, p, sarama.OffsetNewest); err != nil {
		return 0, 0, fmt.Errorf("ListOffsets latest %s/%d: %w", topic, p, err)
	}
	return oldest, newest, nil
}

// consumeAll reads every partition of topic from the oldest offset up to its
// high watermark at the time of the call, with one PartitionConsumer per
// partition, and returns the records by partition in the order received.
func consumeAll(t testing.TB, c *Cluster, cfg *sarama.Config, topic string) map[int32][]record {
	t.Helper()
	if cfg == nil {
		cfg = c.SaramaConfig()
	}
	client := c.Client(t, cfg)
	if err := client.RefreshMetadata(topic); err != nil {
		t.Fatalf("metadata for %s: %v", topic, err)
	}
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatalf("partitions of %s: %v", topic, err)
	}
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatalf("NewConsumerFromClient: %v", err)
	}
	defer consumer.Close()

	type result struct {
		p    int32
		recs []record
		err  error
	}
	results := make(chan result, len(parts))
	for _, p := range parts {
		_, hw, err := partitionOffsets(client, topic, p)
		if err != nil {
			t.Fatal(err)
		}
		if hw == 0 {
			results <- result{p: p}
			continue
		}
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("ConsumePartition(%s, %d, oldest): %v", topic, p, err)
		}
		go func(p int32, hw int64, pc sarama.PartitionConsumer) {
			var recs []record
			var lastErr error
			timeout := time.After(60 * time.Second)
			for {
				select {
				case m := <-pc.Messages():
					recs = append(recs, record{Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: string(m.Value)})
					if m.Offset >= hw-1 {
						_ = pc.Close()
						results <- result{p: p, recs: recs}
						return
					}
				case e := <-pc.Errors():
					lastErr = e
				case <-timeout:
					last := int64(-1)
					if len(recs) > 0 {
						last = recs[len(recs)-1].Offset
					}
					_ = pc.Close()
					results <- result{p: p, recs: recs, err: fmt.Errorf("partition %d: read up to offset %d of high watermark %d in 60s (last consumer error: %v)", p, last, hw, lastErr)}
					return
				}
			}
		}(p, hw, pc)
	}
	out := map[int32][]record{}
	var errs []string
	for range parts {
		r := <-results
		out[r.p] = r.recs
		if r.err != nil {
			errs = append(errs, r.err.Error())
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		t.Fatalf("consume %s: %s", topic, strings.Join(errs, "; "))
	}
	return out
}

// checkExactly asserts that the consumed partitions hold exactly the
// acknowledged records: each once, at the acknowledged offset, offsets
// 0..n-1 in order, and nothing else (the topic held nothing but acked).
func checkExactly(t testing.TB, acked []record, consumed map[int32][]record) {
	t.Helper()
	want := byPartition(acked)
	var problems []string
	for p, recs := range want {
		for i, r := range recs {
			if r.Offset != int64(i) {
				problems = append(problems, fmt.Sprintf("partition %d: producer was told offset %d for its message #%d (want contiguous offsets from 0, no duplicates)", p, r.Offset, i))
				break
			}
		}
	}
	for p, got := range consumed {
		w := want[p]
		if len(got) != len(w) {
			problems = append(problems, fmt.Sprintf("partition %d: consumed %d messages, %d were acknowledged", p, len(got), len(w)))
		}
		for i := 0; i < len(got) && i < len(w); i++ {
			if !got[i].same(w[i]) {
				problems = append(problems, fmt.Sprintf("partition %d, message #%d: consumed %s, acknowledged %s", p, i, got[i], w[i]))
				break
			}
		}
	}
	for p, w := range want {
		if _, ok := consumed[p]; !ok {
			problems = append(problems, fmt.Sprintf("partition %d: %d acknowledged messages, partition not consumed", p, len(w)))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		if len(problems) > 20 {
			problems = append(problems[:20], fmt.Sprintf("... and %d more", len(problems)-20))
		}
		t.Fatalf("consumed data does not match what was acknowledged:\n  %s", strings.Join(problems, "\n  "))
	}
}

// checkAcked asserts what survives a crash: every acknowledged record is
// consumed at its offset with its key and value; offsets strictly increase
// within a partition; anything else consumed was at least sent. It returns
// how many unacknowledged records were found.
func checkAcked(t testing.TB, acked []record, sent map[string]bool, consumed map[int32][]record) int {
	t.Helper()
	var problems []string
	at := map[int32]map[int64]record{}
	extra := 0
	for p, recs := range consumed {
		at[p] = map[int64]record{}
		for i, r := range recs {
			if i > 0 && r.Offset <= recs[i-1].Offset {
				problems = append(problems, fmt.Sprintf("partition %d: offset %d after %d", p, r.Offset, recs[i-1].Offset))
			}
			at[p][r.Offset] = r
			if !sent[r.Value] {
				problems = append(problems, fmt.Sprintf("consumed a message nobody sent: %s", r))
			}
		}
	}
	ackedAt := map[int32]map[int64]bool{}
	for _, a := range acked {
		if ackedAt[a.Partition] == nil {
			ackedAt[a.Partition] = map[int64]bool{}
		}
		ackedAt[a.Partition][a.Offset] = true
		got, ok := at[a.Partition][a.Offset]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("lost acknowledged %s", a))
		case !got.same(a):
			problems = append(problems, fmt.Sprintf("acknowledged %s, consumed %s", a, got))
		}
	}
	for p, recs := range consumed {
		for _, r := range recs {
			if !ackedAt[p][r.Offset] {
				extra++
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		n := len(problems)
		if n > 20 {
			problems = append(problems[:20], fmt.Sprintf("... and %d more", n-20))
		}
		t.Fatalf("%d problems comparing %d acknowledged messages with what was consumed:\n  %s", n, len(acked), strings.Join(problems, "\n  "))
	}
	return extra
}

// flatten joins per-partition records into one list.
func flatten(m map[int32][]record) []record {
	var out []record
	for _, recs := range m {
		out = append(out, recs...)
	}
	return out
}
