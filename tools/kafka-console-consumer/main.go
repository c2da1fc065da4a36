// kafka-console-consumer prints records of a topic to stdout, with the flags
// and the default formatter of Kafka 3.x's bin/kafka-console-consumer.sh:
//
//	kafka-console-consumer --bootstrap-server localhost:9092 --topic t --from-beginning
//	kafka-console-consumer --bootstrap-server localhost:9092 --topic t --group g --max-messages 10
//	kafka-console-consumer --bootstrap-server localhost:9092 --topic t --partition 0 --offset 5 --property print.key=true
//
// With --group it joins that consumer group through sarama's ConsumerGroup
// (the broker's group coordinator); without it, it reads the topic's
// partitions directly, as Kafka's random throw-away group would. At the end
// it prints "Processed a total of N messages" on stderr.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/IBM/sarama"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

const purpose = "This tool helps to read data from Kafka topics and outputs it to standard output."

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type options struct {
	bootstrap, topic, include, partition, offset, consumerProperty, consumerConfig *cli.Option
	formatter, property, fromBeginning, maxMessages, timeout, isolation, group     *cli.Option
	skipOnError, keyDeserializer, valueDeserializer                                *cli.Option
}

func newOptions(p *cli.Parser) *options {
	o := &options{}
	o.topic = p.Arg("topic", "The topic to consume on.", "topic")
	o.include = p.Arg("include", "Regular expression specifying list of topics to include for consumption.", "Java regex (String)")
	o.partition = p.Typed("partition", "The partition to consume from. Consumption starts from the end of the partition unless '--offset' is specified.", "Integer", "partition")
	o.offset = p.Arg("offset", "The offset to consume from (a non-negative number), or 'earliest' which means from beginning, or 'latest' which means from end", "consume offset").WithDefault("latest")
	o.consumerProperty = p.Arg("consumer-property", "A mechanism to pass user-defined properties in the form key=value to the consumer.", "consumer_prop")
	o.consumerConfig = p.Arg("consumer.config", "Consumer config properties file. Note that [consumer-property] takes precedence over this config.", "config file")
	o.formatter = p.Arg("formatter", "The name of a class to use for formatting kafka messages for display.", "class").WithDefault("kafka.tools.DefaultMessageFormatter")
	o.property = p.Arg("property", "The properties to initialize the message formatter. Default properties include:\n print.timestamp=true|false\n print.key=true|false\n print.offset=true|false\n print.partition=true|false\n print.headers=true|false\n print.value=true|false\n key.separator=<key.separator>\n line.separator=<line.separator>\n headers.separator=<line.separator>\n null.literal=<null.literal>", "prop")
	o.fromBeginning = p.Flag("from-beginning", "If the consumer does not already have an established offset to consume from, start with the earliest message present in the log rather than the latest message.")
	o.maxMessages = p.Typed("max-messages", "The maximum number of messages to consume before exiting. If not set, consumption is continual.", "Integer", "num_messages")
	o.timeout = p.Typed("timeout-ms", "If specified, exit if no message is available for consumption for the specified interval.", "Integer", "timeout_ms")
	o.skipOnError = p.Flag("skip-message-on-error", "If there is an error when processing a message, skip it instead of halt.")
	o.bootstrap = p.Arg("bootstrap-server", "REQUIRED: The server(s) to connect to.", "server to connect to")
	o.keyDeserializer = p.Arg("key-deserializer", "", "deserializer for key")
	o.valueDeserializer = p.Arg("value-deserializer", "", "deserializer for values")
	o.isolation = p.Arg("isolation-level", "Set to read_committed in order to filter out transactional messages which are not committed. Set to read_uncommitted to read all messages.", "").WithDefault("read_uncommitted")
	o.group = p.Arg("group", "The consumer group id of the consumer.", "consumer group id")
	return o
}

