// kafka-console-producer reads lines from stdin and produces each as one
// record, with the flags of Kafka 3.x's bin/kafka-console-producer.sh
// (ConsoleProducer and its LineMessageReader):
//
//	kafka-console-producer --bootstrap-server localhost:9092 --topic t
//	kafka-console-producer --bootstrap-server localhost:9092 --topic t --property parse.key=true --property key.separator=:
//
// Records are sent asynchronously unless --sync; a failed send is logged as
// Kafka's ErrorLoggingCallback logs it.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

const purpose = "This tool helps to read data from standard input and publish it to Kafka."

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

type options struct {
	bootstrap, brokerList, topic, sync, compression, batchSize, retries, retryBackoff *cli.Option
	timeout, acks, requestTimeout, property, producerProperty, producerConfig         *cli.Option
	maxBlock, metadataExpiry, readerConfig, lineReader                                *cli.Option
}

func newOptions(p *cli.Parser) *options {
	o := &options{}
	o.topic = p.Arg("topic", "REQUIRED: The topic id to produce messages to.", "topic")
	o.bootstrap = p.Arg("bootstrap-server", "REQUIRED unless --broker-list(deprecated) is specified. The server(s) to connect to. The broker list string in the form HOST1:PORT1,HOST2:PORT2.", "server to connect to")
	o.brokerList = p.Arg("broker-list", "DEPRECATED, use --bootstrap-server instead; ignored if --bootstrap-server is specified.  The broker list string in the form HOST1:PORT1,HOST2:PORT2.", "broker-list")
	o.sync = p.Flag("sync", "If set message send requests to the brokers are synchronously, one at a time as they arrive.")
	o.compression = p.Arg("compression-codec", "The compression codec: either 'none', 'gzip', 'snappy', 'lz4', or 'zstd'.If specified without value, then it defaults to 'gzip'", "compression-codec")
	o.batchSize = p.Typed("batch-size", "Number of messages to send in a single batch if they are not being sent synchronously. please note that this option will be replaced if max-partition-memory-bytes is also set", "Integer", "size").WithDefault("16384")
	o.retries = p.Typed("message-send-max-retries", "Brokers can fail receiving the message for multiple reasons, and being unavailable transiently is just one of them. This property specifies the number of retries before the producer give up and drop this message. This is the option to control `retries` in producer configs.", "Integer", "").WithDefault("3")
	o.retryBackoff = p.Typed("retry-backoff-ms", "Before each retry, the producer refreshes the metadata of relevant topics. Since leader election takes a bit of time, this property specifies the amount of time that the producer waits before refreshing the metadata. This is the option to control `retry.backoff.ms` in producer configs.", "Long", "").WithDefault("100")
	o.timeout = p.Typed("timeout", "If set and the producer is running in asynchronous mode, this gives the maximum amount of time a message will queue awaiting sufficient batch size. The value is given in ms. This is the option to control `linger.ms` in producer configs.", "Long", "timeout_ms").WithDefault("1000")
	o.acks = p.Arg("request-required-acks", "The required `acks` of the producer requests", "request required acks").WithDefault("-1")
	o.requestTimeout = p.Typed("request-timeout-ms", "The ack timeout of the producer requests. Value must be non-negative and non-zero.", "Integer", "request timeout ms").WithDefault("1500")
	o.maxBlock = p.Typed("max-block-ms", "The max time that the producer will block for during a send request.", "Long", "max block on send").WithDefault("60000")
	o.metadataExpiry = p.Typed("metadata-expiry-ms", "The period of time in milliseconds after which we force a refresh of metadata even if we haven't seen any leadership changes. This is the option to control `metadata.max.age.ms` in producer configs.", "Long", "metadata expiration interval").WithDefault("300000")
	o.property = p.Arg("property", "A mechanism to pass user-defined properties in the form key=value to the message reader. This allows custom configuration for a user-defined message reader.\nDefault properties include:\n parse.key=false\n parse.headers=false\n ignore.error=false\n key.separator=\\t\n headers.delimiter=\\t\n headers.separator=,\n headers.key.separator=:\n null.marker=   When set, any fields (key, value and headers) equal to this will be replaced by null", "prop")
	o.readerConfig = p.Arg("reader-config", "Config properties file for the message reader. Note that [property] takes precedence over this config.", "config file")
	o.lineReader = p.Arg("line-reader", "The class name of the class to use for reading lines from standard in. By default each line is read as a separate message.", "reader_class").WithDefault("org.apache.kafka.tools.LineMessageReader")
	o.producerProperty = p.Arg("producer-property", "A mechanism to pass user-defined properties in the form key=value to the producer.", "producer_prop")
	o.producerConfig = p.Arg("producer.config", "Producer config properties file. Note that [producer-property] takes precedence over this config.", "config file")
	return o
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	p := cli.NewParser()
	o := newOptions(p)
	t := &cli.Tool{Stdout: stdout, Stderr: stderr, Parser: p, Purpose: purpose}
	if done, code := t.Start(args, true); done {
		return code
	}
	if err := cli.CheckRequired(o.topic); err != nil {
		return t.Fail(err)
	}
	bootstrap := o.bootstrap.Value()
	if bootstrap == "" {
		bootstrap = o.brokerList.Value()
	}
	if bootstrap == "" {
		return t.Fail(cli.Usagef("Missing required argument \"[bootstrap-server]\""))
	}
	if o.lineReader.Value() != "org.apache.kafka.tools.LineMessageReader" && o.lineReader.Value() != "kafka.tools.ConsoleProducer$LineMessageReader" {
		return t.Fail(cli.Errorf("ClassNotFoundException", "%s", o.lineReader.Value()))
	}
	cfg, err := producerConfig(o)
	if err != nil {
		return t.Fail(err)
	}
	reader, err := newLineReader(o)
	if err != nil {
		return t.Fail(err)
	}
	return produce(t, o, cli.Bootstrap(bootstrap), cfg, reader, stdin)
}

