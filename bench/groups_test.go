package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkGroups measures the figures of docs/benchmarks.md, "Consumer
// groups", against franz-go's kfake (a process, as in One broker) in the
// same run, rounds interleaved:
//
//   - rebalance: 10 kgo group members start at once on a 100-partition
//     topic holding one record per partition; the time from the start to
//     every member holding its 10 partitions and every record consumed;
//   - commit: OffsetCommit requests of one partition each from 16
//     connections for a few seconds: commits per second and p99 latency;
//   - load: 1 million offset commits in one __consumer_offsets partition,
//     the broker restarted, and the load time it logs ("loaded group
//     metadata and offsets", field elapsed), against the time a kgo
//     consumer takes to read the same partition (kfake has no log to load).
//
// Gregor here is one broker (RF 1, offsets.topic.replication.factor=1) with
// group.initial.rebalance.delay.ms=0, as kfake has no initial delay.
func BenchmarkGroups(b *testing.B) {
	m0 := readMachine()
	b.Run("rebalance", benchGroupRebalance)
	b.Run("commit", benchOffsetCommit)
	b.Run("load", benchOffsetsLoad)
	printGroupFigures(os.Stdout)
	fmt.Println("machine:", m0.describe(readMachine()))
}

const (
	rebalTopic      = "rebal"
	rebalPartitions = 100
	rebalMembers    = 10
)

// groupRounds is GREGOR_BENCH_GROUP_ROUNDS (default 3).
var groupRounds = sync.OnceValue(func() int { return int(envInt("GREGOR_BENCH_GROUP_ROUNDS", 3)) })

// rebalanceRounds is GREGOR_BENCH_REBALANCE_ROUNDS (default 9): a round
// either catches all 10 joins in one generation or needs another one that
// the members learn of by heartbeat, so the times are bimodal.
var rebalanceRounds = sync.OnceValue(func() int { return int(envInt("GREGOR_BENCH_REBALANCE_ROUNDS", 9)) })

var groupOnce struct {
	sync.Mutex
	done    bool
	targets []*target
	err     error
}

// groupTargets is kfake and a one-broker Gregor cluster, each with the
// rebalance topic holding one record per partition.
func groupTargets(b *testing.B) []*target {
	groupOnce.Lock()
	defer groupOnce.Unlock()
	if !groupOnce.done {
		groupOnce.done = true
		groupOnce.targets, groupOnce.err = startGroupTargets()
	}
	var buildErr errBrokerBuild
	if errors.As(groupOnce.err, &buildErr) {
		b.Skipf("gregor does not build yet: %s", headLines(groupOnce.err.Error(), 4))
	}
	if groupOnce.err != nil {
		b.Fatal(groupOnce.err)
	}
	return groupOnce.targets
}

func startGroupTargets() ([]*target, error) {
	kf, err := h.target("kfake")
	if err != nil {
		return nil, err
	}
	c, err := h.startCluster("groups", 1, "group.initial.rebalance.delay.ms=0")
	if err != nil {
		return nil, err
	}
	g := &target{name: "gregor", addr: c.brokers[0].addr, proc: c.brokers[0].proc}
	if err := createAssigned([]string{g.addr}, topic, partitions, 1, nil); err != nil {
		return nil, err
	}
	ts := []*target{kf, g}
	for _, t := range ts {
		if err := createAssigned([]string{t.addr}, rebalTopic, rebalPartitions, 1, nil); err != nil {
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
		if err := seedPartitions(t.addr); err != nil {
			return nil, fmt.Errorf("%s: seed %s: %w", t.name, rebalTopic, err)
		}
	}
	return ts, nil
}

// seedPartitions produces one record to each partition of rebalTopic.
func seedPartitions(addr string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DisableIdempotentWrite())
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var recs []*kgo.Record
	for p := int32(0); p < rebalPartitions; p++ {
		recs = append(recs, &kgo.Record{Topic: rebalTopic, Partition: p, Value: []byte(fmt.Sprint(p))})
	}
	return cl.ProduceSync(ctx, recs...).FirstErr()
}

