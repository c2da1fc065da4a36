// kafka-get-offsets prints the offsets of topic partitions, one
// "topic:partition:offset" line each, like Kafka 3.x's
// bin/kafka-get-offsets.sh (GetOffsetShell):
//
//	kafka-get-offsets --bootstrap-server localhost:9092 --topic t --time -1
//
// --time -1 (latest) is the log end offset, -2 (earliest) the log start
// offset, and a timestamp in ms the first offset at or after it (empty when
// there is none).
package main

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/IBM/sarama"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

const purpose = "An interactive shell for getting topic-partition offsets."

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	p := cli.NewParser()
	bootstrap := p.Arg("bootstrap-server", "REQUIRED. The server(s) to connect to in the form HOST1:PORT1,HOST2:PORT2.", "HOST1:PORT1,...,HOST3:PORT3")
	brokerList := p.Arg("broker-list", "DEPRECATED, use --bootstrap-server instead; ignored if --bootstrap-server is specified. The server(s) to connect to in the form HOST1:PORT1,HOST2:PORT2.", "HOST1:PORT1,...,HOST3:PORT3")
	topicPartitions := p.Arg("topic-partitions", "Comma separated list of topic-partition patterns to get the offsets for, with the format of '([^:,]*)(?::(?:([0-9]*)|(?:([0-9]*)-([0-9]*))))?'. The first group is an optional regex for the topic name, if omitted, it matches any topic name. The section after ':' describes a 'partition' pattern, which can be: a number, a range in the format of 'NUMBER-NUMBER' (lower inclusive, upper exclusive), an inclusive lower bound in the format of 'NUMBER-', an exclusive upper bound in the format of '-NUMBER' or may be omitted to accept all partitions.", "topic1:1,topic2:0-3,topic3,topic4:5-,topic5:-3")
	topic := p.Arg("topic", "The topic to get the offsets for. It also accepts a regular expression. If not present, all authorized topics are queried. Cannot be used if --topic-partitions is present.", "topic")
	partitions := p.Arg("partitions", "Comma separated list of partition ids to get the offsets for. If not present, all partitions of the authorized topics are queried. Cannot be used if --topic-partitions is present.", "partition ids")
	timeOpt := p.Arg("time", "timestamp of the offsets before that. [Note: No offset is returned, if the timestamp greater than recently committed record timestamp is given.]", "<timestamp> / -1 or latest / -2 or earliest / -3 or max-timestamp").WithDefault("latest")
	commandConfig := p.Arg("command-config", "Property file containing configs to be passed to Admin Client.", "config file")
	excludeInternal := p.Flag("exclude-internal-topics", "By default, internal topics are included. If specified, internal topics are excluded.")
	t := &cli.Tool{Stdout: stdout, Stderr: stderr, Parser: p, Purpose: purpose}
	if done, code := t.Start(args, true); done {
		return code
	}
	terse := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "Error occurred: "+format+"\n", a...)
		return 1
	}
	bs := bootstrap.Value()
	if bs == "" {
		bs = brokerList.Value()
	}
	if bs == "" {
		return t.Fail(cli.Usagef("Missing required argument \"[bootstrap-server]\""))
	}
	if topicPartitions.Has() && (topic.Has() || partitions.Has()) {
		return t.Fail(cli.Usagef("Option \"[topic-partitions]\" can't be used with option \"[topic]\" or \"[partitions]\""))
	}
	ts, ok := parseTime(timeOpt.Value())
	if !ok {
		return terse("Malformed time argument %s. Please use -1 or latest / -2 or earliest / -3 or max-timestamp, or a specified long format timestamp", timeOpt.Value())
	}
	var filters []filter
	var err error
	if topicPartitions.Has() {
		filters, err = parseTopicPartitions(topicPartitions.Value())
	} else {
		var f filter
		f, err = topicFilter(topic.Value(), partitions.Value())
		filters = []filter{f}
	}
	if err != nil {
		return terse("%v", err)
	}
	props, err := cli.LoadProperties(commandConfig.Value())
	if err != nil {
		return t.Fail(err)
	}
	cfg, err := cli.NewConfig("GetOffsetShell", props)
	if err != nil {
		return t.Fail(err)
	}
	cfg.Metadata.AllowAutoTopicCreation = false
	client, err := sarama.NewClient(cli.Bootstrap(bs), cfg)
	if err != nil {
		return t.Fail(cli.AsKafka(err, "listTopics"))
	}
	defer client.Close()
	all, err := client.Topics()
	if err != nil {
		return t.Fail(cli.AsKafka(err, "listTopics"))
	}
	type tp struct {
		topic string
		part  int32
	}
	var tps []tp
	for _, name := range all {
		if excludeInternal.Has() && (name == "__consumer_offsets" || name == "__transaction_state") {
			continue
		}
		parts, err := client.Partitions(name)
		if err != nil {
			return t.Fail(cli.AsKafka(err, ""))
		}
		for _, p := range parts {
			for _, f := range filters {
				if f.match(name, p) {
					tps = append(tps, tp{name, p})
					break
				}
			}
		}
	}
	if len(tps) == 0 {
		return terse("Could not match any topic-partitions with the specified filters")
	}
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].topic != tps[j].topic {
			return tps[i].topic < tps[j].topic
		}
		return tps[i].part < tps[j].part
	})
	for _, x := range tps {
		off, err := client.GetOffset(x.topic, x.part, ts)
		if err != nil {
			return t.Fail(cli.AsKafka(err, ""))
		}
		if off < 0 {
			fmt.Fprintf(stdout, "%s:%d:\n", x.topic, x.part)
			continue
		}
		fmt.Fprintf(stdout, "%s:%d:%d\n", x.topic, x.part, off)
	}
	return 0
}