// producerConfig is ConsoleProducer.producerProps: the flags first, then
// --producer.config, then --producer-property, later ones winning.
func producerConfig(o *options) (*sarama.Config, error) {
	props := map[string]string{
		"acks":                o.acks.Value(),
		"retries":             o.retries.Value(),
		"retry.backoff.ms":    o.retryBackoff.Value(),
		"linger.ms":           o.timeout.Value(),
		"batch.size":          o.batchSize.Value(),
		"request.timeout.ms":  o.requestTimeout.Value(),
		"metadata.max.age.ms": o.metadataExpiry.Value(),
		"compression.type":    "none",
	}
	if o.compression.Has() {
		c := o.compression.Value()
		if c == "" {
			c = "gzip"
		}
		if _, ok := cli.Compression(c); !ok {
			return nil, cli.Errorf("IllegalArgumentException", "Unknown compression name: %s", c)
		}
		props["compression.type"] = c
	}
	fileProps, err := cli.LoadProperties(o.producerConfig.Value())
	if err != nil {
		return nil, err
	}
	for k, v := range fileProps {
		props[k] = v
	}
	if err := cli.ParseKV(props, o.producerProperty.Values()); err != nil {
		return nil, err
	}
	if _, ok := props["client.id"]; !ok {
		props["client.id"] = "console-producer"
	}
	cfg, err := cli.NewConfig(props["client.id"], props)
	if err != nil {
		return nil, err
	}
	cfg.Producer.Partitioner = cli.NewKafkaPartitioner
	cfg.Producer.Flush.Messages = 0
	if o.sync.Has() {
		cfg.Producer.Flush.Frequency = 0
		cfg.Producer.Flush.Bytes = 0
	}
	return cfg, nil
}

// lineReader is LineMessageReader: one record per line, optionally
// "key<sep>value" and headers.
type lineReader struct {
	parseKey, parseHeaders, ignoreError     bool
	keySep, headersDelim, headersSep, hkSep string
	nullMarker                              *string
}

func newLineReader(o *options) (*lineReader, error) {
	props, err := cli.LoadProperties(o.readerConfig.Value())
	if err != nil {
		return nil, err
	}
	if err := cli.ParseKV(props, o.property.Values()); err != nil {
		return nil, err
	}
	get := func(k, def string) string {
		if v, ok := props[k]; ok {
			return unescape(v)
		}
		return def
	}
	r := &lineReader{
		parseKey:     strings.EqualFold(get("parse.key", "false"), "true"),
		parseHeaders: strings.EqualFold(get("parse.headers", "false"), "true"),
		ignoreError:  strings.EqualFold(get("ignore.error", "false"), "true"),
		keySep:       get("key.separator", "\t"),
		headersDelim: get("headers.delimiter", "\t"),
		headersSep:   get("headers.separator", ","),
		hkSep:        get("headers.key.separator", ":"),
	}
	if v, ok := props["null.marker"]; ok {
		r.nullMarker = &v
	}
	if r.parseKey && r.parseHeaders && r.keySep == r.headersDelim {
		return nil, cli.Errorf("KafkaException", "headers.delimiter and key.separator may not be equal")
	}
	return r, nil
}

