// kafka-leader-election elects partition leaders, with the flags and output
// of Kafka 3.x's bin/kafka-leader-election.sh
// (org.apache.kafka.tools.LeaderElectionCommand):
//
//	kafka-leader-election --bootstrap-server localhost:9092 --election-type PREFERRED --topic t --partition 1
//	kafka-leader-election --bootstrap-server localhost:9092 --election-type PREFERRED --all-topic-partitions
//
// It prints "Successfully completed leader election (PREFERRED) for
// partitions t-0, t-1", "Valid replica already elected for partitions ..."
// (ELECTION_NOT_NEEDED) and one "Error completing leader election ..." line
// per failed partition. Any failure prints its message and exception on
// stderr and exits 1.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/IBM/sarama"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

const purpose = "This tool attempts to elect a new leader for a set of topic partitions. The type of elections supported are preferred replicas and unclean replicas."

const (
	adminCommandFailed = "org.apache.kafka.server.common.AdminCommandFailedException"
	adminOperation     = "org.apache.kafka.server.common.AdminOperationException"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are LeaderElectionCommandOptions.
type options struct {
	bootstrap, adminConfig, jsonFile, topic, partition, all, electionType *cli.Option
}

func newOptions(p *cli.Parser) *options {
	return &options{
		bootstrap:   p.Arg("bootstrap-server", "A hostname and port for the broker to connect to, in the form host:port. Multiple comma separated URLs can be given. REQUIRED.", "host:port"),
		adminConfig: p.Arg("admin.config", "Configuration properties files to pass to the admin client", "config file"),
		jsonFile: p.Arg("path-to-json-file", "The JSON file with the list  of partition for which leader elections should be performed. This is an example format. \n"+
			"{\"partitions\":\n\t[{\"topic\": \"foo\", \"partition\": 1},\n\t {\"topic\": \"foobar\", \"partition\": 2}]\n}\nNot allowed if --all-topic-partitions or --topic flags are specified.", "Path to JSON file"),
		topic:     p.Arg("topic", "Name of topic for which to perform an election. Not allowed if --path-to-json-file or --all-topic-partitions is specified.", "topic name"),
		partition: p.Typed("partition", "Partition id for which to perform an election. REQUIRED if --topic is specified.", "Integer", "partition id"),
		all:       p.Flag("all-topic-partitions", "Perform election on all of the eligible topic partitions based on the type of election (see the --election-type flag). Not allowed if --topic or --path-to-json-file is specified."),
		electionType: p.Typed("election-type", "Type of election to attempt. Possible values are \"preferred\" for preferred leader election or \"unclean\" for unclean leader election. If preferred election is selection, the election is only performed if the current leader is not the preferred leader for the topic partition. If unclean election is selected, the election is only performed if there are no leader for the topic partition. REQUIRED.",
			"[PREFERRED, UNCLEAN]", "election type"),
	}
}

// validate is LeaderElectionCommandOptions.validate.
func (o *options) validate() error {
	var missing []string
	if !o.bootstrap.Has() {
		missing = append(missing, "bootstrap-server")
	}
	if !o.electionType.Has() {
		missing = append(missing, "election-type")
	}
	if len(missing) > 0 {
		return cli.Errorf(adminCommandFailed, "Missing required option(s): %s", strings.Join(missing, ", "))
	}
	n := 0
	for _, x := range []*cli.Option{o.topic, o.all, o.jsonFile} {
		if x.Has() {
			n++
		}
	}
	if n != 1 {
		return cli.Errorf(adminCommandFailed, "One and only one of the following options is required: topic, all-topic-partitions, path-to-json-file")
	}
	if o.topic.Has() && !o.partition.Has() {
		return cli.Errorf(adminCommandFailed, "Missing required option(s): partition")
	}
	if !o.topic.Has() && o.partition.Has() {
		return cli.Errorf(adminCommandFailed, "Option partition is only allowed if topic is used")
	}
	return nil
}

// parseElectionType is jopt's EnumConverter for ElectionType: any case.
func parseElectionType(s string) (sarama.ElectionType, string, error) {
	switch strings.ToUpper(s) {
	case "PREFERRED":
		return sarama.PreferredElection, "PREFERRED", nil
	case "UNCLEAN":
		return sarama.UncleanElection, "UNCLEAN", nil
	}
	return 0, "", cli.Errorf("joptsimple.OptionArgumentConversionException", "Cannot parse argument '%s' of option election-type", s)
}

// parseElectionJSON is LeaderElectionCommand.parseReplicaElectionData.
func parseElectionJSON(data string) ([]cli.TopicPartition, error) {
	js, ok := cli.ParseJSONObject(data)
	if !ok {
		return nil, cli.Errorf(adminOperation, "Replica election data is empty")
	}
	if !js.Has("partitions") {
		return nil, cli.Errorf(adminOperation, "Replica election data is missing \"partitions\" field")
	}
	parts, err := js.Objects("partitions")
	if err != nil {
		return nil, err
	}
	var out []cli.TopicPartition
	seen := map[cli.TopicPartition]int{}
	var dups []cli.TopicPartition
	for _, p := range parts {
		topic, err := p.String("topic")
		if err != nil {
			return nil, err
		}
		partition, err := p.Int("partition")
		if err != nil {
			return nil, err
		}
		tp := cli.TopicPartition{Topic: topic, Partition: partition}
		if seen[tp]++; seen[tp] == 2 {
			dups = append(dups, tp)
		} else if seen[tp] == 1 {
			out = append(out, tp)
		}
	}
	if len(dups) > 0 {
		return nil, cli.Errorf(adminOperation, "Replica election data contains duplicate partitions: [%s]", cli.JoinTopicPartitions(dups, ", "))
	}
	return out, nil
}

// failure is an exception LeaderElectionCommand's main catches: it prints
// the message, then the exception (the first line of its stack trace).
func failure(stderr io.Writer, err error) int {
	k := cli.AsKafka(err, "electLeaders")
	fmt.Fprintln(stderr, k.Msg)
	fmt.Fprintln(stderr, cli.QualifiedClass(k.Class)+": "+k.Msg)
	return 1
}

// runtimeError is Java's RuntimeException(ExecutionException(cause)): the
// message is "java.util.concurrent.ExecutionException: <cause>".
func runtimeError(cause error) error {
	return cli.Errorf("java.lang.RuntimeException", "java.util.concurrent.ExecutionException: %s", cli.JavaError(cause))
}

func run(args []string, stdout, stderr io.Writer) int {
	p := cli.NewParser()
	o := newOptions(p)
	t := &cli.Tool{Stdout: stdout, Stderr: stderr, Parser: p, Purpose: purpose}
	if err := p.Parse(args); err != nil {
		var pe *cli.ParseError
		if errors.As(err, &pe) {
			return failure(stderr, cli.Errorf(pe.Class, "%s", pe.Msg))
		}
		return failure(stderr, err)
	}
	switch {
	case len(args) == 0:
		return t.Fail(cli.Usagef(purpose))
	case p.HelpRequested():
		fmt.Fprintln(stderr, purpose)
		p.PrintHelp(stderr)
		return 0
	case p.VersionRequested():
		fmt.Fprintln(stdout, cli.Version)
		return 0
	}
	if err := o.validate(); err != nil {
		return failure(stderr, err)
	}
	typ, typName, err := parseElectionType(o.electionType.Value())
	if err != nil {
		return failure(stderr, err)
	}
	var partitions []cli.TopicPartition
	switch {
	case o.jsonFile.Has():
		data, err := cli.ReadFile(o.jsonFile.Value())
		if err != nil {
			return failure(stderr, err)
		}
		if partitions, err = parseElectionJSON(data); err != nil {
			return failure(stderr, err)
		}
	case o.topic.Has():
		n, err := o.partition.Int()
		if err != nil {
			var pe *cli.ParseError
			errors.As(err, &pe)
			return failure(stderr, cli.Errorf(pe.Class, "%s", pe.Msg))
		}
		partitions = []cli.TopicPartition{{Topic: o.topic.Value(), Partition: int32(n)}}
	}
	props, err := cli.LoadProperties(o.adminConfig.Value())
	if err != nil {
		return failure(stderr, err)
	}
	cfg, err := cli.NewConfig("adminclient-1", props)
	if err != nil {
		return failure(stderr, err)
	}
	cfg.Metadata.AllowAutoTopicCreation = false
	results, err := electLeaders(cfg, cli.Bootstrap(o.bootstrap.Value()), typ, partitions, o.all.Has())
	if err != nil {
		var ke *cli.KafkaError
		if errors.As(err, &ke) {
			switch ke.Class {
			case "TimeoutException":
				fmt.Fprintln(stdout, "Timeout waiting for election results")
				return failure(stderr, cli.Errorf(adminCommandFailed, "Timeout waiting for election results"))
			case "ClusterAuthorizationException":
				fmt.Fprintln(stdout, "Not authorized to perform leader election")
				return failure(stderr, cli.Errorf(adminCommandFailed, "Not authorized to perform leader election"))
			}
		}
		return failure(stderr, runtimeError(err))
	}
	if failed := writeResults(stdout, typName, results); failed > 0 {
		return failure(stderr, cli.Errorf(adminCommandFailed, "%d replica(s) could not be elected", failed))
	}
	return 0
}

// electLeaders sends ElectLeaders to the controller. For
// --all-topic-partitions Kafka sends a null partition list; sarama cannot,
// so every partition in the metadata is named, and the ELECTION_NOT_NEEDED
// answers are dropped as a broker drops them for a null list
// (KafkaApis.handleElectLeaders).
func electLeaders(cfg *sarama.Config, bootstrap []string, typ sarama.ElectionType, partitions []cli.TopicPartition, all bool) (map[cli.TopicPartition]error, error) {
	client, err := sarama.NewClient(bootstrap, cfg)
	if err != nil {
		return nil, cli.AsKafka(err, "electLeaders")
	}
	defer client.Close()
	controller, err := client.Controller()
	if err != nil {
		return nil, cli.AsKafka(err, "electLeaders")
	}
	if err := cli.RequireAPI(controller, 43); err != nil {
		return nil, err
	}
	req := map[string][]int32{}
	if all {
		topics, err := client.Topics()
		if err != nil {
			return nil, cli.AsKafka(err, "electLeaders")
		}
		for _, topic := range topics {
			parts, err := client.Partitions(topic)
			if err != nil {
				return nil, cli.AsKafka(err, "electLeaders")
			}
			req[topic] = parts
		}
	}
	for _, tp := range partitions {
		req[tp.Topic] = append(req[tp.Topic], tp.Partition)
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		return nil, cli.AsKafka(err, "electLeaders")
	}
	res, err := admin.ElectLeaders(typ, req)
	if err != nil {
		return nil, cli.AsKafka(err, "electLeaders")
	}
	out := map[cli.TopicPartition]error{}
	for topic, parts := range res {
		for p, r := range parts {
			tp := cli.TopicPartition{Topic: topic, Partition: p}
			if all && r.ErrorCode == sarama.ErrElectionNotNeeded {
				continue
			}
			out[tp] = nil
			if r.ErrorCode != sarama.ErrNoError {
				msg := ""
				if r.ErrorMessage != nil {
					msg = *r.ErrorMessage
				}
				out[tp] = cli.FromCode(int16(r.ErrorCode), msg)
			}
		}
	}
	return out, nil
}

// writeResults prints LeaderElectionCommand.electLeaders' summary lines and
// returns how many partitions failed. Partitions are sorted (Kafka's order
// is a HashSet's).
func writeResults(w io.Writer, typ string, results map[cli.TopicPartition]error) int {
	var succeeded, noop, failed []cli.TopicPartition
	for tp, err := range results {
		var ke *cli.KafkaError
		switch {
		case err == nil:
			succeeded = append(succeeded, tp)
		case errors.As(err, &ke) && ke.Class == "ElectionNotNeededException":
			noop = append(noop, tp)
		default:
			failed = append(failed, tp)
		}
	}
	if len(succeeded) > 0 {
		fmt.Fprintf(w, "Successfully completed leader election (%s) for partitions %s\n", typ, cli.JoinTopicPartitions(succeeded, ", "))
	}
	if len(noop) > 0 {
		fmt.Fprintf(w, "Valid replica already elected for partitions %s\n", cli.JoinTopicPartitions(noop, ", "))
	}
	cli.SortTopicPartitions(failed)
	for _, tp := range failed {
		fmt.Fprintf(w, "Error completing leader election (%s) for partition: %s: %s\n", typ, tp, cli.JavaError(results[tp]))
	}
	return len(failed)
}