// parseTime reads --time: latest/-1, earliest/-2, or a timestamp in ms.
// max-timestamp (-3) needs ListOffsets v7, which sarama does not send.
func parseTime(s string) (int64, bool) {
	switch strings.ToLower(s) {
	case "latest", "-1":
		return sarama.OffsetNewest, true
	case "earliest", "-2":
		return sarama.OffsetOldest, true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// filter selects topic partitions: a topic regex (nil: any) and a
// partition range [lo, hi).
type filter struct {
	topic  *regexp.Regexp
	parts  map[int32]bool // nil: use lo/hi
	lo, hi int64
}

func (f filter) match(topic string, p int32) bool {
	if f.topic != nil && !f.topic.MatchString(topic) {
		return false
	}
	if f.parts != nil {
		return f.parts[p]
	}
	return int64(p) >= f.lo && int64(p) < f.hi
}

func topicRegex(s string) (*regexp.Regexp, error) {
	if s == "" {
		return nil, nil
	}
	raw := strings.Trim(strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(s), ",", "|"), " ", ""), "\"'")
	re, err := regexp.Compile("^(?:" + raw + ")$")
	if err != nil {
		return nil, fmt.Errorf("Invalid regular expression %s", s)
	}
	return re, nil
}

func topicFilter(topic, partitions string) (filter, error) {
	re, err := topicRegex(topic)
	if err != nil {
		return filter{}, err
	}
	f := filter{topic: re, lo: 0, hi: 1 << 31}
	if partitions != "" {
		f.parts = map[int32]bool{}
		for _, s := range strings.Split(partitions, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
			if err != nil {
				return filter{}, fmt.Errorf("--partitions expects a comma separated list of numeric partition ids, but received: %s", partitions)
			}
			f.parts[int32(n)] = true
		}
	}
	return f, nil
}

var tpPattern = regexp.MustCompile(`^([^:,]*)(?::(?:([0-9]*)|(?:([0-9]*)-([0-9]*))))?$`)

// parseTopicPartitions reads --topic-partitions.
func parseTopicPartitions(s string) ([]filter, error) {
	var out []filter
	for _, part := range strings.Split(s, ",") {
		m := tpPattern.FindStringSubmatch(strings.TrimSpace(part))
		if m == nil {
			return nil, fmt.Errorf("Invalid topic-partition expression: %s", part)
		}
		re, err := topicRegex(m[1])
		if err != nil {
			return nil, err
		}
		f := filter{topic: re, lo: 0, hi: 1 << 31}
		switch {
		case m[2] != "":
			n, _ := strconv.ParseInt(m[2], 10, 64)
			f.lo, f.hi = n, n+1
		case m[3] != "" || m[4] != "":
			if m[3] != "" {
				f.lo, _ = strconv.ParseInt(m[3], 10, 64)
			}
			if m[4] != "" {
				f.hi, _ = strconv.ParseInt(m[4], 10, 64)
			}
		}
		out = append(out, f)
	}
	return out, nil
}
