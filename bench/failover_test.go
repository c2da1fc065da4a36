package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// failoverPartitions is the number of partitions led by the killed broker
// in the leader failover (GREGOR_BENCH_FAILOVER_PARTITIONS, default 1000);
// the controller failover has twice as many in the cluster.
var failoverPartitions = sync.OnceValue(func() int { return int(envInt("GREGOR_BENCH_FAILOVER_PARTITIONS", 1000)) })

// pollEvery is the pause between two Metadata polls of a survivor: often
// enough to time a failover to about 10 ms, rarely enough that building
// Metadata for 1000 partitions (a sort per request) does not load the
// broker being measured.
const pollEvery = 10 * time.Millisecond

// probes is how many partitions the leader failover probes one by one for
// the first acknowledged produce, spread over the topic.
const probes = 16

// BenchmarkFailover measures the recovery figures of docs/benchmarks.md,
// "Replication": kill -9 of the broker leading every partition of a topic
// until the first acks=all produce is acknowledged by a new leader, and
// kill -9 of the controller until a new one is active; both against the
// target zookeeper.session.timeout.ms + 1 s. Each iteration starts a fresh
// 3-broker cluster. Broker logs are at info level, for the breakdown.
func BenchmarkFailover(b *testing.B) {
	m0 := readMachine()
	b.Run("leader", benchLeaderFailover)
	b.Run("controller", benchControllerFailover)
	printFailoverFigures(os.Stdout)
	fmt.Println("machine:", m0.describe(readMachine()))
}

// failoverLogLevel is info unless GREGOR_BENCH_LOG_LEVEL says otherwise:
// the breakdown is read from the controller's info lines.
func failoverLogLevel() string {
	if l := os.Getenv("GREGOR_BENCH_LOG_LEVEL"); l != "" {
		return "log.level=" + l
	}
	return "log.level=info"
}

var clusterSeq int

func failoverCluster(b *testing.B, kind string) *cluster {
	clusterSeq++
	c, err := h.startCluster(fmt.Sprintf("%s%d", kind, clusterSeq), 3, failoverLogLevel())
	if err != nil {
		var buildErr errBrokerBuild
		if errors.As(err, &buildErr) {
			b.Skipf("gregor does not build yet: %s", headLines(err.Error(), 4))
		}
		b.Fatal(err)
	}
	return c
}

// leaderTimes is one leader failover, every time since the kill.
type leaderTimes struct {
	firstAck   time.Duration // first acks=all produce acknowledged by a new leader (of probes)
	probesAck  time.Duration // the last of the probes
	allLed     time.Duration // Metadata on a survivor: every partition led by a live broker
	allAck     time.Duration // an acks=all produce acknowledged on every partition
	detected   time.Duration // controller log: "broker change" naming the dead broker
	electFirst time.Duration // controller log: first "leader elected"
	electLast  time.Duration // controller log: last "leader elected"
	// CPU seconds from the kill to every partition acknowledged, of the
	// controller (broker 0) and of the other survivor (broker 2).
	cpuController, cpuOther float64
}

// cpuOf is a member's CPU seconds so far (0 if it cannot be read).
func cpuOf(m *member) float64 {
	c, _ := cpuSeconds(m.proc.pid())
	return c
}

