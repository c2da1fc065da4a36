package integration

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The idempotent producer of issue 5: raw resends of one batch checked
// against Kafka's answers, de-duplication after a kill -9 with no producer
// snapshot since the last roll, and the fault-matrix workload WI (sarama
// with Idempotent=true and one request in flight, franz-go's default
// idempotent producer with five) through R1 and R2 with zero lost and zero
// duplicates.

// rawProducer speaks Produce, InitProducerId and ListOffsets to one broker
// with kmsg requests, so each reply can be checked as sent.
type rawProducer struct {
	t      *testing.T
	cl     *kgo.Client
	broker int32
	topic  string
	pid    int64
	epoch  int16
}

func newRawProducer(t *testing.T, c *Cluster, broker int, topic string) *rawProducer {
	t.Helper()
	r := &rawProducer{t: t, broker: int32(broker), topic: topic}
	r.reconnect(c)
	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionTimeoutMillis = 60000
	init.ProducerID, init.ProducerEpoch = -1, -1
	var resp *kmsg.InitProducerIDResponse
	c.WaitFor(t, 30*time.Second, func() error {
		kresp, err := r.request(init)
		if err != nil {
			return err
		}
		resp = kresp.(*kmsg.InitProducerIDResponse)
		return kerr.ErrorForCode(resp.ErrorCode)
	})
	r.pid, r.epoch = resp.ProducerID, resp.ProducerEpoch
	return r
}

// reconnect replaces the client, so that no request goes out on a
// connection to a broker process that is gone (the producer keeps its id).
func (r *rawProducer) reconnect(c *Cluster) {
	r.t.Helper()
	if r.cl != nil {
		r.cl.Close()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr(int(r.broker))), kgo.RequestRetries(0))
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(cl.Close)
	r.cl = cl
}

func (r *rawProducer) request(req kmsg.Request) (kmsg.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return r.cl.Broker(int(r.broker)).Request(ctx, req)
}

