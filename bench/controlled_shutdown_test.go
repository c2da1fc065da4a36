package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkControlledShutdown measures the figure of docs/benchmarks.md,
// "Controlled shutdown": a broker leading every one of 1000 partitions
// (RF 3) gets SIGTERM while a client produces acks=all records to all of
// them; the figures are the time from the signal to the process's exit and
// the longest produce stall the client saw on any partition. The same
// measurement with kill -9 instead of SIGTERM runs alongside, so both come
// from one run on one machine. Each iteration is a fresh 3-broker cluster.
func BenchmarkControlledShutdown(b *testing.B) {
	m0 := readMachine()
	b.Run("sigterm", func(b *testing.B) { benchShutdownStall(b, syscall.SIGTERM) })
	b.Run("sigkill", func(b *testing.B) { benchShutdownStall(b, syscall.SIGKILL) })
	printShutdownFigures(os.Stdout)
	fmt.Println("machine:", m0.describe(readMachine()))
}

// stallRun is one shutdown of the leader, every time since the signal.
type stallRun struct {
	exit       time.Duration // process gone
	maxStall   time.Duration // longest time any partition went without an ack
	medStall   time.Duration // median over the partitions of their longest stall
	allAcked   time.Duration // every partition acknowledged by a new leader
	csDone     time.Duration // broker log: "controlled shutdown succeeded" (SIGTERM)
	csAttempts int           // ControlledShutdown requests sent
}

var shutdownRuns struct {
	sync.Mutex
	byKind map[string][]stallRun
}

func benchShutdownStall(b *testing.B, sig syscall.Signal) {
	n := failoverPartitions()
	kind := "sigterm"
	if sig == syscall.SIGKILL {
		kind = "sigkill"
	}
	var runs []stallRun
	for b.Loop() {
		c := failoverCluster(b, "cshutdown")
		// Broker 1 leads everything; brokers 0 (the controller) and 2
		// each take over half, as in the leader failover.
		assign := make([][]int32, n)
		for p := range assign {
			assign[p] = []int32{1, 0, 2}
			if p%2 == 1 {
				assign[p] = []int32{1, 2, 0}
			}
		}
		const topic = "cshutdown"
		if err := createAssigned(c.addrs(), topic, 0, 0, assign); err != nil {
			c.close()
			b.Fatalf("create: %v\n%s", err, c.brokers[0].proc.logTail())
		}
		all := make([]int32, n)
		for p := range all {
			all[p] = int32(p)
		}
		if pending := produceEverywhere(c, topic, all, -1, 30*time.Second); len(pending) > 0 {
			c.close()
			b.Fatalf("warm-up: %d partitions not acknowledged", len(pending))
		}
		run, err := measureShutdownStall(c, topic, n, sig)
		if err != nil {
			c.close()
			b.Fatalf("%v\ncontroller log:\n%s", err, c.brokers[0].proc.logTail())
		}
		runs = append(runs, run)
		if verbose {
			fmt.Fprintf(os.Stderr, "bench: %s: %+v\n", b.Name(), run)
		}
		c.close()
	}
	pick := func(f func(stallRun) time.Duration) []float64 {
		var vs []float64
		for _, r := range runs {
			vs = append(vs, ms(f(r)))
		}
		return vs
	}
	report(b, "shutdown/"+kind+"/exit", "ms-to-exit", pick(func(r stallRun) time.Duration { return r.exit }))
	report(b, "shutdown/"+kind+"/maxStall", "ms-longest-stall", pick(func(r stallRun) time.Duration { return r.maxStall }))
	report(b, "shutdown/"+kind+"/medStall", "ms-median-stall", pick(func(r stallRun) time.Duration { return r.medStall }))
	report(b, "shutdown/"+kind+"/allAcked", "ms-all-acked", pick(func(r stallRun) time.Duration { return r.allAcked }))
	if sig == syscall.SIGTERM {
		report(b, "shutdown/sigterm/csDone", "ms-controlled-shutdown", pick(func(r stallRun) time.Duration { return r.csDone }))
	}
	shutdownRuns.Lock()
	if shutdownRuns.byKind == nil {
		shutdownRuns.byKind = map[string][]stallRun{}
	}
	shutdownRuns.byKind[kind] = append(shutdownRuns.byKind[kind], runs...)
	shutdownRuns.Unlock()
}

// stallProducer produces one acks=all record to every partition per round,
// one request per leader as its metadata says, refreshing the metadata
// from a broker that stays up after any error (what a client does on
// NOT_LEADER_OR_FOLLOWER or a broken connection). It records every
// partition's acknowledgement times.
type stallProducer struct {
	topic string
	n     int
	ask   string // Metadata from this broker (not the one shut down)
	addr  map[int32]string

	mu   sync.Mutex
	acks [][]time.Time // per partition
}

