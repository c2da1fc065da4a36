package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// replTopic is the RF 3 topic of the replication benchmarks: 8 partitions,
// leaders spread over the 3 brokers by Gregor's assignment.
const replTopic = "repl"

// GREGOR_BENCH_LATENCY_MBPS, when set, fixes the rate (MB/s) of the
// latency benchmark's "half" run (and the others in proportion) instead of
// deriving it from the RF 3 maximum.

// latencyRound is how long each target produces in one latency round:
// GREGOR_BENCH_LATENCY_S seconds (default 3).
var latencyRound = sync.OnceValue(func() time.Duration {
	return time.Duration(envInt("GREGOR_BENCH_LATENCY_S", 3)) * time.Second
})

// BenchmarkReplication measures the figures of docs/benchmarks.md,
// "Replication": produce throughput with acks=all on an RF 3 topic of a
// 3-broker cluster against the One broker figure (RF 1, acks=1, one broker)
// in the same run, rounds interleaved; then the per-record latency of both
// at half the RF 3 maximum. It prints "figure:" lines and a "machine:" line.
func BenchmarkReplication(b *testing.B) {
	m0 := readMachine()
	b.Run("produce", benchReplProduce)
	b.Run("latency", benchReplLatency)
	printReplicationFigures(os.Stdout)
	fmt.Println("machine:", m0.describe(readMachine()))
}

// replTargets is the 3-broker cluster with its RF 3 topic, started once per
// run, and the One broker benchmark's broker (RF 1 topic "bench").
type replTargets struct {
	c      *cluster
	single *target
}

var replOnce struct {
	sync.Mutex
	t   *replTargets
	err error
}

func replicationTargets(b *testing.B) *replTargets {
	replOnce.Lock()
	defer replOnce.Unlock()
	if replOnce.t == nil && replOnce.err == nil {
		replOnce.t, replOnce.err = startReplTargets()
	}
	var buildErr errBrokerBuild
	if errors.As(replOnce.err, &buildErr) {
		b.Skipf("gregor does not build yet: %s", headLines(replOnce.err.Error(), 4))
	}
	if replOnce.err != nil {
		b.Fatal(replOnce.err)
	}
	return replOnce.t
}

func startReplTargets() (*replTargets, error) {
	single, err := h.target("gregor")
	if err != nil {
		return nil, err
	}
	c, err := h.startCluster("repl", 3)
	if err != nil {
		return nil, err
	}
	if err := createAssigned(c.addrs(), replTopic, partitions, 3, nil); err != nil {
		c.close()
		return nil, fmt.Errorf("create %s: %w", replTopic, err)
	}
	return &replTargets{c: c, single: single}, nil
}

// newAllProducer is newProducer with acks=all, for replTopic on the cluster.
func newAllProducer(addrs []string) (*kgo.Client, error) {
	return kgo.NewClient(
		kgo.SeedBrokers(addrs...),
		kgo.DefaultProduceTopic(replTopic),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DisableIdempotentWrite(),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
	)
}

// replLeg is one side of an interleaved replication benchmark: "rf3" (the
// cluster, acks=all) or "rf1" (one broker, acks=1).
type replLeg struct {
	name     string
	pids     []int
	cl       *kgo.Client
	cpu0     float64
	cpu      float64 // summed over pids, over the whole loop
	bytes    int64
	wall     time.Duration
	perRound []float64 // MB/s
	lats     []time.Duration
	client   float64 // the benchmark process's CPU seconds during this side's rounds
}

func (l *replLeg) mbps() float64 { return float64(l.bytes) / 1e6 / l.wall.Seconds() }

func (l *replLeg) cpuNow() float64 {
	var s float64
	for _, pid := range l.pids {
		if c, err := cpuSeconds(pid); err == nil {
			s += c
		}
	}
	return s
}

// replLegs opens a warmed-up producer on each side.
func replLegs(b *testing.B, ctx context.Context, rt *replTargets) []*replLeg {
	rf3, err := newAllProducer(rt.c.addrs())
	if err != nil {
		b.Fatal(err)
	}
	rf1, err := newProducer(rt.single.addr)
	if err != nil {
		b.Fatal(err)
	}
	legs := []*replLeg{
		{name: "rf3", pids: rt.c.pids(), cl: rf3},
		{name: "rf1", pids: []int{rt.single.proc.pid()}, cl: rf1},
	}
	for _, l := range legs {
		if err := produceN(ctx, l.cl, 4096); err != nil {
			b.Fatalf("%s: warm-up: %v", l.name, err)
		}
	}
	rt.single.produced += 4096
	return legs
}

