// kafka-producer-perf-test produces --num-records records of --record-size
// bytes at up to --throughput records/s and reports like Kafka 3.x's
// bin/kafka-producer-perf-test.sh (ProducerPerformance): a progress line
// every 5 s and a final line with latency percentiles:
//
//	kafka-producer-perf-test --topic t --num-records 100000 --record-size 100 --throughput -1 --producer-props bootstrap.servers=localhost:9092 acks=1
package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/IBM/sarama"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

const purpose = "This tool is used to verify the producer performance."

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	p := cli.NewParser()
	topic := p.Arg("topic", "produce messages to this topic", "TOPIC")
	numRecords := p.Typed("num-records", "number of messages to produce", "Long", "NUM-RECORDS")
	recordSize := p.Typed("record-size", "message size in bytes. Note that you must provide exactly one of --record-size or --payload-file.", "Integer", "RECORD-SIZE")
	payloadFile := p.Arg("payload-file", "file to read the message payloads from. This works only for UTF-8 encoded text files. Payloads will be read from this file and a payload will be randomly selected when sending messages. Note that you must provide exactly one of --record-size or --payload-file.", "PAYLOAD-FILE")
	payloadDelimiter := p.Arg("payload-delimiter", "provides delimiter to be used when --payload-file is provided. Defaults to new line. Note that this parameter will be ignored if --payload-file is not provided.", "PAYLOAD-DELIMITER").WithDefault("\\n")
	throughput := p.Typed("throughput", "throttle maximum message throughput to *approximately* THROUGHPUT messages/sec. Set this to -1 to disable throttling.", "Double", "THROUGHPUT")
	producerProps := p.Arg("producer-props", "kafka producer related configuration properties like bootstrap.servers,client.id etc. These configs take precedence over those passed via --producer.config.", "PROP-NAME=PROP-VALUE")
	producerConfig := p.Arg("producer.config", "producer config properties file.", "CONFIG-FILE")
	printMetrics := p.Flag("print-metrics", "print out metrics at the end of the test.")
	t := &cli.Tool{Stdout: stdout, Stderr: stderr, Parser: p, Purpose: purpose}
	if done, code := t.Start(args, true); done {
		return code
	}
	for _, o := range []*cli.Option{topic, numRecords, throughput} {
		if !o.Has() {
			return t.Fail(cli.Usagef("kafka-producer-perf-test: error: argument --%s is required", o.Name))
		}
	}
	if recordSize.Has() == payloadFile.Has() {
		return t.Fail(cli.Usagef("kafka-producer-perf-test: error: Either --record-size or --payload-file must be specified but not both."))
	}
	n, err := numRecords.Int64()
	if err != nil {
		return t.Fail(err)
	}
	rate, err := throughput.Float()
	if err != nil {
		return t.Fail(err)
	}
	props, err := cli.LoadProperties(producerConfig.Value())
	if err != nil {
		return t.Fail(err)
	}
	// argparse4j's nargs("+"): every argument after --producer-props that
	// looks like key=value belongs to it.
	kvs := append(producerProps.Values(), p.NonOptions...)
	if err := cli.ParseKV(props, kvs); err != nil {
		return t.Fail(err)
	}
	if props["bootstrap.servers"] == "" {
		return t.Fail(cli.Errorf("ConfigException", "Missing required configuration \"bootstrap.servers\" which has no default value."))
	}
	if _, ok := props["client.id"]; !ok {
		props["client.id"] = "perf-producer-client"
	}
	cfg, err := cli.NewConfig(props["client.id"], props)
	if err != nil {
		return t.Fail(err)
	}
	cfg.Producer.Partitioner = cli.NewKafkaPartitioner
	var payloads [][]byte
	if payloadFile.Has() {
		data, err := os.ReadFile(payloadFile.Value())
		if err != nil {
			return t.Fail(cli.Errorf("IOException", "%s", err))
		}
		delim := strings.ReplaceAll(payloadDelimiter.Value(), "\\n", "\n")
		for _, s := range strings.Split(string(data), delim) {
			if s != "" {
				payloads = append(payloads, []byte(s))
			}
		}
		if len(payloads) == 0 {
			return t.Fail(cli.Errorf("IllegalArgumentException", "File does not contain any payloads"))
		}
		fmt.Fprintf(stdout, "Reading payloads from: %s\nNumber of messages read: %d\n", payloadFile.Value(), len(payloads))
	} else {
		size, err := recordSize.Int()
		if err != nil {
			return t.Fail(err)
		}
		payload := make([]byte, size)
		for i := range payload {
			payload[i] = byte(rand.IntN(26) + 65)
		}
		payloads = [][]byte{payload}
	}
	producer, err := sarama.NewAsyncProducer(cli.Bootstrap(props["bootstrap.servers"]), cfg)
	if err != nil {
		return t.Fail(cli.AsKafka(err, ""))
	}
	st := newStats(n, 5*time.Second, stdout)
	done := make(chan struct{})
	go func() {
		defer close(done)
		succ, errs := producer.Successes(), producer.Errors()
		for succ != nil || errs != nil {
			select {
			case m, ok := <-succ:
				if !ok {
					succ = nil
					continue
				}
				st.record(time.Since(m.Metadata.(time.Time)), m.Value.Length(), time.Now())
			case e, ok := <-errs:
				if !ok {
					errs = nil
					continue
				}
				fmt.Fprintf(stderr, "%s\n", cli.JavaError(e.Err))
				st.record(time.Since(e.Msg.Metadata.(time.Time)), e.Msg.Value.Length(), time.Now())
			}
		}
	}()
	start := time.Now()
	for i := int64(0); i < n; i++ {
		if rate > 0 {
			if wait := time.Duration(float64(i)/rate*float64(time.Second)) - time.Since(start); wait > 0 {
				time.Sleep(wait)
			}
		}
		payload := payloads[0]
		if len(payloads) > 1 {
			payload = payloads[rand.IntN(len(payloads))]
		}
		producer.Input() <- &sarama.ProducerMessage{Topic: topic.Value(), Value: sarama.ByteEncoder(payload), Metadata: time.Now()}
	}
	producer.AsyncClose()
	<-done
	st.printTotal()
	// --print-metrics is accepted; sarama's metrics are not Kafka's, so
	// none are printed.
	_ = printMetrics
	return 0
}