// benchGroupRebalance: rounds of 10 members joining a fresh group, kfake
// and Gregor alternating.
func benchGroupRebalance(b *testing.B) {
	ts := groupTargets(b)
	times := map[string][]time.Duration{}
	for i := 0; i < b.N; i++ {
		for r := 0; r < rebalanceRounds(); r++ {
			for _, t := range ts {
				d, err := rebalanceOnce(t.addr, fmt.Sprintf("rebal-%s-%d-%d", t.name, i, r))
				if err != nil {
					b.Fatalf("%s: %v", t.name, err)
				}
				times[t.name] = append(times[t.name], d)
				if verbose {
					b.Logf("%s round %d: %s", t.name, r, d)
				}
			}
		}
	}
	for name, ds := range times {
		var secs []float64
		for _, d := range ds {
			secs = append(secs, d.Seconds())
		}
		setResult("rebalance."+name, median(secs))
		setResult("rebalance.min."+name, slices.Min(secs))
		setResult("rebalance.max."+name, slices.Max(secs))
	}
}

// rebalanceOnce starts rebalMembers eager (round-robin) kgo members of
// groupID at once and returns the time until each holds
// rebalPartitions/rebalMembers partitions and every seeded record has been
// consumed.
func rebalanceOnce(addr, groupID string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var (
		mu       sync.Mutex
		owned    = make([]map[int32]bool, rebalMembers)
		seen     = map[int32]bool{}
		finished = make(chan struct{})
		once     sync.Once
	)
	check := func() { // mu held
		if len(seen) < rebalPartitions {
			return
		}
		for _, o := range owned {
			if len(o) != rebalPartitions/rebalMembers {
				return
			}
		}
		once.Do(func() { close(finished) })
	}
	start := time.Now()
	var clients []*kgo.Client
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for m := 0; m < rebalMembers; m++ {
		owned[m] = map[int32]bool{}
		set := func(ps map[string][]int32, on bool) {
			mu.Lock()
			defer mu.Unlock()
			for _, p := range ps[rebalTopic] {
				if on {
					owned[m][p] = true
				} else {
					delete(owned[m], p)
				}
			}
			check()
		}
		cl, err := kgo.NewClient(
			kgo.SeedBrokers(addr),
			kgo.ConsumerGroup(groupID),
			kgo.ConsumeTopics(rebalTopic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.Balancers(kgo.RoundRobinBalancer()),
			kgo.HeartbeatInterval(250*time.Millisecond),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { set(ps, true) }),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { set(ps, false) }),
			kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { set(ps, false) }),
		)
		if err != nil {
			return 0, err
		}
		clients = append(clients, cl)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				fs := cl.PollFetches(ctx)
				mu.Lock()
				fs.EachRecord(func(r *kgo.Record) { seen[r.Partition] = true })
				check()
				mu.Unlock()
			}
		}()
	}
	select {
	case <-finished:
		return time.Since(start), nil
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		var sizes []int
		for _, o := range owned {
			sizes = append(sizes, len(o))
		}
		return 0, fmt.Errorf("group %s: not settled after 2 minutes: %d partitions consumed, members own %v", groupID, len(seen), sizes)
	}
}

// commitConns is the number of connections committing at once.
const commitConns = 16

// commitRound is how long each target is measured per round:
// GREGOR_BENCH_COMMIT_S seconds (default 2).
var commitRound = sync.OnceValue(func() time.Duration {
	return time.Duration(envInt("GREGOR_BENCH_COMMIT_S", 2)) * time.Second
})

// benchOffsetCommit: 16 connections send OffsetCommit (v7, one partition,
// generation -1: a group that only stores offsets) back to back.
func benchOffsetCommit(b *testing.B) {
	ts := groupTargets(b)
	lats := map[string][]time.Duration{}
	walls := map[string]time.Duration{}
	for _, t := range ts {
		if err := waitCoordinator(t.addr, "commit-"+t.name); err != nil {
			b.Fatalf("%s: %v", t.name, err)
		}
	}
	for i := 0; i < b.N; i++ {
		for r := 0; r < groupRounds(); r++ {
			for _, t := range ts {
				l, err := commitFor(t.addr, "commit-"+t.name, commitRound())
				if err != nil {
					b.Fatalf("%s: %v", t.name, err)
				}
				lats[t.name] = append(lats[t.name], l...)
				walls[t.name] += commitRound()
			}
		}
	}
	for name, l := range lats {
		slices.Sort(l)
		setResult("commit.rate."+name, float64(len(l))/walls[name].Seconds())
		setResult("commit.p50."+name, l[len(l)/2].Seconds()*1000)
		setResult("commit.p99."+name, l[len(l)*99/100].Seconds()*1000)
	}
}