func benchReplProduce(b *testing.B) {
	rt := replicationTargets(b)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	legs := replLegs(b, ctx, rt)
	for _, l := range legs {
		defer l.cl.Close()
	}
	if dir := os.Getenv("GREGOR_BENCH_PERF"); dir != "" {
		for i, pid := range legs[0].pids {
			stop := perfRecord(b, pid, filepath.Join(dir, fmt.Sprintf("gregor-repl-broker%d.perf.data", i)))
			defer stop()
		}
	}
	chunk := volume() / rounds()
	records := chunk / recordSize
	b.SetBytes(volume() * int64(len(legs)))
	for _, l := range legs {
		l.cpu0 = l.cpuNow()
	}
	for b.Loop() {
		for r := range int(rounds()) {
			for i := range legs {
				l := legs[(r+i)%len(legs)]
				start := time.Now()
				if err := produceN(ctx, l.cl, records); err != nil {
					b.Fatalf("%s: %v", l.name, err)
				}
				d := time.Since(start)
				l.bytes += chunk
				l.wall += d
				l.perRound = append(l.perRound, float64(chunk)/1e6/d.Seconds())
				if verbose {
					fmt.Fprintf(os.Stderr, "bench: %s round %d %s: %s, %.1f MB/s\n", b.Name(), r, l.name, d.Round(time.Millisecond), float64(chunk)/1e6/d.Seconds())
				}
			}
		}
	}
	rt.single.produced += legs[1].bytes / recordSize
	for _, l := range legs {
		l.cpu = l.cpuNow() - l.cpu0
	}
	reportLegs(b, "repl/produce", "rf3/rf1", legs)
}

// reportLegs reports each leg's MB/s and brokers' CPU per GB, and the ratio
// of the first leg to the second (overall, and the median, min and max per
// round) under prefix; unit names the ratio for b.ReportMetric.
func reportLegs(b *testing.B, prefix, unit string, legs []*replLeg) {
	for _, l := range legs {
		gb := float64(l.bytes) / 1e9
		b.ReportMetric(l.mbps(), l.name+"-MB/s")
		b.ReportMetric(l.cpu/gb, l.name+"-brokers-cpu-s/GB")
		setResult(prefix+"/"+l.name+"/MBps", l.mbps())
		setResult(prefix+"/"+l.name+"/cpu", l.cpu/gb)
	}
	ratio := legs[0].mbps() / legs[1].mbps()
	b.ReportMetric(ratio, unit)
	setResult(prefix+"/ratio", ratio)
	rs := make([]float64, len(legs[0].perRound))
	for i := range rs {
		rs[i] = legs[0].perRound[i] / legs[1].perRound[i]
	}
	slices.Sort(rs)
	setResult(prefix+"/ratio/median", median(rs))
	setResult(prefix+"/ratio/min", rs[0])
	setResult(prefix+"/ratio/max", rs[len(rs)-1])
}

// latencyFractions are the rates of the latency benchmark, as fractions of
// the RF 3 maximum: the half, and a quarter for the shape of the
// curve below it.
var latencyFractions = []struct {
	name string
	f    float64
}{{"half", 0.5}, {"quarter", 0.25}}

// benchReplLatency produces at fractions of the RF 3 maximum of
// benchReplProduce, paced every millisecond, on both sides in interleaved
// rounds of latencyRound, and reports each side's per-record latency
// percentiles and brokers' CPU per GB.
func benchReplLatency(b *testing.B) {
	for _, fr := range latencyFractions {
		b.Run(fr.name, func(b *testing.B) { benchReplLatencyAt(b, fr.name, fr.f) })
	}
}