// settings are the checked options.
type settings struct {
	topic       string
	partition   int32 // -1: every partition
	offset      int64 // sarama.OffsetOldest/OffsetNewest or an offset
	maxMessages int   // -1: no limit
	timeout     time.Duration
	group       string
	fmt         *formatter
	bootstrap   []string
	cfg         *sarama.Config
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	p := cli.NewParser()
	o := newOptions(p)
	t := &cli.Tool{Stdout: stdout, Stderr: stderr, Parser: p, Purpose: purpose}
	if done, code := t.Start(args, true); done {
		return code
	}
	s, err := check(o)
	if err != nil {
		return t.Fail(err)
	}
	c := &consumer{t: t, s: s}
	return c.run(ctx)
}

// check is ConsoleConsumer's ConsumerConfig validation.
func check(o *options) (*settings, error) {
	if err := cli.CheckRequired(o.bootstrap); err != nil {
		return nil, err
	}
	if o.include.Has() {
		return nil, cli.Errorf("IllegalArgumentException", "--include is not supported by Gregor's console consumer; use --topic")
	}
	if !o.topic.Has() {
		return nil, cli.Usagef("Exactly one of include/topic is required.")
	}
	if o.partition.Has() && !o.topic.Has() {
		return nil, cli.Usagef("The topic is required when partition is specified.")
	}
	if o.offset.Has() && !o.partition.Has() {
		return nil, cli.Usagef("The partition is required when offset is specified.")
	}
	if o.fromBeginning.Has() && o.offset.Has() {
		return nil, cli.Usagef("Options from-beginning and offset cannot be specified together.")
	}
	if o.group.Has() && o.partition.Has() {
		return nil, cli.Usagef("Options group and partition cannot be specified together.")
	}
	if f := o.formatter.Value(); f != "kafka.tools.DefaultMessageFormatter" && f != "org.apache.kafka.tools.consumer.DefaultMessageFormatter" {
		return nil, cli.Errorf("ClassNotFoundException", "%s", f)
	}
	s := &settings{topic: o.topic.Value(), partition: -1, maxMessages: -1, group: o.group.Value(), bootstrap: cli.Bootstrap(o.bootstrap.Value())}
	if o.partition.Has() {
		n, err := o.partition.Int()
		if err != nil {
			return nil, err
		}
		s.partition = int32(n)
	}
	switch v := strings.ToLower(o.offset.Value()); {
	case v == "earliest":
		s.offset = sarama.OffsetOldest
	case v == "latest":
		s.offset = sarama.OffsetNewest
	default:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, cli.Usagef("The provided offset value '%s' is incorrect. Valid values are 'earliest', 'latest', or a non-negative long.", o.offset.Value())
		}
		s.offset = n
	}
	if o.fromBeginning.Has() {
		s.offset = sarama.OffsetOldest
	}
	if o.maxMessages.Has() {
		n, err := o.maxMessages.Int()
		if err != nil {
			return nil, err
		}
		s.maxMessages = n
	}
	if o.timeout.Has() {
		n, err := o.timeout.Int()
		if err != nil {
			return nil, err
		}
		if n >= 0 {
			s.timeout = time.Duration(n) * time.Millisecond
		}
	}
	props, err := cli.LoadProperties(o.consumerConfig.Value())
	if err != nil {
		return nil, err
	}
	if err := cli.ParseKV(props, o.consumerProperty.Values()); err != nil {
		return nil, err
	}
	if g, ok := props["group.id"]; ok && s.group == "" {
		s.group = g
	} else if ok && g != s.group {
		return nil, cli.Usagef("The group ids provided in different places (directly using '--group', via '--consumer-property', or via '--consumer.config') do not match. Detected group ids: '%s', '%s'", s.group, g)
	}
	if o.isolation.Has() {
		props["isolation.level"] = o.isolation.Value()
	}
	if _, ok := props["auto.offset.reset"]; !ok {
		props["auto.offset.reset"] = "latest"
		if o.fromBeginning.Has() {
			props["auto.offset.reset"] = "earliest"
		}
	}
	if _, ok := props["client.id"]; !ok {
		props["client.id"] = "console-consumer"
	}
	cfg, err := cli.NewConfig(props["client.id"], props)
	if err != nil {
		return nil, err
	}
	s.cfg = cfg
	fmtProps := map[string]string{}
	if err := cli.ParseKV(fmtProps, o.property.Values()); err != nil {
		return nil, err
	}
	s.fmt = newFormatter(fmtProps)
	return s, nil
}