// batch is the producer's one-record batch with sequence seq, as a client
// builds it: base offset 0, CRC-32C over attributes..end.
func (r *rawProducer) batch(seq int32, value string) []byte {
	rec := kmsg.Record{Value: []byte(value)}
	body := rec.AppendTo(nil)
	rec.Length = int32(len(body) - 1)
	now := time.Now().UnixMilli()
	b := kmsg.RecordBatch{
		Magic: 2, FirstTimestamp: now, MaxTimestamp: now,
		ProducerID: r.pid, ProducerEpoch: r.epoch, FirstSequence: seq,
		NumRecords: 1, Records: rec.AppendTo(nil), PartitionLeaderEpoch: -1,
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

// produce sends one batch with acks=all and returns the partition's reply.
func (r *rawProducer) produce(batch []byte) kmsg.ProduceResponseTopicPartition {
	r.t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = r.topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = 0, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := r.request(req)
	if err != nil {
		r.t.Fatalf("produce: %v", err)
	}
	return resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
}

// logEndOffset is ListOffsets LATEST from the broker.
func (r *rawProducer) logEndOffset() (int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = r.topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp = 0, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := r.request(req)
	if err != nil {
		return -1, err
	}
	p := resp.(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		return -1, err
	}
	return p.Offset, nil
}

func (r *rawProducer) mustLogEndOffset() int64 {
	r.t.Helper()
	leo, err := r.logEndOffset()
	if err != nil {
		r.t.Fatalf("log end offset: %v", err)
	}
	return leo
}

// sendNew produces batches for seqs [from, to) and returns their offsets.
func (r *rawProducer) sendNew(from, to int32) map[int32]int64 {
	r.t.Helper()
	offs := map[int32]int64{}
	for s := from; s < to; s++ {
		p := r.produce(r.batch(s, "v"+strconv.Itoa(int(s))))
		if p.ErrorCode != 0 {
			r.t.Fatalf("seq %d: %v", s, kerr.ErrorForCode(p.ErrorCode))
		}
		offs[s] = p.BaseOffset
	}
	return offs
}

// checkResend resends seq (value as first sent) and checks Kafka's answer:
// with want NONE the original offset and no write; otherwise the error.
func (r *rawProducer) checkResend(seq int32, want *kerr.Error, wantOffset int64) {
	r.t.Helper()
	leo := r.mustLogEndOffset()
	p := r.produce(r.batch(seq, "v"+strconv.Itoa(int(seq))))
	switch {
	case want == nil && (p.ErrorCode != 0 || p.BaseOffset != wantOffset):
		r.t.Errorf("resend of seq %d: %v at offset %d, want NONE at its original offset %d", seq, kerr.ErrorForCode(p.ErrorCode), p.BaseOffset, wantOffset)
	case want != nil && p.ErrorCode != want.Code:
		r.t.Errorf("resend of seq %d: %v at offset %d, want %s", seq, kerr.ErrorForCode(p.ErrorCode), p.BaseOffset, want.Message)
	}
	if after := r.mustLogEndOffset(); after != leo {
		r.t.Errorf("resend of seq %d moved the log end offset from %d to %d", seq, leo, after)
	}
}

// A batch resent 1 and 5 batches later (counting itself as the latest: the
// newest and the oldest of the five batches a broker remembers per
// producer) is answered NONE with its original offset and not written; 6
// batches later it is older than the window and Kafka answers
// OUT_OF_ORDER_SEQUENCE_NUMBER (ProducerAppendInfo.checkSequence: the
// sequence does not follow the last one; UnifiedLog only de-duplicates
// against ProducerStateEntry's five cached batches).
func TestIdempotentRawResends(t *testing.T) {
	c := newCluster(t, opts{Brokers: 1})
	const topic = "idem-raw"
	if err := c.Admin(t, nil).CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false); err != nil {
		t.Fatal(err)
	}
	r := newRawProducer(t, c, 0, topic)
	c.WaitFor(t, 30*time.Second, func() error { _, err := r.logEndOffset(); return err })

	offs := r.sendNew(0, 10)
	if leo := r.mustLogEndOffset(); leo != 10 {
		t.Fatalf("log end offset %d after 10 batches", leo)
	}
	r.checkResend(9, nil, offs[9])                       // 1 batch later: the latest
	r.checkResend(5, nil, offs[5])                       // 5 batches later: the oldest remembered
	r.checkResend(4, kerr.OutOfOrderSequenceNumber, -1)  // 6 batches later
	r.checkResend(11, kerr.OutOfOrderSequenceNumber, -1) // a gap
	more := r.sendNew(10, 11)
	if more[10] != 10 {
		t.Fatalf("seq 10 at offset %d, want 10", more[10])
	}

	// What a consumer reads: every value once.
	view := readTopic(t, c, topic, 1)
	if len(view[0]) != 11 {
		t.Errorf("read %d records, want 11: %v", len(view[0]), view[0])
	}
	for off, v := range view[0] {
		if v != "v"+strconv.FormatInt(off, 10) {
			t.Errorf("offset %d holds %q", off, v)
		}
	}
}

// snapshotOffsets lists the producer snapshots of a partition directory.
func snapshotOffsets(t *testing.T, dir string) []int64 {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.snapshot"))
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for _, n := range names {
		off, err := strconv.ParseInt(strings.TrimSuffix(filepath.Base(n), ".snapshot"), 10, 64)
		if err != nil {
			t.Fatalf("snapshot name %s: %v", n, err)
		}
		offs = append(offs, off)
	}
	sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
	return offs
}

// kill -9 with batches after the last snapshot (taken at the last roll):
// the restarted broker rebuilds the producer state from that snapshot and
// the log after it, and still de-duplicates the last five batches.
func TestIdempotentDedupAfterKill(t *testing.T) {
	c := newCluster(t, opts{Brokers: 1})
	const topic = "idem-kill"
	segBytes := "1024" // a few batches per segment: several rolls
	if err := c.Admin(t, nil).CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1,
		ConfigEntries: map[string]*string{"segment.bytes": &segBytes}}, false); err != nil {
		t.Fatal(err)
	}
	r := newRawProducer(t, c, 0, topic)
	c.WaitFor(t, 30*time.Second, func() error { _, err := r.logEndOffset(); return err })
	offs := r.sendNew(0, 40)
	leo := r.mustLogEndOffset()
	dir := filepath.Join(c.DataDir(0), topic+"-0")
	snaps := snapshotOffsets(t, dir)
	if len(snaps) == 0 || snaps[len(snaps)-1] >= leo || snaps[len(snaps)-1] > 35 {
		t.Fatalf("snapshots %v with log end %d: want a roll snapshot with at least five batches after it", snaps, leo)
	}
	t.Logf("snapshots before the kill: %v, log end %d", snaps, leo)

	c.KillBroker(0)
	c.WaitDeregistered(t, 0)
	if after := snapshotOffsets(t, dir); after[len(after)-1] != snaps[len(snaps)-1] {
		t.Fatalf("a snapshot appeared at the kill: %v", after)
	}
	c.StartBroker(0)
	c.WaitReady(t)
	r.reconnect(c)
	c.WaitFor(t, 60*time.Second, func() error { _, err := r.logEndOffset(); return err })
	if got := r.mustLogEndOffset(); got != leo {
		t.Fatalf("log end %d after the restart, want %d", got, leo)
	}
	for s := int32(35); s < 40; s++ {
		r.checkResend(s, nil, offs[s])
	}
	r.checkResend(34, kerr.OutOfOrderSequenceNumber, -1)
	if next := r.sendNew(40, 41); next[40] != leo {
		t.Fatalf("seq 40 at %d, want %d", next[40], leo)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
}

