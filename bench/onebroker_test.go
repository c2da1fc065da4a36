package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// results holds the figures of this run, keyed "produce/gregor/MBps" and so
// on; a later run of a sub-benchmark (b.Loop runs once, but -count may
// repeat) overwrites an earlier one.
var results = struct {
	sync.Mutex
	m map[string]float64
}{m: make(map[string]float64)}

func setResult(key string, v float64) {
	results.Lock()
	defer results.Unlock()
	results.m[key] = v
}

func result(key string) (float64, bool) {
	results.Lock()
	defer results.Unlock()
	v, ok := results.m[key]
	return v, ok
}

// value is the payload of every record: 1 KiB of incompressible bytes.
var value = sync.OnceValue(func() []byte {
	r := rand.New(rand.NewChaCha8([32]byte{'g', 'r', 'e', 'g', 'o', 'r'}))
	v := make([]byte, recordSize)
	for i := range v {
		v[i] = byte(r.Uint32())
	}
	return v
})

// BenchmarkOneBroker measures the figures of docs/benchmarks.md, "One broker
// (produce/consume)", against the sink and kfake baselines in the same run,
// then prints one "figure:" line per figure. MB/s and s/GB count record
// values in 10^6 and 10^9 bytes.
//
// The machine is shared (2 cores for client and broker, and whatever else
// runs), so produce and consume interleave the targets: each iteration is
// GREGOR_BENCH_ROUNDS rounds, and each round moves a chunk to or from every
// target in a rotating order, so a burst of background load hits all targets
// alike and the ratios of one round compare like with like.
func BenchmarkOneBroker(b *testing.B) {
	m0 := readMachine()
	b.Run("produce", benchProduce)
	b.Run("consume", benchConsume)
	b.Run("start", func(b *testing.B) {
		b.Run("kfake", benchStartKfake)
		b.Run("gregor", benchStartGregor)
	})
	printFigures(os.Stdout)
	fmt.Println("machine:", m0.describe(readMachine()))
}

func newProducer(addr string) (*kgo.Client, error) {
	return kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.DefaultProduceTopic(topic),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.RequiredAcks(kgo.LeaderAck()),
		kgo.DisableIdempotentWrite(),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
	)
}

// slab holds the records of produceN, reused from call to call (kgo is done
// with a record once its promise ran, and Flush waits for all of them).
var slab []kgo.Record

// produceN produces n records of value() and waits until all are acknowledged.
func produceN(ctx context.Context, cl *kgo.Client, n int64) error {
	val := value()
	var (
		mu       sync.Mutex
		firstErr error
	)
	cb := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}
	}
	if int64(len(slab)) < n {
		slab = make([]kgo.Record, n)
	}
	for i := range n {
		slab[i] = kgo.Record{Value: val}
		cl.Produce(ctx, &slab[i], cb)
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	return firstErr
}

// consumeN consumes n records of topic from the oldest offsets with a new
// client and checks their size.
func consumeN(ctx context.Context, addr string, n int64) error {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeStartOffset(kgo.NewOffset().AtStart()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	var got int64
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return fmt.Errorf("after %d records: %w", got, err)
		}
		var bad error
		fs.EachRecord(func(r *kgo.Record) {
			if len(r.Value) != recordSize && bad == nil {
				bad = fmt.Errorf("record %s/%d@%d has %d bytes, want %d", r.Topic, r.Partition, r.Offset, len(r.Value), recordSize)
			}
			got++
		})
		if bad != nil {
			return bad
		}
	}
	return nil
}

// verbose (GREGOR_BENCH_VERBOSE set) prints every round's time to stderr.
var verbose = os.Getenv("GREGOR_BENCH_VERBOSE") != ""

// leg is one target's share of an interleaved benchmark.
type leg struct {
	t         *target
	bytes     int64
	wall      time.Duration // summed over this target's chunks
	cpu0      float64       // broker CPU seconds when the loop started
	brokerCPU float64       // over the whole loop: catches work done after a chunk
	ownCPU    float64       // broker CPU during this target's own chunks only
	clientCPU float64       // summed over this target's chunks
	perRound  []float64     // MB/s of each round
}

func (l *leg) mbps() float64 { return float64(l.bytes) / 1e6 / l.wall.Seconds() }

