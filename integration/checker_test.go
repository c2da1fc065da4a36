package integration

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"
)

// The delivery checker of the fault matrix (Kafka's validate_delivery plus
// the Jepsen anomaly names): a durable producer records every acknowledged
// (partition, offset, value); after each heal a consumer reads every
// partition from the oldest offset to the high watermark, and check compares.

// ack is one acknowledged record.
type ack struct {
	Partition int32
	Offset    int64
	Value     string
	Seq       int64 // the producer's sequence number, in send order
	At        time.Time
}

// delivery is what the checker found.
type delivery struct {
	Acked        int
	Lost         []string // I-lost: acked but not read back at its offset
	Inconsistent []string // I-off: one (partition, offset) with two values
	Vanished     []string // I-hw: read once below the HW, later gone
	NonMonotonic []string // I-mono: a later ack with a lower offset on one partition
	Duplicates   int      // values read at more than one offset (allowed without idempotence)
}

func (d delivery) String() string {
	return fmt.Sprintf("acked %d, lost %d, inconsistent %d, vanished %d, non-monotonic %d, duplicates %d%s",
		d.Acked, len(d.Lost), len(d.Inconsistent), len(d.Vanished), len(d.NonMonotonic), d.Duplicates, d.samples())
}

func (d delivery) samples() string {
	var b strings.Builder
	for _, s := range []struct {
		name string
		list []string
	}{{"lost", d.Lost}, {"inconsistent", d.Inconsistent}, {"vanished", d.Vanished}, {"non-monotonic", d.NonMonotonic}} {
		if len(s.list) > 0 {
			fmt.Fprintf(&b, "; %s e.g. %s", s.name, strings.Join(s.list[:min(5, len(s.list))], ", "))
		}
	}
	return b.String()
}

// ok says whether the durability invariants hold (duplicates are allowed).
func (d delivery) ok() bool {
	return len(d.Lost) == 0 && len(d.Inconsistent) == 0 && len(d.Vanished) == 0 && len(d.NonMonotonic) == 0
}

// logView is every read of a topic so far: (partition, offset) → value.
type logView map[int32]map[int64]string

// checkDelivery compares acks with what was read now (read) and in earlier
// reads (seen, updated in place).
func checkDelivery(acks []ack, read, seen logView) delivery {
	d := delivery{Acked: len(acks)}
	for p, offs := range seen {
		for off, v := range offs {
			got, ok := read[p][off]
			switch {
			case !ok:
				d.Vanished = append(d.Vanished, fmt.Sprintf("%d@%d=%s", p, off, v))
			case got != v:
				d.Inconsistent = append(d.Inconsistent, fmt.Sprintf("%d@%d=%s then %s", p, off, v, got))
			}
		}
	}
	for p, offs := range read {
		if seen[p] == nil {
			seen[p] = map[int64]string{}
		}
		for off, v := range offs {
			seen[p][off] = v
		}
	}
	count := map[string]int{}
	for _, offs := range read {
		for _, v := range offs {
			count[v]++
		}
	}
	for _, n := range count {
		if n > 1 {
			d.Duplicates += n - 1
		}
	}
	bySeq := append([]ack(nil), acks...)
	sort.Slice(bySeq, func(i, j int) bool { return bySeq[i].Seq < bySeq[j].Seq })
	last := map[int32]ack{}
	for _, a := range bySeq {
		got, ok := read[a.Partition][a.Offset]
		switch {
		case !ok:
			d.Lost = append(d.Lost, fmt.Sprintf("%d@%d=%s", a.Partition, a.Offset, a.Value))
		case got != a.Value:
			d.Inconsistent = append(d.Inconsistent, fmt.Sprintf("%d@%d acked %s, read %s", a.Partition, a.Offset, a.Value, got))
		}
		if prev, ok := last[a.Partition]; ok && a.Offset <= prev.Offset {
			d.NonMonotonic = append(d.NonMonotonic, fmt.Sprintf("%d: %s@%d after %s@%d", a.Partition, a.Value, a.Offset, prev.Value, prev.Offset))
		}
		last[a.Partition] = a
	}
	return d
}