// startIdempotentSarama is workload WI's sarama producer: the WP workload
// (producerWorkload) with Idempotent=true, acks=all, one request in
// flight and effectively unlimited retries.
func startIdempotentSarama(t testing.TB, c *Cluster, topic, name string, rate int) *producerWorkload {
	t.Helper()
	cfg := c.SaramaConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.ClientID = "gregor-" + name
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Retry.Max = 1_000_000
	cfg.Producer.Retry.Backoff = 100 * time.Millisecond
	cfg.Producer.Timeout = 10 * time.Second
	cfg.Net.ReadTimeout = 12 * time.Second
	cfg.Producer.Partitioner = sarama.NewHashPartitioner
	cfg.Metadata.RefreshFrequency = 2 * time.Second
	p, err := sarama.NewAsyncProducer(c.Bootstrap(), cfg)
	if err != nil {
		t.Fatalf("idempotent producer: %v", err)
	}
	return runWorkload(t, p, topic, name, rate)
}

// kgoWorkload is WI's franz-go producer: the client's defaults (idempotent,
// acks=all, five produce requests in flight per broker, unlimited retries),
// unique values keyed across the partitions at a steady rate.
type kgoWorkload struct {
	t     testing.TB
	topic string
	name  string
	cl    *kgo.Client
	stop  chan struct{}
	done  chan struct{}

	mu   sync.Mutex
	acks []ack
	errs map[string]int
	sent int64
	seen logView
}

func startKgoProducer(t testing.TB, c *Cluster, topic, name string, rate int) *kgoWorkload {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.Bootstrap()...),
		kgo.ClientID("gregor-"+name),
		kgo.DefaultProduceTopic(topic),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.MetadataMinAge(250*time.Millisecond),
		kgo.MetadataMaxAge(2*time.Second),
	)
	if err != nil {
		t.Fatal(err)
	}
	w := &kgoWorkload{t: t, topic: topic, name: name, cl: cl, stop: make(chan struct{}), done: make(chan struct{}),
		errs: map[string]int{}, seen: logView{}}
	go w.send(rate)
	t.Cleanup(w.Stop)
	return w
}

func (w *kgoWorkload) send(rate int) {
	defer close(w.done)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for seq := int64(0); ; seq++ {
		select {
		case <-w.stop:
			return
		case <-tick.C:
		}
		rec := &kgo.Record{Key: []byte(strconv.FormatInt(seq%20, 10)), Value: []byte(fmt.Sprintf("%s-%d", w.name, seq))}
		w.mu.Lock()
		w.sent++
		w.mu.Unlock()
		w.cl.Produce(context.Background(), rec, func(r *kgo.Record, err error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			if err != nil {
				w.errs[errorClass(err)]++
				return
			}
			w.acks = append(w.acks, ack{Partition: r.Partition, Offset: r.Offset, Value: string(r.Value), Seq: seq, At: time.Now()})
		})
	}
}

// Stop ends the workload and waits for every record's outcome.
func (w *kgoWorkload) Stop() {
	select {
	case <-w.stop:
		return
	default:
	}
	close(w.stop)
	<-w.done
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := w.cl.Flush(ctx); err != nil {
		w.t.Errorf("%s: flush: %v", w.name, err)
	}
	w.cl.Close()
}

func (w *kgoWorkload) Acks() []ack {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]ack(nil), w.acks...)
}

