// kafka-topics creates, lists, describes, alters and deletes topics, with
// the flags and the output of Kafka 3.x's bin/kafka-topics.sh
// (org.apache.kafka.tools.TopicCommand):
//
//	kafka-topics --bootstrap-server localhost:9092 --create --topic t --partitions 5 --replication-factor 3
//	kafka-topics --bootstrap-server localhost:9092 --describe --topic t
//
// A failure prints "Error while executing topic command : <message>" on
// stdout and Kafka's ERROR log line on stderr, and exits 1.
package main

import (
	"io"
	"os"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are TopicCommandOptions.
type options struct {
	bootstrap, commandConfig                       *cli.Option
	list, create, delete, alter, describe          *cli.Option
	topic, topicID, config, partitions, rf, assign *cli.Option
	underReplicated, unavailable, underMinIsr      *cli.Option
	atMinIsr, withOverrides, ifExists, ifNotExists *cli.Option
	excludeInternal                                *cli.Option
}

const purpose = "This tool helps to create, delete, describe, or change a topic."

func newOptions(p *cli.Parser) *options {
	o := &options{}
	o.bootstrap = p.Arg("bootstrap-server", "REQUIRED: The Kafka server to connect to.", "server to connect to")
	o.commandConfig = p.Arg("command-config", "Property file containing configs to be passed to Admin Client.", "command config property file")
	o.list = p.Flag("list", "List all available topics.")
	o.create = p.Flag("create", "Create a new topic.")
	o.delete = p.Flag("delete", "Delete a topic.")
	o.alter = p.Flag("alter", "Alter the number of partitions and replica assignment. (To alter topic configurations, the kafka-configs tool can be used.)")
	o.describe = p.Flag("describe", "List details for the given topics.")
	o.topic = p.Arg("topic", "The topic to create, alter, describe or delete. It also accepts a regular expression, except for --create option. Put topic name in double quotes and use the '\\' prefix to escape regular expression symbols; e.g. \"test\\.topic\".", "topic")
	o.topicID = p.Arg("topic-id", "The topic-id to describe.", "topic-id")
	o.config = p.Arg("config", "A topic configuration override for the topic being created. See the Kafka documentation for full details on the topic configs. It is supported only in combination with --create. (To alter topic configurations, the kafka-configs tool can be used.)", "name=value")
	o.partitions = p.Typed("partitions", "The number of partitions for the topic being created or altered. If not supplied with --create, the topic uses the cluster default. (WARNING: If partitions are increased for a topic that has a key, the partition logic or ordering of the messages will be affected).", "Integer", "# of partitions")
	o.rf = p.Typed("replication-factor", "The replication factor for each partition in the topic being created. If not supplied, the topic uses the cluster default.", "Integer", "replication factor")
	o.assign = p.Arg("replica-assignment", "A list of manual partition-to-broker assignments for the topic being created or altered.", "broker_id_for_part1_replica1 : broker_id_for_part1_replica2 , broker_id_for_part2_replica1 : broker_id_for_part2_replica2 , ...")
	o.underReplicated = p.Flag("under-replicated-partitions", "If set when describing topics, only show under-replicated partitions.")
	o.unavailable = p.Flag("unavailable-partitions", "If set when describing topics, only show partitions whose leader is not available.")
	o.underMinIsr = p.Flag("under-min-isr-partitions", "If set when describing topics, only show partitions whose isr count is less than the configured minimum.")
	o.atMinIsr = p.Flag("at-min-isr-partitions", "If set when describing topics, only show partitions whose isr count is equal to the configured minimum.")
	o.withOverrides = p.Flag("topics-with-overrides", "If set when describing topics, only show topics that have overridden configs.")
	o.ifExists = p.Flag("if-exists", "If set when altering or deleting or describing topics, the action will only execute if the topic exists.")
	o.ifNotExists = p.Flag("if-not-exists", "If set when creating topics, the action will only execute if the topic does not already exist.")
	o.excludeInternal = p.Flag("exclude-internal", "Exclude internal topics when running list or describe command. The internal topics will be listed by default.")
	return o
}

func run(args []string, stdout, stderr io.Writer) int {
	p := cli.NewParser()
	o := newOptions(p)
	t := &cli.Tool{Stdout: stdout, Stderr: stderr, Parser: p, Purpose: purpose}
	fail := func(err error) int {
		if _, ok := err.(*cli.UsageError); ok {
			return t.Fail(err)
		}
		k := cli.AsKafka(err, "")
		io.WriteString(stdout, "Error while executing topic command : "+k.Msg+"\n")
		cli.LogError(t, k, "org.apache.kafka.tools.TopicCommand")
		return 1
	}
	if err := p.Parse(args); err != nil {
		return fail(err)
	}
	if len(args) == 0 {
		return t.Fail(cli.Usagef("Create, delete, describe, or change a topic."))
	}
	if p.HelpRequested() {
		io.WriteString(stderr, purpose+"\n")
		p.PrintHelp(stderr)
		return 0
	}
	if p.VersionRequested() {
		io.WriteString(stdout, cli.Version+"\n")
		return 0
	}
	if err := o.check(); err != nil {
		return fail(err)
	}
	s, err := newService(o)
	if err != nil {
		return fail(err)
	}
	defer s.close()
	switch {
	case o.create.Has():
		err = s.create(stdout)
	case o.alter.Has():
		err = s.alterPartitions()
	case o.list.Has():
		err = s.listTopics(stdout)
	case o.describe.Has():
		err = s.describeTopics(stdout)
	case o.delete.Has():
		err = s.deleteTopics()
	}
	if err != nil {
		return fail(err)
	}
	return 0
}

// check is TopicCommandOptions.checkArgs.
func (o *options) check() error {
	actions := 0
	for _, a := range []*cli.Option{o.create, o.list, o.alter, o.describe, o.delete} {
		if a.Has() {
			actions++
		}
	}
	if actions != 1 {
		return cli.Usagef("Command must include exactly one action: --list, --describe, --create, --alter or --delete")
	}
	if !o.bootstrap.Has() {
		return cli.Errorf("IllegalArgumentException", "--bootstrap-server must be specified")
	}
	if o.describe.Has() && o.ifExists.Has() && !o.topic.Has() && !o.topicID.Has() {
		return cli.Usagef("--topic or --topic-id is required to describe a topic")
	}
	if !o.list.Has() && !o.describe.Has() {
		if err := cli.CheckRequired(o.topic); err != nil {
			return err
		}
	}
	if o.alter.Has() {
		if o.config.Has() {
			return cli.Usagef("Option combination \"[alter],[config]\" can't be used with option \"[alter]\" (To alter topic configurations, the kafka-configs tool can be used.)")
		}
		if err := cli.CheckRequired(o.partitions); err != nil {
			return err
		}
	}
	notCreateAlter := []*cli.Option{o.describe, o.list, o.delete}
	checks := []struct {
		used    *cli.Option
		invalid []*cli.Option
	}{
		{o.config, notCreateAlter},
		{o.partitions, notCreateAlter},
		{o.rf, []*cli.Option{o.alter, o.describe, o.list, o.delete}},
		{o.assign, notCreateAlter},
		{o.underReplicated, []*cli.Option{o.alter, o.create, o.list, o.delete, o.withOverrides}},
		{o.underMinIsr, []*cli.Option{o.alter, o.create, o.list, o.delete, o.withOverrides}},
		{o.atMinIsr, []*cli.Option{o.alter, o.create, o.list, o.delete, o.withOverrides}},
		{o.unavailable, []*cli.Option{o.alter, o.create, o.list, o.delete, o.withOverrides}},
		{o.withOverrides, []*cli.Option{o.alter, o.create, o.list, o.delete, o.underReplicated, o.underMinIsr, o.atMinIsr, o.unavailable}},
		{o.ifExists, []*cli.Option{o.create, o.list}},
		{o.ifNotExists, []*cli.Option{o.alter, o.describe, o.list, o.delete}},
		{o.excludeInternal, []*cli.Option{o.alter, o.create, o.delete}},
	}
	if o.create.Has() {
		checks = append(checks, struct {
			used    *cli.Option
			invalid []*cli.Option
		}{o.assign, []*cli.Option{o.partitions, o.rf}})
	}
	for _, c := range checks {
		if err := cli.CheckInvalid(c.used, c.invalid...); err != nil {
			return err
		}
	}
	return nil
}