func TestCheckDeliveryCatchesEveryAnomaly(t *testing.T) {
	acks := []ack{
		{Partition: 0, Offset: 0, Value: "a", Seq: 0},
		{Partition: 0, Offset: 1, Value: "b", Seq: 1},
		{Partition: 1, Offset: 0, Value: "c", Seq: 2},
	}
	tests := []struct {
		name  string
		read  logView
		seen  logView
		check func(delivery) bool
	}{
		{"all there", logView{0: {0: "a", 1: "b"}, 1: {0: "c"}}, logView{}, func(d delivery) bool { return d.ok() && d.Duplicates == 0 }},
		{"lost", logView{0: {0: "a"}, 1: {0: "c"}}, logView{}, func(d delivery) bool { return len(d.Lost) == 1 && !d.ok() }},
		{"other value at the acked offset", logView{0: {0: "a", 1: "x"}, 1: {0: "c"}}, logView{}, func(d delivery) bool { return len(d.Inconsistent) == 1 && !d.ok() }},
		{"changed since an earlier read", logView{0: {0: "a", 1: "b", 2: "y"}, 1: {0: "c"}}, logView{0: {2: "z"}}, func(d delivery) bool { return len(d.Inconsistent) == 1 && !d.ok() }},
		{"vanished since an earlier read", logView{0: {0: "a", 1: "b"}, 1: {0: "c"}}, logView{1: {1: "z"}}, func(d delivery) bool { return len(d.Vanished) == 1 && !d.ok() }},
		{"duplicate", logView{0: {0: "a", 1: "b", 2: "b"}, 1: {0: "c"}}, logView{}, func(d delivery) bool { return d.ok() && d.Duplicates == 1 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if d := checkDelivery(acks, tc.read, tc.seen); !tc.check(d) {
				t.Errorf("checkDelivery: %s", d)
			}
		})
	}
	t.Run("non-monotonic", func(t *testing.T) {
		bad := []ack{{Partition: 0, Offset: 1, Value: "a", Seq: 0}, {Partition: 0, Offset: 0, Value: "b", Seq: 1}}
		if d := checkDelivery(bad, logView{0: {0: "b", 1: "a"}}, logView{}); len(d.NonMonotonic) != 1 {
			t.Errorf("checkDelivery: %s", d)
		}
	})
}

// producerWorkload is WP of the fault matrix: a sarama AsyncProducer with
// acks=all (or W1's acks=1) and no retries, unique values, keyed across the
// topic's partitions, at a steady rate until stopped.
type producerWorkload struct {
	t     testing.TB
	topic string
	name  string

	producer sarama.AsyncProducer
	stop     chan struct{}
	wg       sync.WaitGroup
	// sendMu is held across each send to the producer's input, so Stop can
	// close the input only once no send is in progress.
	sendMu sync.Mutex

	mu      sync.Mutex
	acks    []ack
	errs    map[string]int
	pending map[int64]time.Time
	sent    int64
	seen    logView
}

// startProducer starts the workload at about rate messages per second.
func startProducer(t testing.TB, c *Cluster, topic, name string, acks sarama.RequiredAcks, rate int) *producerWorkload {
	t.Helper()
	cfg := c.SaramaConfig()
	cfg.ClientID = "gregor-" + name
	cfg.Producer.RequiredAcks = acks
	cfg.Producer.Retry.Max = 0
	cfg.Producer.Timeout = 10 * time.Second
	// Past the produce timeout, so a paused broker's requests fail soon
	// after the broker would have answered REQUEST_TIMED_OUT.
	cfg.Net.ReadTimeout = 12 * time.Second
	cfg.Producer.Partitioner = sarama.NewHashPartitioner
	cfg.Metadata.RefreshFrequency = 2 * time.Second
	cfg.Metadata.Retry.Max = 3
	p, err := sarama.NewAsyncProducer(c.Bootstrap(), cfg)
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	return runWorkload(t, p, topic, name, rate)
}