// waitCoordinator sends FindCoordinator until groupID has one (Gregor
// creates __consumer_offsets on the first).
func waitCoordinator(addr, groupID string) error {
	r := &rconn{addr: addr}
	defer r.close()
	deadline := time.Now().Add(time.Minute)
	for {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.SetVersion(2)
		req.CoordinatorKey = groupID
		resp, err := r.do(req, 5*time.Second)
		if err == nil && resp.(*kmsg.FindCoordinatorResponse).ErrorCode == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no coordinator for %s: %v", groupID, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func commitRequest(groupID, topic string, parts []int32, offset int64) *kmsg.OffsetCommitRequest {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.SetVersion(7)
	req.Group = groupID
	req.Generation = -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	for _, p := range parts {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch = p, offset, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// commitErr is the first error code of an OffsetCommit response.
func commitErr(resp kmsg.Response) error {
	for _, t := range resp.(*kmsg.OffsetCommitResponse).Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return err
			}
		}
	}
	return nil
}

// commitFor commits from commitConns connections for d and returns every
// request's latency.
func commitFor(addr, groupID string, d time.Duration) ([]time.Duration, error) {
	var (
		mu   sync.Mutex
		all  []time.Duration
		errs = make(chan error, commitConns)
		wg   sync.WaitGroup
	)
	end := time.Now().Add(d)
	for w := 0; w < commitConns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &rconn{addr: addr}
			defer r.close()
			var mine []time.Duration
			for off := int64(0); time.Now().Before(end); off++ {
				t0 := time.Now()
				resp, err := r.do(commitRequest(groupID, topic, []int32{int32(w % partitions)}, off), 10*time.Second)
				if err == nil {
					err = commitErr(resp)
				}
				if err != nil {
					errs <- err
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	return all, nil
}

// Load benchmark: loadCommits offset commits of loadGroups groups, each
// request committing every partition of loadTopic.
const (
	loadTopic      = "load"
	loadPartitions = 100
	loadGroups     = 100
)

// loadCommits is GREGOR_BENCH_LOAD_COMMITS (default 1 000 000).
var loadCommits = sync.OnceValue(func() int64 { return envInt("GREGOR_BENCH_LOAD_COMMITS", 1_000_000) })

var elapsedRE = regexp.MustCompile(`elapsed=(\S+)`)
var recordsRE = regexp.MustCompile(`records=(\d+)`)

// benchOffsetsLoad writes the commits into the single partition of
// __consumer_offsets of a fresh one-broker cluster, restarts the broker
// (SIGTERM, same data) and reads the load time from its log; then times a
// kgo consumer reading that partition from start to end.
func benchOffsetsLoad(b *testing.B) {
	c, err := h.startCluster("groups-load", 1, "offsets.topic.num.partitions=1", "log.level=info")
	var buildErr errBrokerBuild
	if errors.As(err, &buildErr) {
		b.Skipf("gregor does not build yet: %s", headLines(err.Error(), 4))
	}
	if err != nil {
		b.Fatal(err)
	}
	defer c.close()
	m := c.brokers[0]
	if err := createAssigned([]string{m.addr}, loadTopic, loadPartitions, 1, nil); err != nil {
		b.Fatal(err)
	}
	if err := waitCoordinator(m.addr, "load-0"); err != nil {
		b.Fatal(err)
	}
	var parts []int32
	for p := int32(0); p < loadPartitions; p++ {
		parts = append(parts, p)
	}
	requests := loadCommits() / loadPartitions
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, commitConns)
	t0 := time.Now()
	for w := 0; w < commitConns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &rconn{addr: m.addr}
			defer r.close()
			for {
				i := next.Add(1) - 1
				if i >= requests {
					return
				}
				resp, err := r.do(commitRequest(fmt.Sprintf("load-%d", i%loadGroups), loadTopic, parts, i), 30*time.Second)
				if err == nil {
					err = commitErr(resp)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatalf("write commits: %v", err)
	default:
	}
	write := time.Since(t0)
	setResult("load.write_rate", float64(requests*loadPartitions)/write.Seconds())

	bin := h.bins["./tools/kafka-server-start"]
	pname := c.name + "-broker0"
	for i := 0; i < b.N; i++ {
		m.proc.stop()
		restarted := time.Now()
		p, _, err := startProc(h.dir, pname, false, bin, filepath.Join(h.dir, pname+".properties"))
		if err != nil {
			b.Fatal(err)
		}
		h.mu.Lock()
		h.procs = append(h.procs, p)
		h.mu.Unlock()
		m.proc = p
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		_, err = waitReady(ctx, p, m.addr, 0)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		var line logLine
		deadline := time.Now().Add(5 * time.Minute)
		for {
			if ls := readLog(p.logPath, restarted, "loaded group metadata and offsets"); len(ls) > 0 {
				line = ls[0]
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("no load logged:\n%s", p.logTail())
			}
			time.Sleep(50 * time.Millisecond)
		}
		el := elapsedRE.FindStringSubmatch(line.text)
		rec := recordsRE.FindStringSubmatch(line.text)
		if el == nil || rec == nil {
			b.Fatalf("load line without elapsed or records: %s", line.text)
		}
		d, err := time.ParseDuration(el[1])
		if err != nil {
			b.Fatal(err)
		}
		setResult("load.elapsed", d.Seconds())
		var n float64
		fmt.Sscan(rec[1], &n)
		setResult("load.records", n)
		if verbose {
			b.Logf("load: %s", line.text)
		}
	}
	d, n, err := readOffsetsPartition(m.addr)
	if err != nil {
		b.Fatal(err)
	}
	setResult("load.fetch", d.Seconds())
	setResult("load.fetch_records", float64(n))
}

// readOffsetsPartition consumes __consumer_offsets-0 from its start to its
// high watermark with kgo and returns the time and the record count.
func readOffsetsPartition(addr string) (time.Duration, int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = "__consumer_offsets"
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp = 0, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, 0, err
	}
	end := resp.Topics[0].Partitions[0].Offset
	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		"__consumer_offsets": {0: kgo.NewOffset().AtStart()},
	}), kgo.FetchMaxBytes(50<<20), kgo.FetchMaxPartitionBytes(50<<20))
	if err != nil {
		return 0, 0, err
	}
	defer cons.Close()
	t0 := time.Now()
	var n int64
	for {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return 0, 0, fmt.Errorf("read __consumer_offsets-0: %d records by the deadline: %w", n, err)
		}
		last := int64(-1)
		fs.EachRecord(func(r *kgo.Record) { n++; last = r.Offset })
		if last >= end-1 {
			return time.Since(t0), n, nil
		}
	}
}