func benchReplLatencyAt(b *testing.B, name string, fraction float64) {
	maxMBps, ok := result("repl/produce/rf3/MBps")
	if v := envInt("GREGOR_BENCH_LATENCY_MBPS", 0); v > 0 {
		// A fixed rate for "half" instead of the measured maximum.
		maxMBps, ok = 2*float64(v), true
	}
	if !ok {
		b.Skip("needs the maximum of Replication/produce from the same run")
	}
	rt := replicationTargets(b)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	legs := replLegs(b, ctx, rt)
	for _, l := range legs {
		defer l.cl.Close()
		l.cpu0 = l.cpuNow()
	}
	if dir := os.Getenv("GREGOR_BENCH_PERF"); dir != "" {
		for i, pid := range legs[0].pids {
			stop := perfRecord(b, pid, filepath.Join(dir, fmt.Sprintf("gregor-repl-latency-%s-broker%d.perf.data", name, i)))
			defer stop()
		}
	}
	key := "repl/latency/" + name
	rate := maxMBps * fraction * 1e6 / recordSize // records per second
	setResult(key+"/rate", maxMBps*fraction)
	for b.Loop() {
		for r := range int(rounds()) {
			for i := range legs {
				l := legs[(r+i)%len(legs)]
				self := selfCPUSeconds()
				lats, err := produceAtRate(ctx, l.cl, rate, latencyRound())
				if err != nil {
					b.Fatalf("%s: %v", l.name, err)
				}
				l.client += selfCPUSeconds() - self
				l.lats = append(l.lats, lats...)
				l.bytes += int64(len(lats)) * recordSize
				if verbose {
					s := slices.Clone(lats)
					slices.Sort(s)
					fmt.Fprintf(os.Stderr, "bench: %s round %d %s: p50 %s p99 %s\n", b.Name(), r, l.name, pct(s, 50), pct(s, 99))
				}
			}
		}
	}
	for _, l := range legs {
		slices.Sort(l.lats)
		for _, q := range []float64{50, 99, 99.9} {
			v := ms(pct(l.lats, q))
			b.ReportMetric(v, fmt.Sprintf("%s-p%g-ms", l.name, q))
			setResult(fmt.Sprintf("%s/%s/p%g", key, l.name, q), v)
		}
		setResult(key+"/"+l.name+"/n", float64(len(l.lats)))
		cpu := (l.cpuNow() - l.cpu0) / (float64(l.bytes) / 1e9)
		b.ReportMetric(cpu, l.name+"-brokers-cpu-s/GB")
		setResult(key+"/"+l.name+"/cpu", cpu)
		setResult(key+"/"+l.name+"/client", l.client/(float64(l.bytes)/1e9))
	}
	rt.single.produced += int64(len(legs[1].lats))
}

// pct is the q-th percentile of sorted (nearest rank).
func pct(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q/100*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// produceAtRate produces records of value() at rate per second for d,
// releasing each millisecond the records due by then, and returns each
// record's latency from the time it was due (not when Produce was called,
// so a stalled producer's backlog counts) to its acknowledgement.
func produceAtRate(ctx context.Context, cl *kgo.Client, rate float64, d time.Duration) ([]time.Duration, error) {
	n := int(rate * d.Seconds())
	recs := make([]kgo.Record, n)
	lats := make([]time.Duration, n)
	val := value()
	var (
		mu       sync.Mutex
		firstErr error
	)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for sent := 0; sent < n; {
		due := min(n, int(time.Since(start).Seconds()*rate)+1)
		for ; sent < due; sent++ {
			i := sent
			at := start.Add(time.Duration(float64(i) / rate * 1e9))
			recs[i] = kgo.Record{Value: val}
			cl.Produce(ctx, &recs[i], func(_ *kgo.Record, err error) {
				lats[i] = time.Since(at)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			})
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	return lats, firstErr
}

// printReplicationFigures writes the "figure:" lines of BenchmarkReplication.
func printReplicationFigures(w io.Writer) {
	get := func(key string, digits int) string {
		if v, ok := result(key); ok {
			return fmt.Sprintf("%.*f", digits, v)
		}
		return "n/a"
	}
	r, ok := result("repl/produce/ratio")
	verdict := "not measured"
	if ok {
		verdict = map[bool]string{true: "met", false: "NOT met"}[r >= 0.4]
	}
	fmt.Fprintf(w, "figure: produce MB/s, acks=all RF 3 on 3 brokers vs acks=1 RF 1 on one broker: %s vs %s; ratio %s [per round: median %s, %s-%s] (>= 0.40: %s); brokers' CPU s/GB: %s (3 brokers) vs %s\n",
		get("repl/produce/rf3/MBps", 1), get("repl/produce/rf1/MBps", 1), get("repl/produce/ratio", 2),
		get("repl/produce/ratio/median", 2), get("repl/produce/ratio/min", 2), get("repl/produce/ratio/max", 2), verdict,
		get("repl/produce/rf3/cpu", 2), get("repl/produce/rf1/cpu", 2))
	for _, fr := range latencyFractions {
		k := "repl/latency/" + fr.name
		fmt.Fprintf(w, "figure: produce latency ms at %s MB/s (%s the RF 3 maximum), from due time to ack: acks=all RF 3 p50 %s p99 %s p99.9 %s (%s records, brokers' CPU %s s/GB, client %s); acks=1 RF 1 same rate p50 %s p99 %s p99.9 %s (CPU %s s/GB, client %s)\n",
			get(k+"/rate", 1), fr.name,
			get(k+"/rf3/p50", 1), get(k+"/rf3/p99", 1), get(k+"/rf3/p99.9", 1), get(k+"/rf3/n", 0), get(k+"/rf3/cpu", 2), get(k+"/rf3/client", 2),
			get(k+"/rf1/p50", 1), get(k+"/rf1/p99", 1), get(k+"/rf1/p99.9", 1), get(k+"/rf1/cpu", 2), get(k+"/rf1/client", 2))
	}
}
