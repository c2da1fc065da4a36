package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// reassignTopic is the topic the reassignment benchmark moves.
const reassignTopic = "moving"

// GREGOR_BENCH_REASSIGN_MB is the volume moved (MiB of 1 KiB records,
// default 1024); GREGOR_BENCH_REASSIGN_THROTTLE_MB the replication
// throttle of the throttled move (MiB/s, default 20).
var (
	reassignVolume   = sync.OnceValue(func() int64 { return envInt("GREGOR_BENCH_REASSIGN_MB", 1024) << 20 })
	reassignThrottle = sync.OnceValue(func() int64 { return envInt("GREGOR_BENCH_REASSIGN_THROTTLE_MB", 20) << 20 })
)

// BenchmarkReassign measures the figure of docs/benchmarks.md, "Partition
// reassignment": the time to move GREGOR_BENCH_REASSIGN_MB from brokers
// [0,1] to [1,2] (8 partitions) without a throttle and with a replication
// throttle, and the achieved rate against the throttle. It prints
// "figure:" lines and a "machine:" line.
func BenchmarkReassign(b *testing.B) {
	m0 := readMachine()
	b.Run("move", benchReassign)
	printReassignFigures(os.Stdout)
	fmt.Println("machine:", m0.describe(readMachine()))
}

// reassignRun is one timed move.
type reassignRun struct {
	took  time.Duration
	bytes int64   // log bytes of the moved partitions on broker 2 afterwards
	cpu   float64 // the three brokers' CPU seconds during the move
}

func (r reassignRun) rate() float64 { return float64(r.bytes) / r.took.Seconds() } // bytes/s

var reassignRuns struct {
	sync.Mutex
	free, throttled []reassignRun
}

func benchReassign(b *testing.B) {
	c, err := h.startCluster("reassign", 3)
	if err != nil {
		b.Fatal(err)
	}
	defer c.close()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.addrs()...),
		kgo.DefaultProduceTopic(reassignTopic),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DisableIdempotentWrite(),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
	)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	// Leaders alternate between 0 and 1; the move keeps the leader when it
	// stays (broker 1) and elects broker 1 where broker 0 led.
	origin, target := make([][]int32, partitions), make([][]int32, partitions)
	for p := range origin {
		origin[p], target[p] = []int32{0, 1}, []int32{1, 2}
		if p%2 == 1 {
			origin[p], target[p] = []int32{1, 0}, []int32{2, 1}
		}
	}
	if err := createAssigned(c.addrs(), reassignTopic, 0, 0, origin); err != nil {
		b.Fatalf("create: %v\n%s", err, c.brokers[0].proc.logTail())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	fillStart := time.Now()
	for left := reassignVolume() / recordSize; left > 0; left -= 1 << 16 {
		if err := produceN(ctx, cl, min(left, 1<<16)); err != nil {
			b.Fatalf("fill: %v", err)
		}
	}
	if verbose {
		fmt.Fprintf(os.Stderr, "bench: %s: filled %d MiB in %v\n", b.Name(), reassignVolume()>>20, time.Since(fillStart).Round(time.Millisecond))
	}
	throttled := map[string]string{
		"leader.replication.throttled.replicas":   throttledList(partitions, 0, 1),
		"follower.replication.throttled.replicas": throttledList(partitions, 2),
	}
	for b.Loop() {
		r, err := timeReassign(ctx, c, cl, target)
		if err != nil {
			b.Fatal(err)
		}
		reassignRuns.Lock()
		reassignRuns.free = append(reassignRuns.free, r)
		reassignRuns.Unlock()
		if _, err := timeReassign(ctx, c, cl, origin); err != nil { // back, untimed
			b.Fatal(err)
		}

		rate := fmt.Sprint(reassignThrottle())
		if err := alterConfigs(ctx, cl, kmsg.ConfigResourceTypeBroker, "", map[string]*string{
			"leader.replication.throttled.rate": &rate, "follower.replication.throttled.rate": &rate}); err != nil {
			b.Fatal(err)
		}
		if err := alterConfigs(ctx, cl, kmsg.ConfigResourceTypeTopic, reassignTopic, ptrs(throttled)); err != nil {
			b.Fatal(err)
		}
		r, err = timeReassign(ctx, c, cl, target)
		if err != nil {
			b.Fatal(err)
		}
		reassignRuns.Lock()
		reassignRuns.throttled = append(reassignRuns.throttled, r)
		reassignRuns.Unlock()
		// Throttle off (as kafka-reassign-partitions --verify does), then back.
		if err := alterConfigs(ctx, cl, kmsg.ConfigResourceTypeBroker, "", map[string]*string{
			"leader.replication.throttled.rate": nil, "follower.replication.throttled.rate": nil}); err != nil {
			b.Fatal(err)
		}
		if err := alterConfigs(ctx, cl, kmsg.ConfigResourceTypeTopic, reassignTopic, map[string]*string{
			"leader.replication.throttled.replicas": nil, "follower.replication.throttled.replicas": nil}); err != nil {
			b.Fatal(err)
		}
		if _, err := timeReassign(ctx, c, cl, origin); err != nil {
			b.Fatal(err)
		}
	}
}