func benchLeaderFailover(b *testing.B) {
	n := failoverPartitions()
	var runs []leaderTimes
	for b.Loop() {
		c := failoverCluster(b, "leader")
		// Broker 1 leads everything; broker 0 is the controller and, with
		// broker 2, takes over half of the partitions each.
		assign := make([][]int32, n)
		for p := range assign {
			assign[p] = []int32{1, 0, 2}
			if p%2 == 1 {
				assign[p] = []int32{1, 2, 0}
			}
		}
		const topicName = "failover"
		if err := createAssigned(c.addrs(), topicName, 0, 0, assign); err != nil {
			c.close()
			b.Fatalf("create: %v\n%s", err, c.brokers[0].proc.logTail())
		}
		// Every partition takes one acks=all write before the kill, so the
		// followers are fetching.
		all := make([]int32, n)
		for p := range all {
			all[p] = int32(p)
		}
		if pending := produceEverywhere(c, topicName, all, -1, 30*time.Second); len(pending) > 0 {
			c.close()
			b.Fatalf("warm-up: %d partitions not acknowledged", len(pending))
		}
		var stopPerf []func()
		if dir := os.Getenv("GREGOR_BENCH_PERF"); dir != "" {
			for _, m := range []*member{c.brokers[0], c.brokers[2]} {
				stopPerf = append(stopPerf, perfRecord(b, m.proc.pid(), filepath.Join(dir, fmt.Sprintf("gregor-leader-failover-broker%d-%d.perf.data", m.id, clusterSeq))))
			}
		}
		cpu0 := []float64{cpuOf(c.brokers[0]), cpuOf(c.brokers[2])}
		dead := c.brokers[1]
		t0 := dead.kill()
		lt, err := measureLeaderFailover(c, topicName, n, t0, 1)
		lt.cpuController, lt.cpuOther = cpuOf(c.brokers[0])-cpu0[0], cpuOf(c.brokers[2])-cpu0[1]
		for _, stop := range stopPerf {
			stop()
		}
		if err != nil {
			c.close()
			b.Fatalf("%v\ncontroller log:\n%s", err, c.brokers[0].proc.logTail())
		}
		ctl := c.brokers[0].proc.logPath
		if ls := readLog(ctl, t0, "broker change"); len(ls) > 0 {
			lt.detected = ls[0].at.Sub(t0)
		}
		if ls := readLog(ctl, t0, "leader elected"); len(ls) > 0 {
			lt.electFirst, lt.electLast = ls[0].at.Sub(t0), ls[len(ls)-1].at.Sub(t0)
		}
		runs = append(runs, lt)
		if verbose {
			fmt.Fprintf(os.Stderr, "bench: %s: %+v\n", b.Name(), lt)
		}
		c.close()
	}
	pick := func(f func(leaderTimes) time.Duration) []float64 {
		var vs []float64
		for _, r := range runs {
			vs = append(vs, ms(f(r)))
		}
		return vs
	}
	report(b, "failover/leader/firstAck", "ms-first-ack", pick(func(r leaderTimes) time.Duration { return r.firstAck }))
	report(b, "failover/leader/probesAck", "ms-probes-ack", pick(func(r leaderTimes) time.Duration { return r.probesAck }))
	report(b, "failover/leader/allLed", "ms-all-led", pick(func(r leaderTimes) time.Duration { return r.allLed }))
	report(b, "failover/leader/allAck", "ms-all-ack", pick(func(r leaderTimes) time.Duration { return r.allAck }))
	report(b, "failover/leader/detected", "ms-detected", pick(func(r leaderTimes) time.Duration { return r.detected }))
	report(b, "failover/leader/electFirst", "ms-first-elected", pick(func(r leaderTimes) time.Duration { return r.electFirst }))
	report(b, "failover/leader/electLast", "ms-last-elected", pick(func(r leaderTimes) time.Duration { return r.electLast }))
	var cpuC, cpuO []float64
	for _, r := range runs {
		cpuC, cpuO = append(cpuC, r.cpuController*1e3), append(cpuO, r.cpuOther*1e3)
	}
	report(b, "failover/leader/cpuController", "controller-cpu-ms", cpuC)
	report(b, "failover/leader/cpuOther", "survivor-cpu-ms", cpuO)
	report(b, "failover/leader/afterExpiry", "ms-first-ack-after-expiry", pick(func(r leaderTimes) time.Duration { return r.firstAck - r.detected }))
	var all []string
	for _, r := range runs {
		all = append(all, fmt.Sprintf("%.0f (expiry seen at %.0f)", ms(r.firstAck), ms(r.detected)))
	}
	failoverRuns.Lock()
	failoverRuns.leader = strings.Join(all, ", ")
	failoverRuns.Unlock()
}

// failoverRuns keeps every run's headline figure for the figure lines.
var failoverRuns struct {
	sync.Mutex
	leader, controller string
}

