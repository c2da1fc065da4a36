// kafka-consumer-perf-test consumes --messages records of a topic and
// reports like Kafka 3.x's bin/kafka-consumer-perf-test.sh
// (ConsumerPerformance):
//
//	start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
//	2024-06-21 18:27:13:525, 2024-06-21 18:27:15:101, 9.5367, 6.0511, 100000, 63451.7766, 3, 1573, 6.0627, 63572.7908
//
// With --show-detailed-stats it prints one line per --reporting-interval
// (5 s by default) instead. It reads every partition from the start (or the
// end with --from-latest); the consumer group of --group is joined when the
// broker serves JoinGroup, else the partitions are read directly and
// rebalance.time.ms is 0.
package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

const purpose = "This tool helps in performance test for the full zookeeper consumer"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	bootstrap, topic, group, messages, fetchSize, fromLatest, consumerConfig *cli.Option
	printMetrics, detailed, interval, dateFormat, hideHeader, timeout        *cli.Option
}

func run(args []string, stdout, stderr io.Writer) int {
	p := cli.NewParser()
	o := &options{}
	o.bootstrap = p.Arg("bootstrap-server", "REQUIRED unless --broker-list(deprecated) is specified. The server(s) to connect to.", "server to connect to")
	o.topic = p.Arg("topic", "REQUIRED: The topic to consume from.", "topic")
	o.group = p.Arg("group", "The group id to consume on.", "gid").WithDefault(fmt.Sprintf("perf-consumer-%d", rand.IntN(100000)))
	o.messages = p.Typed("messages", "REQUIRED: The number of messages to send or consume", "Long", "count")
	o.fetchSize = p.Typed("fetch-size", "The amount of data to fetch in a single request.", "Integer", "size").WithDefault("1048576")
	o.fromLatest = p.Flag("from-latest", "If the consumer does not already have an established offset to consume from, start with the latest message present in the log rather than the earliest message.")
	o.consumerConfig = p.Arg("consumer.config", "Consumer config properties file.", "config file")
	o.printMetrics = p.Flag("print-metrics", "Print out the metrics.")
	o.detailed = p.Flag("show-detailed-stats", "If set, stats are reported for each reporting interval as configured by reporting-interval")
	o.interval = p.Typed("reporting-interval", "Interval in milliseconds at which to print progress info.", "Integer", "interval_ms").WithDefault("5000")
	o.dateFormat = p.Arg("date-format", "The date format to use for formatting the time field. See java.text.SimpleDateFormat for options.", "date format").WithDefault("yyyy-MM-dd HH:mm:ss:SSS")
	o.hideHeader = p.Flag("hide-header", "If set, skips printing the header for the stats")
	o.timeout = p.Typed("timeout", "The maximum allowed time in milliseconds between returned records.", "Long", "milliseconds").WithDefault("10000")
	t := &cli.Tool{Stdout: stdout, Stderr: stderr, Parser: p, Purpose: purpose}
	if done, code := t.Start(args, true); done {
		return code
	}
	if err := cli.CheckRequired(o.bootstrap, o.topic, o.messages); err != nil {
		return t.Fail(err)
	}
	n, err := o.messages.Int64()
	if err != nil {
		return t.Fail(err)
	}
	intervalMs, err := o.interval.Int()
	if err != nil {
		return t.Fail(err)
	}
	if intervalMs <= 0 {
		return t.Fail(cli.Errorf("IllegalArgumentException", "Reporting interval must be greater than 0."))
	}
	timeoutMs, err := o.timeout.Int64()
	if err != nil {
		return t.Fail(err)
	}
	fetch, err := o.fetchSize.Int()
	if err != nil {
		return t.Fail(err)
	}
	props, err := cli.LoadProperties(o.consumerConfig.Value())
	if err != nil {
		return t.Fail(err)
	}
	props["auto.offset.reset"] = "earliest"
	if o.fromLatest.Has() {
		props["auto.offset.reset"] = "latest"
	}
	if _, ok := props["client.id"]; !ok {
		props["client.id"] = "perf-consumer-client"
	}
	cfg, err := cli.NewConfig(props["client.id"], props)
	if err != nil {
		return t.Fail(err)
	}
	cfg.Consumer.Fetch.Default = int32(fetch)
	layout := javaDateLayout(o.dateFormat.Value())
	r := &runner{
		t: t, cfg: cfg, o: o, n: n, detailed: o.detailed.Has(), layout: layout,
		interval: time.Duration(intervalMs) * time.Millisecond, timeout: time.Duration(timeoutMs) * time.Millisecond,
	}
	return r.run()
}

// javaDateLayout turns a SimpleDateFormat pattern of the common letters
// into a Go layout.
func javaDateLayout(f string) string {
	return strings.NewReplacer("yyyy", "2006", "MM", "01", "dd", "02", "HH", "15", "mm", "04", "ss", "05", "SSS", "000").Replace(f)
}

// formatTime renders t with layout; Go writes ".000" for fractional seconds
// only after a dot, so "ss:SSS" is composed by hand.
func formatTime(t time.Time, layout string) string {
	if strings.Contains(layout, "05:000") {
		layout = strings.Replace(layout, "05:000", "05", 1)
		return t.Format(layout) + fmt.Sprintf(":%03d", t.Nanosecond()/1e6)
	}
	return t.Format(layout)
}

type runner struct {
	t                 *cli.Tool
	cfg               *sarama.Config
	o                 *options
	n                 int64
	detailed          bool
	layout            string
	interval, timeout time.Duration
}