// runWorkload sends unique values to topic through p at about rate
// messages per second and records every answer, until Stop (registered
// as a cleanup of t).
func runWorkload(t testing.TB, p sarama.AsyncProducer, topic, name string, rate int) *producerWorkload {
	w := &producerWorkload{t: t, topic: topic, name: name, producer: p, stop: make(chan struct{}),
		errs: map[string]int{}, pending: map[int64]time.Time{}, seen: logView{}}
	w.wg.Add(3)
	go w.send(rate)
	go func() {
		defer w.wg.Done()
		for m := range p.Successes() {
			seq := m.Metadata.(int64)
			w.mu.Lock()
			delete(w.pending, seq)
			w.acks = append(w.acks, ack{Partition: m.Partition, Offset: m.Offset, Value: string(valueBytes(m)), Seq: seq, At: time.Now()})
			w.mu.Unlock()
		}
	}()
	go func() {
		defer w.wg.Done()
		for e := range p.Errors() {
			w.mu.Lock()
			delete(w.pending, e.Msg.Metadata.(int64))
			w.errs[errorClass(e.Err)]++
			w.mu.Unlock()
		}
	}()
	t.Cleanup(w.Stop)
	return w
}

func valueBytes(m *sarama.ProducerMessage) []byte {
	b, _ := m.Value.Encode()
	return b
}

// errorClass names a produce error for the summary: Kafka's error name
// (NOT_ENOUGH_REPLICAS) for a broker's answer, the error without addresses
// for a network failure.
func errorClass(err error) string {
	var kerrCode sarama.KError
	if errors.As(err, &kerrCode) {
		if ke, ok := kerr.ErrorForCode(int16(kerrCode)).(*kerr.Error); ok {
			return ke.Message
		}
	}
	return addrPattern.ReplaceAllString(err.Error(), "<addr>")
}

var addrPattern = regexp.MustCompile(`\d+\.\d+\.\d+\.\d+:\d+`)

func (w *producerWorkload) send(rate int) {
	defer w.wg.Done()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for seq := int64(0); ; seq++ {
		select {
		case <-w.stop:
			return
		case <-tick.C:
		}
		msg := &sarama.ProducerMessage{
			Topic:    w.topic,
			Key:      sarama.StringEncoder(strconv.FormatInt(seq%20, 10)),
			Value:    sarama.StringEncoder(fmt.Sprintf("%s-%d", w.name, seq)),
			Metadata: seq,
		}
		w.sendMu.Lock()
		select {
		case <-w.stop:
			w.sendMu.Unlock()
			return
		default:
		}
		w.mu.Lock()
		w.pending[seq] = time.Now()
		w.sent++
		w.mu.Unlock()
		select {
		case w.producer.Input() <- msg:
		case <-w.stop:
			w.sendMu.Unlock()
			return
		}
		w.sendMu.Unlock()
	}
}

// Stop ends the workload and waits for every answer.
func (w *producerWorkload) Stop() {
	select {
	case <-w.stop:
		return
	default:
	}
	close(w.stop)
	w.sendMu.Lock() // the sender has left its send and sees stop from now on
	w.producer.AsyncClose()
	w.sendMu.Unlock()
	w.wg.Wait()
}

// Acks returns a copy of the acknowledgements so far.
func (w *producerWorkload) Acks() []ack {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]ack(nil), w.acks...)
}

// AcksSince counts acknowledgements received after t0 on partition p (-1:
// any).
func (w *producerWorkload) AcksSince(t0 time.Time, p int32) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, a := range w.acks {
		if a.At.After(t0) && (p < 0 || a.Partition == p) {
			n++
		}
	}
	return n
}

// WaitAcks waits until n more acknowledgements than now have arrived.
func (w *producerWorkload) WaitAcks(c *Cluster, n int, timeout time.Duration) {
	w.t.Helper()
	base := len(w.Acks())
	c.WaitFor(w.t, timeout, func() error {
		if got := len(w.Acks()) - base; got < n {
			return fmt.Errorf("%s: %d of %d new acks (%s)", w.name, got, n, w.Summary())
		}
		return nil
	})
}

// Summary is a one-line account of the workload.
func (w *producerWorkload) Summary() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	keys := make([]string, 0, len(w.errs))
	for k, n := range w.errs {
		keys = append(keys, fmt.Sprintf("%q×%d", k, n))
	}
	sort.Strings(keys)
	return fmt.Sprintf("sent %d, acked %d, in flight %d, errors [%s]", w.sent, len(w.acks), len(w.pending), strings.Join(keys, ", "))
}

