package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// idemTopic is the topic of the idempotent-producer benchmark: RF 3, 8
// partitions, on its own 3-broker cluster.
const idemTopic = "idem"

var idemOnce struct {
	sync.Mutex
	c   *cluster
	err error
}

func idempotentCluster(b *testing.B) *cluster {
	idemOnce.Lock()
	defer idemOnce.Unlock()
	if idemOnce.c == nil && idemOnce.err == nil {
		c, err := h.startCluster("idem", 3)
		if err == nil {
			if err = createAssigned(c.addrs(), idemTopic, partitions, 3, nil); err != nil {
				c.close()
				c = nil
			}
		}
		idemOnce.c, idemOnce.err = c, err
	}
	if idemOnce.err != nil {
		b.Fatal(idemOnce.err)
	}
	return idemOnce.c
}

// newIdemProducer is a kgo producer of idemTopic with acks=all, five
// produce requests in flight per broker (kgo's maximum with idempotence,
// set explicitly without it so the two sides pipeline alike), linger 5 ms,
// no compression; idempotent or not.
func newIdemProducer(addrs []string, idempotent bool) (*kgo.Client, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(addrs...),
		kgo.DefaultProduceTopic(idemTopic),
		kgo.ProducerLinger(5 * time.Millisecond),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
	}
	if !idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(5))
	}
	return kgo.NewClient(opts...)
}

// BenchmarkIdempotent measures the figure of docs/benchmarks.md,
// "Idempotent producer": produce throughput of an idempotent producer
// against a non-idempotent one, both acks=all on an RF 3 topic of a
// 3-broker cluster, in interleaved rounds of one run (the cost of the
// producer-state checks on every leader append and follower apply). Target:
// idempotent >= 90% of non-idempotent.
func BenchmarkIdempotent(b *testing.B) {
	m0 := readMachine()
	b.Run("produce", benchIdempotentProduce)
	printIdempotentFigures(os.Stdout)
	fmt.Println("machine:", m0.describe(readMachine()))
}

func benchIdempotentProduce(b *testing.B) {
	c := idempotentCluster(b)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	var legs []*replLeg
	for _, side := range []struct {
		name string
		idem bool
	}{{"idempotent", true}, {"plain", false}} {
		cl, err := newIdemProducer(c.addrs(), side.idem)
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		if err := produceN(ctx, cl, 4096); err != nil {
			b.Fatalf("%s: warm-up: %v", side.name, err)
		}
		legs = append(legs, &replLeg{name: side.name, pids: c.pids(), cl: cl})
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
				cpu0 := l.cpuNow()
				start := time.Now()
				if err := produceN(ctx, l.cl, records); err != nil {
					b.Fatalf("%s: %v", l.name, err)
				}
				d := time.Since(start)
				l.cpu += l.cpuNow() - cpu0
				l.bytes += chunk
				l.wall += d
				l.perRound = append(l.perRound, float64(chunk)/1e6/d.Seconds())
				if verbose {
					fmt.Fprintf(os.Stderr, "bench: %s round %d %s: %s, %.1f MB/s\n", b.Name(), r, l.name, d.Round(time.Millisecond), float64(chunk)/1e6/d.Seconds())
				}
			}
		}
	}
	// Both sides run on the same brokers: each side's CPU is what the
	// brokers used during its own rounds.
	reportLegs(b, "idem/produce", "idempotent/plain", legs)
}

func printIdempotentFigures(w io.Writer) {
	get := func(key string, digits int) string {
		if v, ok := result(key); ok {
			return fmt.Sprintf("%.*f", digits, v)
		}
		return "n/a"
	}
	r, ok := result("idem/produce/ratio")
	verdict := "not measured"
	if ok {
		verdict = map[bool]string{true: "met", false: "NOT met"}[r >= 0.9]
	}
	fmt.Fprintf(w, "figure: produce MB/s, acks=all RF 3 on 3 brokers, idempotent vs not: %s vs %s; ratio %s [per round: median %s, %s-%s] (>= 0.90: %s); brokers' CPU s/GB: %s vs %s\n",
		get("idem/produce/idempotent/MBps", 1), get("idem/produce/plain/MBps", 1), get("idem/produce/ratio", 2),
		get("idem/produce/ratio/median", 2), get("idem/produce/ratio/min", 2), get("idem/produce/ratio/max", 2), verdict,
		get("idem/produce/idempotent/cpu", 2), get("idem/produce/plain/cpu", 2))
}