func (s *stallProducer) run(ctx context.Context) {
	batch := probeBatch([]byte("stall probe"))
	conns := map[int32]*rconn{}
	defer func() {
		for _, r := range conns {
			r.close()
		}
	}()
	var leaders map[int32]int32
	for ctx.Err() == nil {
		if leaders == nil {
			md, err := readMetadata(ctx, s.ask, s.topic)
			if err != nil || len(md.Topics) != 1 {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			leaders = map[int32]int32{}
			for _, p := range md.Topics[0].Partitions {
				leaders[p.Partition] = p.Leader
			}
		}
		byLeader := map[int32][]int32{}
		for p := int32(0); p < int32(s.n); p++ {
			if l, ok := leaders[p]; ok && l >= 0 {
				byLeader[l] = append(byLeader[l], p)
			}
		}
		var wg sync.WaitGroup
		var failed sync.Once
		stale := false
		for l, ps := range byLeader {
			r := conns[l]
			if r == nil {
				r = &rconn{addr: s.addr[l]}
				conns[l] = r
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				sent := time.Now()
				resp, err := r.do(produceRequest(-1, 10*time.Second, s.topic, ps, batch), 15*time.Second)
				if verbose && time.Since(sent) > time.Second {
					fmt.Fprintf(os.Stderr, "bench: produce to broker %d (%d partitions) at %s took %v: %v\n", l, len(ps), sent.Format("15:04:05.000"), time.Since(sent), err)
				}
				if err != nil {
					failed.Do(func() { stale = true })
					return
				}
				now := time.Now()
				s.mu.Lock()
				defer s.mu.Unlock()
				for _, t := range resp.(*kmsg.ProduceResponse).Topics {
					for _, p := range t.Partitions {
						if p.ErrorCode == 0 {
							s.acks[p.Partition] = append(s.acks[p.Partition], now)
						} else {
							if verbose {
								fmt.Fprintf(os.Stderr, "bench: produce to broker %d at %s: partition %d: %v after %v\n", l, sent.Format("15:04:05.000"), p.Partition, kerr.ErrorForCode(p.ErrorCode), now.Sub(sent))
							}
							failed.Do(func() { stale = true })
						}
					}
				}
			}()
		}
		wg.Wait()
		if stale || len(byLeader) == 0 {
			leaders = nil
			time.Sleep(5 * time.Millisecond) // a client's retry backoff, shortened
		}
	}
}

// measureShutdownStall runs the producer, sends sig to broker 1 after a
// second of steady state, and keeps producing until every partition has
// been acknowledged by a new leader and 2 s more have passed.
func measureShutdownStall(c *cluster, topic string, n int, sig syscall.Signal) (stallRun, error) {
	var run stallRun
	dead := c.brokers[1]
	s := &stallProducer{topic: topic, n: n, ask: c.brokers[2].addr, addr: map[int32]string{}, acks: make([][]time.Time, n)}
	for _, m := range c.brokers {
		s.addr[m.id] = m.addr
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.run(ctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(time.Second)

	t0 := time.Now()
	_ = dead.proc.cmd.Process.Signal(sig)
	select {
	case <-dead.proc.exited:
	case <-time.After(2 * time.Minute):
		return run, fmt.Errorf("broker 1 still running 2 minutes after %v", sig)
	}
	run.exit = time.Since(t0)
	// Every partition acknowledged after the exit, by a new leader.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		s.mu.Lock()
		missing := 0
		for p := range n {
			a := s.acks[p]
			if len(a) == 0 || !a[len(a)-1].After(t0.Add(run.exit)) {
				missing++
			}
		}
		s.mu.Unlock()
		if missing == 0 {
			run.allAcked = time.Since(t0)
			break
		}
		if time.Now().After(deadline) {
			return run, fmt.Errorf("%d partitions not acknowledged 2 minutes after %v", missing, sig)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	cancel()
	<-done

	stalls := make([]float64, 0, n)
	for p := range n {
		st := longestStall(s.acks[p], t0)
		stalls = append(stalls, ms(st))
		if st > run.maxStall {
			run.maxStall = st
		}
	}
	run.medStall = time.Duration(median(stalls) * 1e6)
	if ls := readLog(dead.proc.logPath, t0, "controlled shutdown succeeded"); len(ls) > 0 {
		run.csDone = ls[0].at.Sub(t0)
	}
	run.csAttempts = len(readLog(dead.proc.logPath, t0, "starting controlled shutdown"))
	return run, nil
}

// longestStall is the longest gap between two consecutive
// acknowledgements of one partition, the later one after t0.
func longestStall(acks []time.Time, t0 time.Time) time.Duration {
	sorted := slices.Clone(acks)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Before(sorted[j]) })
	var longest time.Duration
	for i := 1; i < len(sorted); i++ {
		if sorted[i].After(t0) {
			if d := sorted[i].Sub(sorted[i-1]); d > longest {
				longest = d
			}
		}
	}
	return longest
}

// printShutdownFigures writes the "figure:" lines of BenchmarkControlledShutdown.
func printShutdownFigures(w io.Writer) {
	get := func(key string) string {
		if v, ok := result(key); ok {
			return fmt.Sprintf("%.0f", v)
		}
		return "n/a"
	}
	shutdownRuns.Lock()
	defer shutdownRuns.Unlock()
	each := func(kind string) string {
		var out []string
		for _, r := range shutdownRuns.byKind[kind] {
			out = append(out, fmt.Sprintf("%.0f/%.0f", ms(r.exit), ms(r.maxStall)))
		}
		return strings.Join(out, ", ")
	}
	fmt.Fprintf(w, "figure: controlled shutdown (SIGTERM) of a broker leading %d partitions (RF 3) under acks=all produce to all of them -> exit %s ms, longest produce stall %s ms (median partition %s ms), every partition acknowledged by a new leader %s ms after the signal; controlled shutdown done at %s ms (runs exit/stall: %s)\n",
		failoverPartitions(), get("shutdown/sigterm/exit"), get("shutdown/sigterm/maxStall"), get("shutdown/sigterm/medStall"), get("shutdown/sigterm/allAcked"), get("shutdown/sigterm/csDone"), each("sigterm"))
	fmt.Fprintf(w, "figure: the same with kill -9 -> longest produce stall %s ms (median partition %s ms), every partition acknowledged %s ms after the signal (runs exit/stall: %s)\n",
		get("shutdown/sigkill/maxStall"), get("shutdown/sigkill/medStall"), get("shutdown/sigkill/allAcked"), each("sigkill"))
}
