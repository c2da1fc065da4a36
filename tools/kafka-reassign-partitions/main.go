// kafka-reassign-partitions moves partition replicas between brokers, with
// the flags, JSON files and output of Kafka 3.x's
// bin/kafka-reassign-partitions.sh
// (org.apache.kafka.tools.reassign.ReassignPartitionsCommand):
//
//	kafka-reassign-partitions --bootstrap-server localhost:9092 --generate --topics-to-move-json-file topics.json --broker-list 1,2,3
//	kafka-reassign-partitions --bootstrap-server localhost:9092 --execute --reassignment-json-file reassign.json --throttle 50000000
//	kafka-reassign-partitions --bootstrap-server localhost:9092 --verify --reassignment-json-file reassign.json
//
// --verify removes the throttles --execute set once every reassignment is
// done. Errors are printed on stdout, as Kafka's tool does, and exit 1.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

const purpose = "This tool helps to move topic partitions between replicas."

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are ReassignPartitionsCommandOptions.
type options struct {
	p                                        *cli.Parser
	verify, generate, execute, cancel, list  *cli.Option
	bootstrap, commandConfig, reassignFile   *cli.Option
	topicsFile, brokerList, disableRackAware *cli.Option
	throttle, logDirThrottle, timeout        *cli.Option
	additional, preserveThrottles            *cli.Option
	actions                                  []*cli.Option
	required, permitted                      map[*cli.Option][]*cli.Option
}

func newOptions(p *cli.Parser) *options {
	o := &options{p: p}
	o.verify = p.Flag("verify", "Verify if the reassignment completed as specified by the --reassignment-json-file option. If there is a throttle engaged for the replicas specified, and the rebalance has completed, the throttle will be removed")
	o.generate = p.Flag("generate", "Generate a candidate partition reassignment configuration. Note that this only generates a candidate assignment, it does not execute it.")
	o.execute = p.Flag("execute", "Kick off the reassignment as specified by the --reassignment-json-file option.")
	o.cancel = p.Flag("cancel", "Cancel an active reassignment.")
	o.list = p.Flag("list", "List all active partition reassignments.")
	o.bootstrap = p.Arg("bootstrap-server", "REQUIRED: the server(s) to use for bootstrapping.", "Server(s) to use for bootstrapping")
	o.commandConfig = p.Arg("command-config", "Property file containing configs to be passed to Admin Client.", "Admin client property file")
	o.reassignFile = p.Arg("reassignment-json-file", "The JSON file with the partition reassignment configurationThe format to use is - \n"+
		"{\"partitions\":\n\t[{\"topic\": \"foo\",\n\t  \"partition\": 1,\n\t  \"replicas\": [1,2,3],\n\t  \"log_dirs\": [\"dir1\",\"dir2\",\"dir3\"] }],\n\"version\":1\n}\n"+
		"Note that \"log_dirs\" is optional. When it is specified, its length must equal the length of the replicas list. The value in this list can be either \"any\" or the absolution path of the log directory on the broker. If absolute log directory path is specified, the replica will be moved to the specified log directory on the broker.", "manual assignment json file path")
	o.topicsFile = p.Arg("topics-to-move-json-file", "Generate a reassignment configuration to move the partitions of the specified topics to the list of brokers specified by the --broker-list option. The format to use is - \n"+
		"{\"topics\":\n\t[{\"topic\": \"foo\"},{\"topic\": \"foo1\"}],\n\"version\":1\n}", "topics to reassign json file path")
	o.brokerList = p.Arg("broker-list", "The list of brokers to which the partitions need to be reassigned in the form \"0,1,2\". This is required if --topics-to-move-json-file is used to generate reassignment configuration", "brokerlist")
	o.disableRackAware = p.Flag("disable-rack-aware", "Disable rack aware replica assignment")
	o.throttle = p.Typed("throttle", "The movement of partitions between brokers will be throttled to this value (bytes/sec). This option can be included with --execute when a reassignment is started, and it can be altered by resubmitting the current reassignment along with the --additional flag. The throttle rate should be at least 1 KB/s.", "Long", "throttle").WithDefault("-1")
	o.logDirThrottle = p.Typed("replica-alter-log-dirs-throttle", "The movement of replicas between log directories on the same broker will be throttled to this value (bytes/sec). This option can be included with --execute when a reassignment is started, and it can be altered by resubmitting the current reassignment along with the --additional flag. The throttle rate should be at least 1 KB/s.", "Long", "replicaAlterLogDirsThrottle").WithDefault("-1")
	o.timeout = p.Typed("timeout", "The maximum time in ms to wait for log directory replica assignment to begin.", "Long", "timeout").WithDefault("10000")
	o.additional = p.Flag("additional", "Execute this reassignment in addition to any other ongoing ones. This option can also be used to change the throttle of an ongoing reassignment.")
	o.preserveThrottles = p.Flag("preserve-throttles", "Do not modify broker or topic throttles.")
	o.actions = []*cli.Option{o.generate, o.execute, o.verify, o.cancel, o.list}
	o.required = map[*cli.Option][]*cli.Option{
		o.verify:   {o.reassignFile},
		o.generate: {o.topicsFile, o.brokerList},
		o.execute:  {o.reassignFile},
		o.cancel:   {o.reassignFile},
		o.list:     nil,
	}
	o.permitted = map[*cli.Option][]*cli.Option{
		o.verify:   {o.bootstrap, o.commandConfig, o.preserveThrottles},
		o.generate: {o.bootstrap, o.brokerList, o.commandConfig, o.disableRackAware},
		o.execute:  {o.additional, o.bootstrap, o.commandConfig, o.throttle, o.logDirThrottle, o.timeout},
		o.cancel:   {o.bootstrap, o.commandConfig, o.preserveThrottles, o.timeout},
		o.list:     {o.bootstrap, o.commandConfig},
	}
	return o
}