// unescape turns the "\t" a shell passes literally into a tab, as Java's
// properties loading of "key.separator=\t" does.
func unescape(s string) string {
	r := strings.NewReplacer(`\t`, "\t", `\n`, "\n", `\r`, "\r", `\\`, `\`)
	return r.Replace(s)
}

// parse turns line number n into a record.
func (r *lineReader) parse(topic, line string, n int) (*sarama.ProducerMessage, error) {
	msg := &sarama.ProducerMessage{Topic: topic}
	rest := line
	if r.parseHeaders {
		i := strings.Index(rest, r.headersDelim)
		if i < 0 {
			if !r.ignoreError {
				return nil, cli.Errorf("KafkaException", "No headers delimiter found on line number %d: '%s'", n, line)
			}
		} else {
			for _, h := range strings.Split(rest[:i], r.headersSep) {
				k, v, ok := strings.Cut(h, r.hkSep)
				hdr := sarama.RecordHeader{Key: []byte(k)}
				if ok && (r.nullMarker == nil || v != *r.nullMarker) {
					hdr.Value = []byte(v)
				}
				msg.Headers = append(msg.Headers, hdr)
			}
			rest = rest[i+len(r.headersDelim):]
		}
	}
	if r.parseKey {
		i := strings.Index(rest, r.keySep)
		if i < 0 {
			if !r.ignoreError {
				return nil, cli.Errorf("KafkaException", "No key separator found on line number %d: '%s'", n, line)
			}
		} else {
			key := rest[:i]
			if r.nullMarker == nil || key != *r.nullMarker {
				msg.Key = sarama.StringEncoder(key)
			}
			rest = rest[i+len(r.keySep):]
		}
	}
	if r.nullMarker == nil || rest != *r.nullMarker {
		msg.Value = sarama.StringEncoder(rest)
	}
	return msg, nil
}

func produce(t *cli.Tool, o *options, bootstrap []string, cfg *sarama.Config, reader *lineReader, stdin io.Reader) int {
	producer, err := sarama.NewAsyncProducer(bootstrap, cfg)
	if err != nil {
		return t.Fail(cli.AsKafka(err, ""))
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for m := range producer.Successes() {
			if ch, ok := m.Metadata.(chan error); ok {
				ch <- nil
			}
		}
	}()
	go func() {
		defer wg.Done()
		for pe := range producer.Errors() {
			if ch, ok := pe.Msg.Metadata.(chan error); ok {
				ch <- pe.Err
				continue
			}
			logSendError(t, pe)
		}
	}()
	prompt := isTerminal(stdin)
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	code := 0
	for n := 1; ; n++ {
		if prompt {
			fmt.Fprint(t.Stdout, ">")
		}
		if !sc.Scan() {
			break
		}
		msg, err := reader.parse(o.topic.Value(), sc.Text(), n)
		if err != nil {
			code = t.Fail(err)
			break
		}
		if o.sync.Has() {
			msg.Metadata = make(chan error, 1)
		}
		producer.Input() <- msg
		if o.sync.Has() {
			if err := waitSync(msg); err != nil {
				code = t.Fail(cli.AsKafka(err, ""))
				break
			}
		}
	}
	producer.AsyncClose()
	wg.Wait()
	return code
}

// logSendError is ErrorLoggingCallback's line for a failed async send.
func logSendError(t *cli.Tool, pe *sarama.ProducerError) {
	key := "null"
	if pe.Msg.Key != nil {
		if b, err := pe.Msg.Key.Encode(); err == nil {
			key = strconv.Itoa(len(b)) + " bytes"
		}
	}
	value := "null"
	if pe.Msg.Value != nil {
		value = strconv.Itoa(pe.Msg.Value.Length()) + " bytes"
	}
	now := time.Now()
	fmt.Fprintf(t.Stderr, "[%s,%03d] ERROR Error when sending message to topic %s with key: %s, value: %s with error: (org.apache.kafka.clients.producer.internals.ErrorLoggingCallback)\n%s\n",
		now.Format("2006-01-02 15:04:05"), now.Nanosecond()/1e6, pe.Msg.Topic, key, value, cli.JavaError(pe.Err))
}

// waitSync waits for a --sync record's result, which the success and error
// loops hand back through msg.Metadata.
func waitSync(msg *sarama.ProducerMessage) error {
	return <-msg.Metadata.(chan error)
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