// measureLeaderFailover probes, from t0 on, the partitions of topic for
// their first acks=all produce acknowledged by a leader other than dead:
// a Metadata poller on a survivor and one probe per sampled partition, then
// one produce to every partition.
func measureLeaderFailover(c *cluster, topic string, n int, t0 time.Time, dead int32) (leaderTimes, error) {
	var lt leaderTimes
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var survivor *member
	for _, m := range c.brokers {
		if m.id != dead && m.id != 0 {
			survivor = m // not the controller: its view comes by UpdateMetadata
		}
	}
	// leaders[p] as last seen on the survivor.
	var mu sync.Mutex
	leaders := make([]int32, n)
	for p := range leaders {
		leaders[p] = dead
	}
	allLed := make(chan time.Duration, 1)
	go func() {
		r := &rconn{addr: survivor.addr}
		defer r.close()
		for ctx.Err() == nil {
			resp, err := r.do(metadataRequest(topic), 5*time.Second)
			if err == nil {
				md := resp.(*kmsg.MetadataResponse)
				led := 0
				mu.Lock()
				if len(md.Topics) == 1 {
					for _, p := range md.Topics[0].Partitions {
						if int(p.Partition) < n {
							leaders[p.Partition] = p.Leader
							if p.Leader >= 0 && p.Leader != dead {
								led++
							}
						}
					}
				}
				mu.Unlock()
				if led == n {
					allLed <- time.Since(t0)
					return
				}
			}
			time.Sleep(pollEvery)
		}
	}()
	addrOf := map[int32]string{}
	for _, m := range c.brokers {
		addrOf[m.id] = m.addr
	}
	acks := make(chan time.Duration, probes)
	batch := probeBatch([]byte("failover probe"))
	for k := range probes {
		part := int32(k * n / probes)
		go func() {
			conns := map[int32]*rconn{}
			defer func() {
				for _, r := range conns {
					r.close()
				}
			}()
			for ctx.Err() == nil {
				mu.Lock()
				leader := leaders[part]
				mu.Unlock()
				if leader >= 0 && leader != dead {
					r := conns[leader]
					if r == nil {
						r = &rconn{addr: addrOf[leader]}
						conns[leader] = r
					}
					resp, err := r.do(produceRequest(-1, 5*time.Second, topic, []int32{part}, batch), 10*time.Second)
					if err == nil {
						pr := resp.(*kmsg.ProduceResponse)
						if len(pr.Topics) == 1 && len(pr.Topics[0].Partitions) == 1 && pr.Topics[0].Partitions[0].ErrorCode == 0 {
							acks <- time.Since(t0)
							return
						}
					}
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	for k := range probes {
		select {
		case d := <-acks:
			if k == 0 {
				lt.firstAck = d
			}
			lt.probesAck = d
		case <-ctx.Done():
			return lt, fmt.Errorf("only %d of %d probes acknowledged after %s", k, probes, time.Since(t0))
		}
	}
	select {
	case lt.allLed = <-allLed:
	case <-ctx.Done():
		return lt, fmt.Errorf("not every partition led by a live broker after %s", time.Since(t0))
	}
	all := make([]int32, n)
	for p := range all {
		all[p] = int32(p)
	}
	if pending := produceEverywhere(c, topic, all, dead, time.Minute); len(pending) > 0 {
		return lt, fmt.Errorf("%d partitions never acknowledged a produce", len(pending))
	}
	lt.allAck = time.Since(t0)
	return lt, nil
}

// produceEverywhere sends one acks=all record to each partition of parts,
// one request per leader (as a survivor's Metadata names it, never dead),
// until each is acknowledged or timeout passes; it returns those that never
// were.
func produceEverywhere(c *cluster, topic string, parts []int32, dead int32, timeout time.Duration) []int32 {
	deadline := time.Now().Add(timeout)
	pending := slices.Clone(parts)
	batch := probeBatch([]byte("everywhere"))
	var ask *member
	for _, m := range c.brokers {
		if m.alive() {
			ask = m
			break
		}
	}
	for len(pending) > 0 && time.Now().Before(deadline) {
		md, err := readMetadata(context.Background(), ask.addr, topic)
		if err != nil || len(md.Topics) != 1 {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		leaderOf := map[int32]int32{}
		for _, p := range md.Topics[0].Partitions {
			leaderOf[p.Partition] = p.Leader
		}
		byLeader := map[int32][]int32{}
		for _, p := range pending {
			if l := leaderOf[p]; l >= 0 && l != dead {
				byLeader[l] = append(byLeader[l], p)
			}
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		acked := map[int32]bool{}
		for _, m := range c.brokers {
			ps := byLeader[m.id]
			if len(ps) == 0 {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := &rconn{addr: m.addr}
				defer r.close()
				resp, err := r.do(produceRequest(-1, 10*time.Second, topic, ps, batch), 20*time.Second)
				if err != nil {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				for _, t := range resp.(*kmsg.ProduceResponse).Topics {
					for _, p := range t.Partitions {
						if p.ErrorCode == 0 {
							acked[p.Partition] = true
						}
					}
				}
			}()
		}
		wg.Wait()
		pending = slices.DeleteFunc(pending, func(p int32) bool { return acked[p] })
		if len(pending) > 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return pending
}

// controllerTimes is one controller failover, every time since the kill.
type controllerTimes struct {
	active    time.Duration // both survivors' Metadata name the same new controller, every partition led
	converged time.Duration // and no ISR holds the dead broker any more
	elected   time.Duration // new controller's log: "elected as controller"
	loaded    time.Duration // new controller's log: "controller context initialised"
	isrLast   time.Duration // new controller's log: last "replicas removed from ISR"
}

func benchControllerFailover(b *testing.B) {
	n := 2 * failoverPartitions()
	var runs []controllerTimes
	for b.Loop() {
		c := failoverCluster(b, "controller")
		// Two topics of n/2 partitions (a topic's assignment is one znode),
		// led by brokers 1 and 2; the controller, broker 0, follows all.
		topics := []string{"ctl-a", "ctl-b"}
		for _, t := range topics {
			assign := make([][]int32, n/2)
			for p := range assign {
				assign[p] = []int32{1, 2, 0}
				if p%2 == 1 {
					assign[p] = []int32{2, 1, 0}
				}
			}
			if err := createAssigned(c.addrs(), t, 0, 0, assign); err != nil {
				c.close()
				b.Fatalf("create %s: %v\n%s", t, err, c.brokers[0].proc.logTail())
			}
		}
		// One acks=all write to every partition: the brokers are done
		// with the topics' LeaderAndIsr (Metadata shows the controller's
		// view, not theirs) and the followers are fetching.
		all := make([]int32, n/2)
		for p := range all {
			all[p] = int32(p)
		}
		for _, t := range topics {
			if pending := produceEverywhere(c, t, all, -1, time.Minute); len(pending) > 0 {
				c.close()
				b.Fatalf("warm-up %s: %d partitions not acknowledged", t, len(pending))
			}
		}
		var stopPerf []func()
		if dir := os.Getenv("GREGOR_BENCH_PERF"); dir != "" {
			for _, m := range c.brokers[1:] {
				stopPerf = append(stopPerf, perfRecord(b, m.proc.pid(), filepath.Join(dir, fmt.Sprintf("gregor-controller-failover-broker%d-%d.perf.data", m.id, clusterSeq))))
			}
		}
		t0 := c.brokers[0].kill()
		ct, newCtl, err := measureControllerFailover(c, topics, n, t0)
		for _, stop := range stopPerf {
			stop()
		}
		if err != nil {
			c.close()
			b.Fatalf("%v\nbroker 1 log:\n%s", err, c.brokers[1].proc.logTail())
		}
		lp := c.brokers[newCtl].proc.logPath
		if ls := readLog(lp, t0, "elected as controller"); len(ls) > 0 {
			ct.elected = ls[0].at.Sub(t0)
		}
		if ls := readLog(lp, t0, "controller context initialised"); len(ls) > 0 {
			ct.loaded = ls[0].at.Sub(t0)
		}
		if ls := readLog(lp, t0, "replicas removed from ISR"); len(ls) > 0 {
			ct.isrLast = ls[len(ls)-1].at.Sub(t0)
		}
		runs = append(runs, ct)
		if verbose {
			fmt.Fprintf(os.Stderr, "bench: %s: new controller %d: %+v\n", b.Name(), newCtl, ct)
		}
		c.close()
	}
	pick := func(f func(controllerTimes) time.Duration) []float64 {
		var vs []float64
		for _, r := range runs {
			vs = append(vs, ms(f(r)))
		}
		return vs
	}
	report(b, "failover/controller/active", "ms-active", pick(func(r controllerTimes) time.Duration { return r.active }))
	report(b, "failover/controller/converged", "ms-isr-converged", pick(func(r controllerTimes) time.Duration { return r.converged }))
	report(b, "failover/controller/elected", "ms-elected", pick(func(r controllerTimes) time.Duration { return r.elected }))
	report(b, "failover/controller/loaded", "ms-context-loaded", pick(func(r controllerTimes) time.Duration { return r.loaded }))
	report(b, "failover/controller/isrLast", "ms-last-isr-shrink", pick(func(r controllerTimes) time.Duration { return r.isrLast }))
	report(b, "failover/controller/afterElected", "ms-active-after-elected", pick(func(r controllerTimes) time.Duration { return r.active - r.elected }))
	var all []string
	for _, r := range runs {
		all = append(all, fmt.Sprintf("%.0f (elected at %.0f)", ms(r.active), ms(r.elected)))
	}
	failoverRuns.Lock()
	failoverRuns.controller = strings.Join(all, ", ")
	failoverRuns.Unlock()
}

// measureControllerFailover polls the two survivors' Metadata from t0 until
// both name the same new controller and every partition has a live leader
// (active), then until no ISR holds broker 0 (converged). It returns the new
// controller's index.
func measureControllerFailover(c *cluster, topics []string, n int, t0 time.Time) (controllerTimes, int, error) {
	var ct controllerTimes
	deadline := t0.Add(2 * time.Minute)
	conns := []*rconn{{addr: c.brokers[1].addr}, {addr: c.brokers[2].addr}}
	defer func() {
		for _, r := range conns {
			r.close()
		}
	}()
	newCtl := -1
	for time.Now().Before(deadline) {
		ctl := int32(-2)
		active, converged := true, true
		for _, r := range conns {
			resp, err := r.do(metadataRequest(topics...), 5*time.Second)
			if err != nil {
				active, converged = false, false
				break
			}
			md := resp.(*kmsg.MetadataResponse)
			if md.ControllerID <= 0 || (ctl != -2 && md.ControllerID != ctl) {
				active = false
			}
			ctl = md.ControllerID
			count := 0
			for _, t := range md.Topics {
				for _, p := range t.Partitions {
					count++
					if p.Leader <= 0 {
						active = false
					}
					if slices.Contains(p.ISR, 0) {
						converged = false
					}
				}
			}
			if count != n {
				active, converged = false, false
			}
		}
		if active && ct.active == 0 {
			ct.active = time.Since(t0)
			newCtl = int(ctl)
		}
		if ct.active > 0 && converged {
			ct.converged = time.Since(t0)
			return ct, newCtl, nil
		}
		time.Sleep(pollEvery)
	}
	return ct, newCtl, fmt.Errorf("controller failover incomplete after %s (active after %s)", time.Since(t0), ct.active)
}

// printFailoverFigures writes the "figure:" lines of BenchmarkFailover.
func printFailoverFigures(w io.Writer) {
	get := func(key string) string {
		if v, ok := result(key); ok {
			return fmt.Sprintf("%.0f", v)
		}
		return "n/a"
	}
	target := ms(sessionTimeout + time.Second)
	verdict := func(key string) string {
		v, ok := result(key)
		switch {
		case !ok:
			return "not measured"
		case v <= target:
			return "met"
		}
		return "NOT met"
	}
	failoverRuns.Lock()
	defer failoverRuns.Unlock()
	fmt.Fprintf(w, "figure: leader kill -9 with %d partitions led by it -> first acks=all produce acknowledged by a new leader: %s ms median (runs: %s) (<= session timeout %s + 1 s = %.0f ms: %s), %s ms after the controller saw the session expire; breakdown (median ms since the kill): session expiry seen by the controller %s, first/last leader elected %s/%s, every partition led in a survivor's Metadata %s, all %d probed partitions acknowledged %s, every partition acknowledged %s; CPU ms from the kill to then: controller %s, other survivor %s\n",
		failoverPartitions(), get("failover/leader/firstAck"), failoverRuns.leader, sessionTimeout, target, verdict("failover/leader/firstAck"), get("failover/leader/afterExpiry"),
		get("failover/leader/detected"), get("failover/leader/electFirst"), get("failover/leader/electLast"),
		get("failover/leader/allLed"), probes, get("failover/leader/probesAck"), get("failover/leader/allAck"),
		get("failover/leader/cpuController"), get("failover/leader/cpuOther"))
	fmt.Fprintf(w, "figure: controller kill -9 with %d partitions in the cluster -> new controller active (both survivors' Metadata name it, every partition led): %s ms median (runs: %s) (<= %.0f ms: %s), %s ms after its election; breakdown (median ms since the kill): elected as controller %s, context loaded %s, last ISR shrink written %s, no ISR holds the dead broker %s\n",
		2*failoverPartitions(), get("failover/controller/active"), failoverRuns.controller, target, verdict("failover/controller/active"), get("failover/controller/afterElected"),
		get("failover/controller/elected"), get("failover/controller/loaded"), get("failover/controller/isrLast"), get("failover/controller/converged"))
}