// throttledList is "p:b,..." for every partition and broker, the form
// kafka-reassign-partitions writes.
func throttledList(nparts int, brokers ...int32) string {
	var es []string
	for p := range nparts {
		for _, b := range brokers {
			es = append(es, fmt.Sprintf("%d:%d", p, b))
		}
	}
	return strings.Join(es, ",")
}

func ptrs(m map[string]string) map[string]*string {
	out := map[string]*string{}
	for k, v := range m {
		out[k] = &v
	}
	return out
}

// alterConfigs sets (non-nil) or deletes (nil) configs of one resource with
// IncrementalAlterConfigs.
func alterConfigs(ctx context.Context, cl *kgo.Client, typ kmsg.ConfigResourceType, name string, cfg map[string]*string) error {
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	r := kmsg.NewIncrementalAlterConfigsRequestResource()
	r.ResourceType, r.ResourceName = typ, name
	for k, v := range cfg {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Value, c.Op = k, v, kmsg.IncrementalAlterConfigOpSet
		if v == nil {
			c.Op = kmsg.IncrementalAlterConfigOpDelete
		}
		r.Configs = append(r.Configs, c)
	}
	req.Resources = append(req.Resources, r)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	for _, rr := range resp.Resources {
		if err := kerr.ErrorForCode(rr.ErrorCode); err != nil {
			return fmt.Errorf("alter configs of %s: %w (%v)", name, err, rr.ErrorMessage)
		}
	}
	return nil
}

// timeReassign asks the controller to move every partition of
// reassignTopic to assign and times it until ListPartitionReassignments
// lists none of them.
func timeReassign(ctx context.Context, c *cluster, cl *kgo.Client, assign [][]int32) (reassignRun, error) {
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	rt.Topic = reassignTopic
	for p, rs := range assign {
		rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
		rp.Partition, rp.Replicas = int32(p), rs
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 60000
	cpu0 := clusterCPU(c)
	t0 := time.Now()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return reassignRun{}, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return reassignRun{}, fmt.Errorf("alter reassignments: %w", err)
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return reassignRun{}, fmt.Errorf("alter reassignment of %s-%d: %w", t.Topic, p.Partition, err)
			}
		}
	}
	for {
		lr, err := kmsg.NewPtrListPartitionReassignmentsRequest().RequestWith(ctx, cl)
		if err == nil && lr.ErrorCode == 0 && len(lr.Topics) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return reassignRun{}, fmt.Errorf("reassignment not done: %w (last list: %v)", ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	r := reassignRun{took: time.Since(t0), cpu: clusterCPU(c) - cpu0}
	for p := range assign {
		r.bytes += logBytes(filepath.Join(c.brokers[2].dataDir, fmt.Sprintf("%s-%d", reassignTopic, p)))
	}
	return r, nil
}

// clusterCPU is the brokers' CPU seconds so far.
func clusterCPU(c *cluster) float64 {
	var s float64
	for _, m := range c.brokers {
		s += cpuOf(m)
	}
	return s
}

// logBytes is the size of the .log files in a partition directory (0 when
// it is gone).
func logBytes(dir string) int64 {
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	var n int64
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// printReassignFigures writes the "figure:" lines of BenchmarkReassign.
func printReassignFigures(w io.Writer) {
	reassignRuns.Lock()
	defer reassignRuns.Unlock()
	if len(reassignRuns.free) == 0 || len(reassignRuns.throttled) == 0 {
		fmt.Fprintln(w, "figure: partition reassignment not measured")
		return
	}
	med := func(rs []reassignRun, f func(reassignRun) float64) float64 {
		var vs []float64
		for _, r := range rs {
			vs = append(vs, f(r))
		}
		return median(vs)
	}
	secs := func(r reassignRun) float64 { return r.took.Seconds() }
	rate := func(r reassignRun) float64 { return r.rate() }
	cpuPerGB := func(r reassignRun) float64 { return r.cpu / (float64(r.bytes) / 1e9) }
	each := func(rs []reassignRun) string {
		var es []string
		for _, r := range rs {
			es = append(es, fmt.Sprintf("%.1f s/%.1f MiB/s", r.took.Seconds(), r.rate()/(1<<20)))
		}
		return strings.Join(es, ", ")
	}
	mib := float64(1 << 20)
	free, thr := reassignRuns.free, reassignRuns.throttled
	limit := float64(reassignThrottle())
	fmt.Fprintf(w, "figure: reassignment of %d MiB (%d partitions, [0,1] -> [1,2]) without a throttle: %.1f s median, %.1f MiB/s, brokers' CPU %.2f s/GB (runs: %s)\n",
		reassignVolume()>>20, partitions, med(free, secs), med(free, rate)/mib, med(free, cpuPerGB), each(free))
	fmt.Fprintf(w, "figure: the same with a %.0f MiB/s replication throttle: %.1f s median (%.2f x the time bytes/throttle predicts, %.1f x the unthrottled time), %.2f MiB/s achieved = %.3f of the throttle, brokers' CPU %.2f s/GB (runs: %s)\n",
		limit/mib, med(thr, secs), med(thr, secs)/(med(thr, func(r reassignRun) float64 { return float64(r.bytes) })/limit),
		med(thr, secs)/med(free, secs), med(thr, rate)/mib, med(thr, rate)/limit, med(thr, cpuPerGB), each(thr))
}