func (w *kgoWorkload) Summary() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	keys := make([]string, 0, len(w.errs))
	for k, n := range w.errs {
		keys = append(keys, fmt.Sprintf("%q×%d", k, n))
	}
	sort.Strings(keys)
	return fmt.Sprintf("sent %d, acked %d, errors [%s]", w.sent, len(w.acks), strings.Join(keys, ", "))
}

// checkWI runs the delivery checker for one WI producer: nothing lost,
// nothing inconsistent or vanished, offsets monotonic, and no duplicates.
func checkWI(t *testing.T, c *Cluster, topic string, acks []ack, seen logView, summary string) {
	t.Helper()
	read := readTopic(t, c, topic, durableParts)
	d := checkDelivery(acks, read, seen)
	t.Logf("checker %s: %s; producer %s", topic, d, summary)
	if !d.ok() || d.Duplicates != 0 {
		t.Errorf("WI invariants broken on %s: %s", topic, d)
	}
	if d.Acked == 0 {
		t.Errorf("WI on %s: nothing acknowledged", topic)
	}
	CheckReplicasIdentical(t, c, topic, durableParts)
}

// Workload WI through R1/R3 (SIGTERM of the leader, five times), R2/R4
// (SIGKILL, five times) and R10 (a zombie leader): every acknowledged
// record is read back exactly once, for sarama (one request in flight) and
// franz-go (five), and the replicas are identical below the high watermark.
func TestIdempotentWorkloadFaults(t *testing.T) {
	c := replicationCluster(t)
	const saramaTopic, kgoTopic = "wi-sarama", "wi-kgo"
	createRF3Topic(t, c, saramaTopic, durableParts, nil)
	createRF3Topic(t, c, kgoTopic, durableParts, nil)
	topics := map[string]int32{saramaTopic: durableParts, kgoTopic: durableParts}
	ws := startIdempotentSarama(t, c, saramaTopic, "wi-sarama", 200)
	wk := startKgoProducer(t, c, kgoTopic, "wi-kgo", 200)
	ws.WaitAcks(c, 200, 60*time.Second)
	waitKgoAcks := func(n int) {
		base := len(wk.Acks())
		c.WaitFor(t, 60*time.Second, func() error {
			if got := len(wk.Acks()) - base; got < n {
				return fmt.Errorf("franz-go: %d of %d new acks (%s)", got, n, wk.Summary())
			}
			return nil
		})
	}
	waitKgoAcks(200)

	// R1/R3: clean bounce (SIGTERM) of the leader five times, R2/R4: hard
	// bounce (SIGKILL) five times, each time chasing the current leader of
	// partition 0 of one of the two topics, alternately.
	for _, f := range []struct {
		name string
		hard bool
	}{{"R1_R3_clean_bounce_leader_x5", false}, {"R2_R4_hard_bounce_leader_x5", true}} {
		t.Run(f.name, func(t *testing.T) {
			for i := 0; i < 5; i++ {
				topic := []string{saramaTopic, kgoTopic}[i%2]
				leader := c.Leader(t, topic, 0)
				if f.hard {
					c.KillBroker(leader)
				} else {
					c.StopBroker(leader)
				}
				t.Logf("bounce %d: leader %d of %s-0 stopped (hard=%v)", i+1, leader, topic, f.hard)
				ws.WaitAcks(c, 100, 60*time.Second)
				waitKgoAcks(100)
				converge(t, c, topics)
			}
		})
	}
	// R10 for WI: a zombie leader's in-flight produces never succeed after
	// the resume.
	t.Run("R10_zombie_leader", func(t *testing.T) {
		leader := c.Leader(t, kgoTopic, 0)
		t0 := time.Now()
		c.PauseBroker(leader)
		ws.WaitAcks(c, 100, 60*time.Second)
		waitKgoAcks(100)
		time.Sleep(time.Until(t0.Add(2 * sessionTimeout)))
		c.ResumeBroker(leader)
		converge(t, c, topics)
	})

	ws.WaitAcks(c, 100, 60*time.Second)
	waitKgoAcks(100)
	ws.Stop()
	wk.Stop()
	checkWI(t, c, saramaTopic, ws.Acks(), ws.seen, ws.Summary())
	checkWI(t, c, kgoTopic, wk.Acks(), wk.seen, wk.Summary())
}