// interleave runs op on every target in rotating order, a chunk of
// volume()/rounds() bytes each time, for rounds() rounds per iteration.
func interleave(b *testing.B, ts []*target, op func(ctx context.Context, t *target, records int64) error) []*leg {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	chunk := volume() / rounds()
	records := chunk / recordSize
	legs := make([]*leg, len(ts))
	for i, t := range ts {
		legs[i] = &leg{t: t}
	}
	b.SetBytes(volume() * int64(len(ts)))
	for _, l := range legs {
		c, err := cpuSeconds(l.t.proc.pid())
		if err != nil {
			b.Fatal(err)
		}
		l.cpu0 = c
	}
	if dir := os.Getenv("GREGOR_BENCH_PERF"); dir != "" {
		for _, l := range legs {
			if l.t.name == "gregor" {
				stop := perfRecord(b, l.t.proc.pid(), filepath.Join(dir, "gregor-"+path.Base(b.Name())+".perf.data"))
				defer stop()
			}
		}
	}
	for b.Loop() {
		for r := range int(rounds()) {
			for i := range legs {
				l := legs[(r+i)%len(legs)]
				self := selfCPUSeconds()
				own, err := cpuSeconds(l.t.proc.pid())
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				if err := op(ctx, l.t, records); err != nil {
					b.Fatalf("%s: %v\n%s", l.t.name, err, l.t.proc.logTail())
				}
				d := time.Since(start)
				l.clientCPU += selfCPUSeconds() - self
				if c, err := cpuSeconds(l.t.proc.pid()); err == nil {
					l.ownCPU += c - own
				}
				l.bytes += chunk
				l.wall += d
				l.perRound = append(l.perRound, float64(chunk)/1e6/d.Seconds())
				if verbose {
					fmt.Fprintf(os.Stderr, "bench: %s round %d %s: %s, %.1f MB/s\n", b.Name(), r, l.t.name, d.Round(time.Millisecond), float64(chunk)/1e6/d.Seconds())
				}
			}
		}
	}
	for _, l := range legs {
		c, err := cpuSeconds(l.t.proc.pid())
		if err != nil {
			b.Fatal(err)
		}
		l.brokerCPU = c - l.cpu0
	}
	return legs
}

// record reports and stores the figures of legs under figure ("produce").
func record(b *testing.B, figure string, legs []*leg) {
	byName := make(map[string]*leg)
	for _, l := range legs {
		name := l.t.name
		byName[name] = l
		gb := float64(l.bytes) / 1e9
		b.ReportMetric(l.mbps(), name+"-MB/s")
		b.ReportMetric(l.brokerCPU/gb, name+"-cpu-s/GB")
		b.ReportMetric(l.ownCPU/gb, name+"-own-chunks-cpu-s/GB")
		b.ReportMetric(l.clientCPU/gb, name+"-client-cpu-s/GB")
		setResult(figure+"/"+name+"/MBps", l.mbps())
		setResult(figure+"/"+name+"/cpu", l.brokerCPU/gb)
		setResult(figure+"/"+name+"/owncpu", l.ownCPU/gb)
		setResult(figure+"/"+name+"/client", l.clientCPU/gb)
		if rss, err := rssMB(l.t.proc.pid()); err == nil {
			setResult(figure+"/"+name+"/rss", rss)
		}
	}
	g, ok := byName["gregor"]
	if !ok {
		return
	}
	for _, base := range []string{"kfake", "sink"} {
		bl, ok := byName[base]
		if !ok {
			continue
		}
		ratio := g.mbps() / bl.mbps()
		b.ReportMetric(ratio, "gregor/"+base)
		setResult(figure+"/gregor/"+base, ratio)
		rs := make([]float64, len(g.perRound))
		for i := range rs {
			rs[i] = g.perRound[i] / bl.perRound[i]
		}
		slices.Sort(rs)
		setResult(figure+"/gregor/"+base+"/median", median(rs))
		setResult(figure+"/gregor/"+base+"/min", rs[0])
		setResult(figure+"/gregor/"+base+"/max", rs[len(rs)-1])
	}
}

