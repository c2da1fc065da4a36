// kafka-consumer-groups lists, describes, deletes and resets the offsets of
// consumer groups, with the flags and the output of Kafka 3.7's
// bin/kafka-consumer-groups.sh (kafka.admin.ConsumerGroupCommand):
//
//	kafka-consumer-groups --bootstrap-server localhost:9092 --list
//	kafka-consumer-groups --bootstrap-server localhost:9092 --describe --group g
//	kafka-consumer-groups --bootstrap-server localhost:9092 --describe --group g --members --verbose
//	kafka-consumer-groups --bootstrap-server localhost:9092 --reset-offsets --group g --topic t --to-earliest --execute
//	kafka-consumer-groups --bootstrap-server localhost:9092 --delete --group g
//
// Output goes where Kafka puts it: tables on stdout, "Consumer group 'g' has
// no active members." on stderr, "Error: ..." lines on stdout. A usage error
// prints the message and the option table on stderr. Unlike Kafka 3.7,
// which exits 0 after printing an "Error:" line, every error exits 1, so
// scripts can tell.
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const purpose = "This tool helps to list all consumer groups, describe a consumer group, delete consumer group info, or reset consumer group offsets."

// options are ConsumerGroupCommandOptions.
type options struct {
	bootstrap, group, topic, allTopics, list, describe, allGroups, delete *cli.Option
	timeout, commandConfig, resetOffsets, deleteOffsets                   *cli.Option
	dryRun, execute, export                                               *cli.Option
	toOffset, fromFile, toDatetime, byDuration                            *cli.Option
	toEarliest, toLatest, toCurrent, shiftBy                              *cli.Option
	members, verbose, offsets, state                                      *cli.Option
}

func newOptions(p *cli.Parser) *options {
	const nl = "\n"
	o := &options{}
	o.bootstrap = p.Arg("bootstrap-server", "REQUIRED: The server(s) to connect to.", "server to connect to")
	o.group = p.Arg("group", "The consumer group we wish to act on.", "consumer group")
	o.topic = p.Arg("topic", "The topic whose consumer group information should be deleted or topic whose should be included in the reset offset process. "+
		"In `reset-offsets` case, partitions can be specified using this format: `topic1:0,1,2`, where 0,1,2 are the partition to be included in the process. "+
		"Reset-offsets also supports multiple topic inputs.", "topic")
	o.allTopics = p.Flag("all-topics", "Consider all topics assigned to a group in the `reset-offsets` process.")
	o.list = p.Flag("list", "List all consumer groups.")
	o.describe = p.Flag("describe", "Describe consumer group and list offset lag (number of messages not yet processed) related to given group.")
	o.allGroups = p.Flag("all-groups", "Apply to all consumer groups.")
	o.delete = p.Flag("delete", "Pass in groups to delete topic partition offsets and ownership information over the entire consumer group. For instance --group g1 --group g2")
	o.timeout = p.Typed("timeout", "The timeout that can be set for some use cases. For example, it can be used when describing the group "+
		"to specify the maximum amount of time in milliseconds to wait before the group stabilizes (when the group is just created, "+
		"or is going through some changes).", "Long", "timeout (ms)").WithDefault("5000")
	o.commandConfig = p.Arg("command-config", "Property file containing configs to be passed to Admin Client and Consumer.", "command config property file")
	o.resetOffsets = p.Flag("reset-offsets", "Reset offsets of consumer group. Supports one consumer group at the time, and instances should be inactive"+nl+
		"Has 2 execution options: --dry-run (the default) to plan which offsets to reset, and --execute to update the offsets. "+
		"Additionally, the --export option is used to export the results to a CSV format."+nl+
		"You must choose one of the following reset specifications: --to-datetime, --by-duration, --to-earliest, "+
		"--to-latest, --shift-by, --from-file, --to-current, --to-offset."+nl+
		"To define the scope use --all-topics or --topic. One scope must be specified unless you use '--from-file'.")
	o.deleteOffsets = p.Flag("delete-offsets", "Delete offsets of consumer group. Supports one consumer group at the time, and multiple topics.")
	o.dryRun = p.Flag("dry-run", "Only show results without executing changes on Consumer Groups. Supported operations: reset-offsets.")
	o.execute = p.Flag("execute", "Execute operation. Supported operations: reset-offsets.")
	o.export = p.Flag("export", "Export operation execution to a CSV file. Supported operations: reset-offsets.")
	o.toOffset = p.Typed("to-offset", "Reset offsets to a specific offset.", "Long", "offset")
	o.fromFile = p.Arg("from-file", "Reset offsets to values defined in CSV file.", "path to CSV file")
	o.toDatetime = p.Arg("to-datetime", "Reset offsets to offset from datetime. Format: 'YYYY-MM-DDTHH:mm:SS.sss'", "datetime")
	o.byDuration = p.Arg("by-duration", "Reset offsets to offset by duration from current timestamp. Format: 'PnDTnHnMnS'", "duration")
	o.toEarliest = p.Flag("to-earliest", "Reset offsets to earliest offset.")
	o.toLatest = p.Flag("to-latest", "Reset offsets to latest offset.")
	o.toCurrent = p.Flag("to-current", "Reset offsets to current offset.")
	o.shiftBy = p.Typed("shift-by", "Reset offsets shifting current offset by 'n', where 'n' can be positive or negative.", "Long", "number-of-offsets")
	o.members = p.Flag("members", "Describe members of the group. This option may be used with '--describe' and '--bootstrap-server' options only."+nl+
		"Example: --bootstrap-server localhost:9092 --describe --group group1 --members")
	o.verbose = p.Flag("verbose", "Provide additional information, if any, when describing the group. This option may be used "+
		"with '--offsets'/'--members'/'--state' and '--bootstrap-server' options only."+nl+"Example: --bootstrap-server localhost:9092 --describe --group group1 --members --verbose")
	o.offsets = p.Flag("offsets", "Describe the group and list all topic partitions in the group along with their offset lag. "+
		"This is the default sub-action of and may be used with '--describe' and '--bootstrap-server' options only."+nl+
		"Example: --bootstrap-server localhost:9092 --describe --group group1 --offsets")
	// --state takes an optional argument (jopt's withOptionalArg); the
	// parser only knows required ones, so stateArgs rewrites the command
	// line to always give it one, possibly empty.
	o.state = p.Arg("state", "When specified with '--describe', includes the state of the group."+nl+
		"Example: --bootstrap-server localhost:9092 --describe --group group1 --state"+nl+
		"When specified with '--list', it displays the state of all groups. It can also be used to list groups with specific states."+nl+
		"Example: --bootstrap-server localhost:9092 --list --state stable,empty"+nl+
		"This option may be used with '--describe', '--list' and '--bootstrap-server' options only.", "")
	return o
}