// printGroupFigures prints the "figure:" lines of the Consumer groups
// section, ratios against kfake (rebalance, commit) and against reading the
// log with a consumer (load).
func printGroupFigures(w io.Writer) {
	if g, ok := result("rebalance.gregor"); ok {
		k, _ := result("rebalance.kfake")
		gmin, _ := result("rebalance.min.gregor")
		gmax, _ := result("rebalance.max.gregor")
		kmin, _ := result("rebalance.min.kfake")
		kmax, _ := result("rebalance.max.kfake")
		fmt.Fprintf(w, "figure: rebalance of %d members on %d partitions (start to all consuming, median [min-max] of %d): gregor %.3f s [%.3f-%.3f], kfake %.3f s [%.3f-%.3f], gregor/kfake %.2fx\n",
			rebalMembers, rebalPartitions, rebalanceRounds(), g, gmin, gmax, k, kmin, kmax, g/k)
	}
	if g, ok := result("commit.rate.gregor"); ok {
		k, _ := result("commit.rate.kfake")
		gp, _ := result("commit.p99.gregor")
		kp, _ := result("commit.p99.kfake")
		g50, _ := result("commit.p50.gregor")
		k50, _ := result("commit.p50.kfake")
		fmt.Fprintf(w, "figure: OffsetCommit, %d connections, 1 partition per request: gregor %.0f/s (p50 %.2f ms, p99 %.2f ms), kfake %.0f/s (p50 %.2f ms, p99 %.2f ms); throughput gregor/kfake %.2fx, p99 gregor/kfake %.2fx\n",
			commitConns, g, g50, gp, k, k50, kp, g/k, gp/kp)
	}
	if l, ok := result("load.elapsed"); ok {
		n, _ := result("load.records")
		f, _ := result("load.fetch")
		fn, _ := result("load.fetch_records")
		wr, _ := result("load.write_rate")
		fmt.Fprintf(w, "figure: load of one offsets partition with %.0f commit records: %.2f s (%.0f records/s); a kgo consumer reads its %.0f records in %.2f s: load/read %.2fx; written at %.0f commits/s (100 per request)\n",
			n, l, n/l, fn, f, l/f, wr)
	}
}