// validate is validateAndParseArgs: the action, then its required and
// permitted options.
func (o *options) validate() (*cli.Option, error) {
	var given []*cli.Option
	names := make([]string, len(o.actions))
	for i, a := range o.actions {
		names[i] = "--" + a.Name
		if a.Has() {
			given = append(given, a)
		}
	}
	if len(given) != 1 {
		return nil, cli.Usagef("Command must include exactly one action: %s", strings.Join(names, ", "))
	}
	action := given[0]
	if !o.bootstrap.Has() {
		return nil, cli.Usagef("Please specify --bootstrap-server")
	}
	if err := cli.CheckRequired(o.required[action]...); err != nil {
		return nil, err
	}
	for _, opt := range o.p.Seen() {
		ok := opt == action
		for _, x := range append(append([]*cli.Option(nil), o.required[action]...), o.permitted[action]...) {
			ok = ok || x == opt
		}
		if !ok {
			return nil, cli.Usagef("Option \"%s\" can't be used with action \"%s\"", opt, action)
		}
	}
	return action, nil
}

// terseError is Kafka's TerseException: only its message is printed.
type terseError struct{ msg string }

func (e *terseError) Error() string { return e.msg }

// execError is an exception raised by an admin call's future, which Java
// wraps in java.util.concurrent.ExecutionException.
type execError struct{ err error }

func (e *execError) Error() string { return e.err.Error() }

func run(args []string, stdout, stderr io.Writer) int {
	p := cli.NewParser()
	o := newOptions(p)
	t := &cli.Tool{Stdout: stdout, Stderr: stderr, Parser: p, Purpose: purpose}
	if done, code := t.Start(args, true); done {
		return code
	}
	action, err := o.validate()
	if err != nil {
		return t.Fail(err)
	}
	if err := runAction(o, action, stdout); err != nil {
		var te *terseError
		var ee *execError
		switch {
		case errors.As(err, &te):
			fmt.Fprintln(stdout, te.msg)
		case errors.As(err, &ee):
			cause := cli.JavaError(ee.err)
			fmt.Fprintln(stdout, "Error: "+cause)
			fmt.Fprintln(stdout, "java.util.concurrent.ExecutionException: "+cause)
		default:
			k := cli.AsKafka(err, "")
			fmt.Fprintln(stdout, "Error: "+k.Msg)
			fmt.Fprintln(stdout, cli.JavaError(k))
		}
		return 1
	}
	return 0
}

func runAction(o *options, action *cli.Option, out io.Writer) error {
	s, err := newService(o, out)
	if err != nil {
		return err
	}
	defer s.close()
	switch action {
	case o.verify:
		data, err := cli.ReadFile(o.reassignFile.Value())
		if err != nil {
			return err
		}
		return s.verifyAssignment(data, o.preserveThrottles.Has())
	case o.generate:
		data, err := cli.ReadFile(o.topicsFile.Value())
		if err != nil {
			return err
		}
		return s.generateAssignment(data, o.brokerList.Value())
	case o.execute:
		data, err := cli.ReadFile(o.reassignFile.Value())
		if err != nil {
			return err
		}
		throttle, err := o.throttle.Int64()
		if err != nil {
			return err
		}
		logDirThrottle, err := o.logDirThrottle.Int64()
		if err != nil {
			return err
		}
		return s.executeAssignment(o.additional.Has(), data, throttle, logDirThrottle)
	case o.cancel:
		data, err := cli.ReadFile(o.reassignFile.Value())
		if err != nil {
			return err
		}
		return s.cancelAssignment(data, o.preserveThrottles.Has())
	}
	return s.listReassignments()
}