// stateArgs gives --state (or any unique prefix of it, "--st" on) the
// argument jopt-simple would: the next word when it is not an option,
// else none ("--state=").
func stateArgs(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		name := strings.TrimLeft(a, "-")
		if !strings.HasPrefix(a, "-") || len(name) < 2 || strings.Contains(name, "=") || !strings.HasPrefix("state", name) {
			out = append(out, a)
			continue
		}
		if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			out = append(out, "--state="+args[i+1])
			i++
			continue
		}
		out = append(out, "--state=")
	}
	return out
}

// tool carries the output streams and whether an error was reported.
type tool struct {
	stdout, stderr io.Writer
	parser         *cli.Parser
	failed         bool
}

// printHelp is jopt's option table, with --state shown as taking an
// optional argument.
func (t *tool) printHelp(w io.Writer) {
	var b bytes.Buffer
	t.parser.PrintHelp(&b)
	io.WriteString(w, strings.Replace(b.String(), "--state <String>", "--state [String]", 1))
}

// usage is CommandLineUtils.printUsageAndExit: the message and the option
// table on stderr, exit 1.
func (t *tool) usage(msg string) int {
	fmt.Fprintln(t.stderr, msg)
	t.printHelp(t.stderr)
	return 1
}

// printError is ConsumerGroupCommand.printError: "\nError: msg" on stdout
// and, for an exception, its first stack-trace line on stderr.
func (t *tool) printError(msg string, err error) {
	fmt.Fprintf(t.stdout, "\nError: %s\n", msg)
	if err != nil {
		fmt.Fprintln(t.stderr, javaString(err))
	}
	t.failed = true
}