// Check reads the whole topic now and compares it with the acks (and with
// earlier checks).
func (w *producerWorkload) Check(t testing.TB, c *Cluster, partitions int32) delivery {
	t.Helper()
	// The acks are taken before the read: every one of them was below the
	// high watermark when it arrived, so the read must find it. Acks that
	// arrive during the read may be above the HW the read used.
	acks := w.Acks()
	read := readTopic(t, c, w.topic, partitions)
	w.mu.Lock()
	defer w.mu.Unlock()
	return checkDelivery(acks, read, w.seen)
}

// readTopic reads every partition of topic from the oldest offset to the
// high watermark.
func readTopic(t testing.TB, c *Cluster, topic string, partitions int32) logView {
	t.Helper()
	var out logView
	c.WaitFor(t, 60*time.Second, func() error {
		view, err := tryReadTopic(c, topic, partitions)
		if err != nil {
			return err
		}
		out = view
		return nil
	})
	return out
}

func tryReadTopic(c *Cluster, topic string, partitions int32) (logView, error) {
	cfg := c.SaramaConfig()
	cfg.Consumer.Return.Errors = true
	client, err := sarama.NewClient(c.LiveBootstrap(), cfg)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return nil, err
	}
	defer consumer.Close()
	view := logView{}
	for p := int32(0); p < partitions; p++ {
		if err := client.RefreshMetadata(topic); err != nil {
			return nil, err
		}
		hw, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return nil, fmt.Errorf("high watermark of %s-%d: %w", topic, p, err)
		}
		view[p] = map[int64]string{}
		if hw == 0 {
			continue
		}
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			return nil, fmt.Errorf("consume %s-%d: %w", topic, p, err)
		}
		timeout := time.After(60 * time.Second)
	read:
		for {
			select {
			case m := <-pc.Messages():
				view[p][m.Offset] = string(m.Value)
				if m.Offset >= hw-1 {
					break read
				}
			case e := <-pc.Errors():
				pc.Close()
				return nil, fmt.Errorf("consume %s-%d: %w", topic, p, e.Err)
			case <-timeout:
				pc.Close()
				return nil, fmt.Errorf("consume %s-%d: stuck below the high watermark %d", topic, p, hw)
			}
		}
		pc.Close()
	}
	return view, nil
}

// replicaBatches returns the bytes of the record batches of one replica's
// partition directory whose last offset is below hw, in offset order,
// whatever the segment boundaries (replicas roll segments independently).
func replicaBatches(dataDir, topic string, partition int32, hw int64) ([]byte, error) {
	dir := filepath.Join(dataDir, fmt.Sprintf("%s-%d", topic, partition))
	segs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		return nil, err
	}
	sort.Strings(segs)
	var out bytes.Buffer
	for _, seg := range segs {
		data, err := os.ReadFile(seg)
		if err != nil {
			return nil, err
		}
		for len(data) >= 61 {
			base := int64(binary.BigEndian.Uint64(data))
			size := 12 + int(int32(binary.BigEndian.Uint32(data[8:])))
			if size < 61 || size > len(data) {
				break // a batch being written: above the HW anyway
			}
			last := base + int64(int32(binary.BigEndian.Uint32(data[23:])))
			if last >= hw {
				return out.Bytes(), nil
			}
			out.Write(data[:size])
			data = data[size:]
		}
	}
	return out.Bytes(), nil
}

// CheckReplicasIdentical is I-div: every replica's batches below the high
// watermark are byte-for-byte the same (KAFKA's offsetsShouldNotGoBackwards
// check).
func CheckReplicasIdentical(t testing.TB, c *Cluster, topic string, partitions int32) {
	t.Helper()
	client := c.Client(t, nil)
	for p := int32(0); p < partitions; p++ {
		hw, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Errorf("high watermark of %s-%d: %v", topic, p, err)
			continue
		}
		var ref []byte
		for b := 0; b < c.Brokers(); b++ {
			got, err := replicaBatches(c.DataDir(b), topic, p, hw)
			if err != nil {
				t.Errorf("broker %d %s-%d: %v", b, topic, p, err)
				continue
			}
			if b == 0 {
				ref = got
				continue
			}
			if !bytes.Equal(got, ref) {
				t.Errorf("I-div: %s-%d below HW %d: broker %d has %d bytes, broker 0 has %d, and they differ", topic, p, hw, b, len(got), len(ref))
			}
		}
	}
}