func (r *runner) run() int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	msgs := make(chan int, 4096) // record sizes
	client, err := sarama.NewClient(cli.Bootstrap(r.o.bootstrap.Value()), r.cfg)
	if err != nil {
		return r.t.Fail(cli.AsKafka(err, ""))
	}
	defer client.Close()
	var wg sync.WaitGroup
	joinStart := time.Now()
	var joinTime time.Duration
	useGroup := false
	if b, err := client.LeastLoadedBroker(), error(nil); b != nil && err == nil {
		useGroup = cli.RequireAPI(b, 11) == nil
	}
	var stop func()
	if useGroup {
		g, err := sarama.NewConsumerGroupFromClient(r.o.group.Value(), client)
		if err != nil {
			return r.t.Fail(cli.AsKafka(err, ""))
		}
		joined := make(chan struct{})
		h := &handler{out: msgs, joined: joined}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := g.Consume(ctx, []string{r.o.topic.Value()}, h); err != nil {
					return
				}
			}
		}()
		select {
		case <-joined:
		case <-time.After(r.timeout):
		}
		joinTime = time.Since(joinStart)
		stop = func() { g.Close() }
	} else {
		cons, err := sarama.NewConsumerFromClient(client)
		if err != nil {
			return r.t.Fail(cli.AsKafka(err, ""))
		}
		parts, err := client.Partitions(r.o.topic.Value())
		if err != nil {
			return r.t.Fail(cli.AsKafka(err, ""))
		}
		var pcs []sarama.PartitionConsumer
		for _, p := range parts {
			pc, err := cons.ConsumePartition(r.o.topic.Value(), p, r.cfg.Consumer.Offsets.Initial)
			if err != nil {
				return r.t.Fail(cli.AsKafka(err, ""))
			}
			pcs = append(pcs, pc)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for m := range pc.Messages() {
					select {
					case msgs <- len(m.Key) + len(m.Value):
					case <-ctx.Done():
					}
				}
			}()
		}
		stop = func() {
			for _, pc := range pcs {
				pc.AsyncClose()
			}
			cons.Close()
		}
	}
	out := r.t.Stdout
	if !r.o.hideHeader.Has() {
		if r.detailed {
			fmt.Fprintln(out, "time, threadId, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec")
		} else {
			fmt.Fprintln(out, "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec")
		}
	}
	start := time.Now()
	var count, bytes, lastCount, lastBytes int64
	lastReport := start
	lastConsumed := start
	ticker := time.NewTicker(r.interval)
	defer ticker.Stop()
	timedOut := false
loop:
	for count < r.n {
		select {
		case size := <-msgs:
			count++
			bytes += int64(size)
			lastConsumed = time.Now()
		case now := <-ticker.C:
			if r.detailed {
				r.printProgress(bytes, lastBytes, count, lastCount, lastReport, now, joinTime)
				lastReport, lastBytes, lastCount = now, bytes, count
			}
		case <-time.After(time.Until(lastConsumed.Add(r.timeout))):
			timedOut = true
			break loop
		}
	}
	end := time.Now()
	cancel()
	stop()
	wg.Wait()
	if timedOut {
		fmt.Fprintf(out, "WARNING: Exiting before consuming the expected number of messages: timeout (%d ms) exceeded. You can use the --timeout option to increase the timeout.\n", r.timeout.Milliseconds())
	}
	if !r.detailed {
		elapsed := end.Sub(start).Seconds()
		mb := float64(bytes) / (1024 * 1024)
		fetchMs := end.Sub(start).Milliseconds() - joinTime.Milliseconds()
		if useGroup {
			// The join happened before start: the whole run is fetch time.
			fetchMs = end.Sub(start).Milliseconds()
		}
		fetchSecs := float64(fetchMs) / 1000
		fmt.Fprintf(out, "%s, %s, %.4f, %.4f, %d, %.4f, %d, %d, %.4f, %.4f\n",
			formatTime(start, r.layout), formatTime(end, r.layout), mb, mb/elapsed, count, float64(count)/elapsed,
			joinTime.Milliseconds(), fetchMs, mb/fetchSecs, float64(count)/fetchSecs)
	}
	return 0
}

// printProgress is printBasicProgress plus printExtendedProgress.
func (r *runner) printProgress(bytes, lastBytes, count, lastCount int64, from, to time.Time, join time.Duration) {
	elapsedMs := float64(to.Sub(from).Milliseconds())
	totalMB := float64(bytes) / (1024 * 1024)
	intervalMB := float64(bytes-lastBytes) / (1024 * 1024)
	fmt.Fprintf(r.t.Stdout, "%s, %d, %.4f, %.4f, %d, %.4f", formatTime(to, r.layout), 0, totalMB,
		1000*intervalMB/elapsedMs, count, float64(count-lastCount)/elapsedMs*1000)
	fetchMs := to.Sub(from).Milliseconds()
	var mbs, ns float64
	if fetchMs > 0 {
		mbs, ns = 1000*intervalMB/float64(fetchMs), 1000*float64(count-lastCount)/float64(fetchMs)
	}
	fmt.Fprintf(r.t.Stdout, ", %d, %d, %.4f, %.4f\n", 0, fetchMs, mbs, ns)
	_ = join
}

type handler struct {
	out    chan<- int
	joined chan struct{}
	once   sync.Once
}

func (h *handler) Setup(sarama.ConsumerGroupSession) error {
	h.once.Do(func() { close(h.joined) })
	return nil
}
func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *handler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case m, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			select {
			case h.out <- len(m.Key) + len(m.Value):
				sess.MarkMessage(m, "")
			case <-sess.Context().Done():
				return nil
			}
		case <-sess.Context().Done():
			return nil
		}
	}
}