func run(args []string, stdout, stderr io.Writer) int {
	p := cli.NewParser()
	o := newOptions(p)
	t := &tool{stdout: stdout, stderr: stderr, parser: p}
	if err := p.Parse(stateArgs(args)); err != nil {
		return t.usage(err.Error())
	}
	if p.HelpRequested() || len(args) == 0 {
		fmt.Fprintln(stderr, purpose)
		t.printHelp(stderr)
		if len(args) == 0 {
			return 1
		}
		return 0
	}
	if p.VersionRequested() {
		fmt.Fprintln(stdout, cli.Version)
		return 0
	}
	if err := o.check(stderr); err != nil {
		return t.usage(err.Error())
	}
	actions := 0
	for _, a := range []*cli.Option{o.list, o.describe, o.delete, o.resetOffsets, o.deleteOffsets} {
		if a.Has() {
			actions++
		}
	}
	if actions != 1 {
		return t.usage("Command must include exactly one action: --list, --describe, --delete, --reset-offsets, --delete-offsets")
	}
	s, err := newService(o, t)
	if err == nil {
		defer s.close()
		switch {
		case o.list.Has():
			err = s.listGroups()
		case o.describe.Has():
			err = s.describeGroups()
		case o.delete.Has():
			err = s.deleteGroups()
		case o.resetOffsets.Has():
			err = s.resetOffsetsCommand()
		case o.deleteOffsets.Has():
			err = s.deleteOffsets()
		}
	}
	if err != nil {
		var ia *illegalArgument
		if asIllegal(err, &ia) {
			return t.usage(ia.msg)
		}
		t.printError("Executing consumer group command failed due to "+failureMessage(err), err)
	}
	if t.failed {
		return 1
	}
	return 0
}

// check is ConsumerGroupCommandOptions.checkArgs, with jopt-simple's
// availableIf rules for --members, --verbose, --offsets and --state first.
func (o *options) check(stderr io.Writer) error {
	for _, d := range []struct {
		opt   *cli.Option
		needs []*cli.Option
	}{
		{o.members, []*cli.Option{o.describe}},
		{o.verbose, []*cli.Option{o.describe}},
		{o.offsets, []*cli.Option{o.describe}},
		{o.state, []*cli.Option{o.describe, o.list}},
	} {
		if !d.opt.Has() {
			continue
		}
		ok := false
		for _, n := range d.needs {
			ok = ok || n.Has()
		}
		if !ok {
			return cli.Usagef("Option(s) %s are unavailable given other options on the command line", d.opt)
		}
	}
	if err := cli.CheckRequired(o.bootstrap); err != nil {
		return err
	}
	scope := fmt.Sprintf("%s, %s", o.group, o.allGroups)
	if o.describe.Has() {
		if !o.group.Has() && !o.allGroups.Has() {
			return cli.Usagef("Option %s takes one of these options: %s", o.describe, scope)
		}
		n := 0
		for _, x := range []*cli.Option{o.members, o.offsets, o.state} {
			if x.Has() {
				n++
			}
		}
		if n > 1 {
			return cli.Usagef("Option %s takes at most one of these options: %s, %s, %s", o.describe, o.members, o.offsets, o.state)
		}
		if o.state.Has() && o.state.Value() != "" {
			return cli.Usagef("Option %s does not take a value for %s", o.describe, o.state)
		}
	}
	if o.delete.Has() {
		if !o.group.Has() && !o.allGroups.Has() {
			return cli.Usagef("Option %s takes one of these options: %s", o.delete, scope)
		}
		if o.topic.Has() {
			return cli.Usagef("The consumer does not support topic-specific offset deletion from a consumer group.")
		}
	}
	if o.deleteOffsets.Has() && (!o.group.Has() || !o.topic.Has()) {
		return cli.Usagef("Option %s takes the following options: %s, %s", o.deleteOffsets, o.group, o.topic)
	}
	if o.resetOffsets.Has() {
		if o.dryRun.Has() && o.execute.Has() {
			return cli.Usagef("Option %s only accepts one of %s and %s", o.resetOffsets, o.execute, o.dryRun)
		}
		if !o.dryRun.Has() && !o.execute.Has() {
			fmt.Fprintln(stderr, "WARN: No action will be performed as the --execute option is missing."+
				"In a future major release, the default behavior of this command will be to prompt the user before "+
				"executing the reset rather than doing a dry run. You should add the --dry-run option explicitly "+
				"if you are scripting this command and want to keep the current default behavior without prompting.")
		}
		if !o.group.Has() && !o.allGroups.Has() {
			return cli.Usagef("Option %s takes one of these options: %s", o.resetOffsets, scope)
		}
		scenarios := o.scenarios()
		for _, used := range scenarios {
			var others []*cli.Option
			for _, s := range scenarios {
				if s != used {
					others = append(others, s)
				}
			}
			if err := cli.CheckInvalid(used, others...); err != nil {
				return err
			}
		}
	}
	if err := cli.CheckInvalid(o.group, o.allGroups); err != nil {
		return err
	}
	if err := cli.CheckInvalid(o.group, o.list); err != nil {
		return err
	}
	return cli.CheckInvalid(o.topic, o.list, o.describe)
}

// scenarios are allResetOffsetScenarioOpts.
func (o *options) scenarios() []*cli.Option {
	return []*cli.Option{o.toOffset, o.shiftBy, o.toDatetime, o.byDuration, o.toEarliest, o.toLatest, o.toCurrent, o.fromFile}
}