func benchProduce(b *testing.B) {
	ts := h.targetsFor(b, "sink", "kfake", "gregor")
	if len(ts) == 0 {
		b.SkipNow()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	clients := make(map[*target]*kgo.Client)
	for _, t := range ts {
		cl, err := newProducer(t.addr)
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		// Warm up: connection, metadata and a few batches per partition.
		if err := produceN(ctx, cl, 4096); err != nil {
			b.Fatalf("%s: warm-up: %v\n%s", t.name, err, t.proc.logTail())
		}
		t.produced += 4096
		clients[t] = cl
	}
	legs := interleave(b, ts, func(ctx context.Context, t *target, n int64) error {
		err := produceN(ctx, clients[t], n)
		if err == nil {
			t.produced += n
		}
		return err
	})
	record(b, "produce", legs)
}

func benchConsume(b *testing.B) {
	ts := h.targetsFor(b, "kfake", "gregor")
	if len(ts) == 0 {
		b.SkipNow()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	n := volume() / rounds() / recordSize
	for _, t := range ts {
		if t.produced >= n {
			continue
		}
		// Run alone: produce what a round reads, untimed.
		cl, err := newProducer(t.addr)
		if err != nil {
			b.Fatal(err)
		}
		err = produceN(ctx, cl, n-t.produced)
		cl.Close()
		if err != nil {
			b.Fatalf("%s: seed: %v", t.name, err)
		}
		t.produced = n
	}
	legs := interleave(b, ts, func(ctx context.Context, t *target, n int64) error {
		return consumeN(ctx, t.addr, n)
	})
	record(b, "consume", legs)
}

// idleWait is how long a broker idles after ready before its RSS is read.
const idleWait = time.Second

// benchStartKfake is the reference for the start figures: kfake-server from
// exec to a Metadata answer, and its RSS idle.
func benchStartKfake(b *testing.B) {
	h.mu.Lock()
	defer h.mu.Unlock()
	bin, err := h.binLocked("./bench/cmd/kfake-server")
	if err != nil {
		b.Fatal(err)
	}
	var ready, rss []float64
	for b.Loop() {
		p, addr, err := startProc(h.dir, "kfake-start", true, bin)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		d, err := waitReady(ctx, p, addr, 0)
		cancel()
		if err != nil {
			p.stop()
			b.Fatal(err)
		}
		b.StopTimer()
		ready = append(ready, ms(d))
		time.Sleep(idleWait)
		r, err := rssMB(p.pid())
		p.stop()
		if err != nil {
			b.Fatal(err)
		}
		rss = append(rss, r)
		b.StartTimer()
	}
	report(b, "start/kfake/ms", "ms-to-ready", ready)
	report(b, "start/kfake/rss", "idle-rss-MB", rss)
}

// benchStartGregor measures, per iteration, a broker's first start in a fresh
// chroot and log dir and its restart on the same ones after a clean stop,
// each from exec until Metadata lists the broker and a controller, with
// ZooKeeper already up; its RSS after idling idleWait past ready; and how
// long a SIGTERM takes to stop it.
func benchStartGregor(b *testing.B) {
	// ZooKeeper up and the binary built, through the produce/consume broker.
	if _, err := h.target("gregor"); err != nil {
		var buildErr errBrokerBuild
		if errors.As(err, &buildErr) {
			b.Skipf("gregor does not build yet: %s", headLines(err.Error(), 4))
		}
		b.Fatalf("start gregor: %v", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var fresh, restart, rss, stops []float64
	for b.Loop() {
		logDir, err := os.MkdirTemp(h.dir, "start-")
		if err != nil {
			b.Fatal(err)
		}
		h.starts++
		chroot := fmt.Sprintf("/bench%d", h.starts)
		p, _, d, err := h.startGregorLocked(logDir, chroot)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		fresh = append(fresh, ms(d))
		time.Sleep(idleWait)
		r, err := rssMB(p.pid())
		if err != nil {
			b.Fatal(err)
		}
		rss = append(rss, r)
		d, killed := p.stop()
		stops = append(stops, ms(d))
		if killed || p.waitErr != nil {
			// A killed broker's ephemeral registration outlives it until
			// its ZooKeeper session expires, so no restart is measured.
			b.Errorf("broker stop after %s (killed: %v): %v\n%s", d, killed, p.waitErr, p.logTail())
			b.StartTimer()
			continue
		}
		p, _, d, err = h.startGregorLocked(logDir, chroot)
		if err != nil {
			b.Fatal(err)
		}
		restart = append(restart, ms(d))
		if d, killed := p.stop(); killed {
			b.Errorf("broker stop after restart: killed after %s\n%s", d, p.logTail())
		}
		_ = os.RemoveAll(logDir)
		b.StartTimer()
	}
	report(b, "start/gregor/ms", "ms-to-ready", fresh)
	report(b, "start/gregor-restart/ms", "ms-restart-to-ready", restart)
	report(b, "start/gregor/rss", "idle-rss-MB", rss)
	report(b, "stop/gregor/ms", "ms-to-stop", stops)
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// report reports and records the median of vs.
func report(b *testing.B, key, unit string, vs []float64) {
	if len(vs) == 0 {
		return
	}
	med := median(vs)
	b.ReportMetric(med, unit)
	setResult(key, med)
}

func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

// printFigures writes one "figure:" line per figure of the issue, with the
// baselines, the ratios and whether each target is met.
func printFigures(w io.Writer) {
	getf := func(key string, digits int) string {
		if v, ok := result(key); ok {
			return fmt.Sprintf("%.*f", digits, v)
		}
		return "n/a"
	}
	get := func(key string) string { return getf(key, 1) }
	ratio := func(key string) (float64, bool) { return result(key) }
	spread := func(key string) string {
		med, ok0 := result(key + "/median")
		lo, ok1 := result(key + "/min")
		hi, ok2 := result(key + "/max")
		if !ok0 || !ok1 || !ok2 {
			return ""
		}
		return fmt.Sprintf(" [per round: median %.2f, %.2f-%.2f]", med, lo, hi)
	}
	verdict := func(v float64, ok bool, pass func(float64) bool) string {
		switch {
		case !ok:
			return "not measured"
		case pass(v):
			return "met"
		}
		return "NOT met"
	}
	atLeast := func(x float64) func(float64) bool { return func(v float64) bool { return v >= x } }
	atMost := func(x float64) func(float64) bool { return func(v float64) bool { return v <= x } }
	below := func(x float64) func(float64) bool { return func(v float64) bool { return v < x } }
	fmtRatio := func(v float64, ok bool) string {
		if !ok {
			return "n/a"
		}
		return fmt.Sprintf("%.2f", v)
	}
	one := func(key string) (float64, bool) { return result(key) }

	var lines []string
	add := func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }

	rk, okk := ratio("produce/gregor/kfake")
	rs, oks := ratio("produce/gregor/sink")
	add("produce MB/s: gregor %s, kfake %s, sink %s; gregor/kfake %s%s (>= 1.2: %s), gregor/sink %s%s (>= 0.60: %s)",
		get("produce/gregor/MBps"), get("produce/kfake/MBps"), get("produce/sink/MBps"),
		fmtRatio(rk, okk), spread("produce/gregor/kfake"), verdict(rk, okk, atLeast(1.2)),
		fmtRatio(rs, oks), spread("produce/gregor/sink"), verdict(rs, oks, atLeast(0.6)))
	rc, okc := ratio("consume/gregor/kfake")
	add("consume MB/s (page cache, from oldest): gregor %s, kfake %s; gregor/kfake %s%s (>= 1.2: %s)",
		get("consume/gregor/MBps"), get("consume/kfake/MBps"),
		fmtRatio(rc, okc), spread("consume/gregor/kfake"), verdict(rc, okc, atLeast(1.2)))
	cpu := func(key string) string {
		return fmt.Sprintf("%s (own chunks %s)", getf(key+"/cpu", 2), getf(key+"/owncpu", 2))
	}
	v, ok := one("produce/gregor/cpu")
	add("broker CPU s/GB produced: gregor %s (<= 0.6: %s), kfake %s, sink %s",
		cpu("produce/gregor"), verdict(v, ok, atMost(0.6)), cpu("produce/kfake"), cpu("produce/sink"))
	v, ok = one("consume/gregor/cpu")
	add("broker CPU s/GB consumed: gregor %s (<= 0.4: %s), kfake %s",
		cpu("consume/gregor"), verdict(v, ok, atMost(0.4)), cpu("consume/kfake"))
	f, okf := one("start/gregor/ms")
	r, okr := one("start/gregor-restart/ms")
	add("start-to-ready ms (ZooKeeper up, median): gregor fresh %s (< 300: %s), gregor restart %s (< 300: %s), kfake %s; SIGTERM-to-exit gregor %s",
		get("start/gregor/ms"), verdict(f, okf, below(300)), get("start/gregor-restart/ms"), verdict(r, okr, below(300)),
		get("start/kfake/ms"), get("stop/gregor/ms"))
	v, ok = one("start/gregor/rss")
	add("idle broker RSS MB (VmRSS %s after ready): gregor %s (< 40: %s), kfake %s; after the consume runs: gregor %s, kfake %s",
		idleWait, get("start/gregor/rss"), verdict(v, ok, below(40)), get("start/kfake/rss"), get("consume/gregor/rss"), get("consume/kfake/rss"))
	for _, l := range lines {
		fmt.Fprintln(w, "figure:", l)
	}
}

// perfRecord samples pid with Linux perf (cpu-clock, call graphs through Go's
// frame pointers) into out until the returned func is called. A broker has
// no pprof listener, so this is how its hot spots are found:
// GREGOR_BENCH_PERF=dir, then `perf report -i dir/gregor-produce.perf.data`.
func perfRecord(b *testing.B, pid int, out string) (stop func()) {
	cmd := exec.Command("perf", "record", "-e", "cpu-clock", "-F", "499", "-g", "-p", fmt.Sprint(pid), "-o", out)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		b.Logf("perf record: %v", err)
		return func() {}
	}
	time.Sleep(200 * time.Millisecond) // let perf attach
	return func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
	}
}
