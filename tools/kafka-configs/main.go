// kafka-configs describes and alters the dynamic configs of topics and
// brokers (and client quotas where the cluster serves them), with the flags
// and output of Kafka 3.x's bin/kafka-configs.sh (kafka.admin.ConfigCommand):
//
//	kafka-configs --bootstrap-server localhost:9092 --entity-type topics --entity-name t --alter --add-config retention.ms=1000
//	kafka-configs --bootstrap-server localhost:9092 --entity-type topics --entity-name t --describe
//
// As ConfigCommand: a bad command line or config prints its message on
// stderr; an error from the cluster prints "Error while executing config
// command with args '...'" and the exception. Both exit 1.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

const purpose = "This tool helps to manipulate and describe entity config for a topic, client, user, broker, ip or client-metrics"

// Entity types, as ConfigType and ConfigCommand name them.
const (
	typeTopics        = "topics"
	typeClients       = "clients"
	typeUsers         = "users"
	typeBrokers       = "brokers"
	typeIPs           = "ips"
	typeBrokerLoggers = "broker-loggers"
	typeClientMetrics = "client-metrics"
)

// brokerSupportedTypes is BrokerSupportedConfigTypes in Kafka 3.7's order.
var brokerSupportedTypes = []string{typeTopics, typeClients, typeUsers, typeBrokers, typeIPs, typeBrokerLoggers, typeClientMetrics}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are ConfigCommandOptions.
type options struct {
	p                                     *cli.Parser
	bootstrap, commandConfig              *cli.Option
	alter, describe, all                  *cli.Option
	entityType, entityName, entityDefault *cli.Option
	addConfig, addConfigFile, deleteCfg   *cli.Option
	force                                 *cli.Option
	broker, brokerLogger                  *cli.Option
	// entityFlags and defaultFlags are the shortcut flags (--topic t,
	// --broker-defaults) with the entity type each stands for.
	entityFlags, defaultFlags []entityFlag
}

type entityFlag struct {
	opt *cli.Option
	typ string
}

func newOptions(p *cli.Parser) *options {
	o := &options{p: p}
	o.bootstrap = p.Arg("bootstrap-server", "The Kafka servers to connect to.", "server to connect to")
	o.commandConfig = p.Arg("command-config", "Property file containing configs to be passed to Admin Client. This is used only with --bootstrap-server option for describing and altering broker configs.", "command config property file")
	o.alter = p.Flag("alter", "Alter the configuration for the entity.")
	o.describe = p.Flag("describe", "List configs for the given entity.")
	o.all = p.Flag("all", "List all configs for the given topic, broker, or broker-logger entity (includes static configuration when the entity type is brokers)")
	o.entityType = p.Arg("entity-type", "Type of entity (topics/clients/users/brokers/broker-loggers/ips/client-metrics)", "")
	o.entityName = p.Arg("entity-name", "Name of entity (topic name/client id/user principal name/broker id/ip/client metrics)", "")
	o.entityDefault = p.Flag("entity-default", "Default entity name for clients/users/brokers/ips (applies to corresponding entity type in command line)")
	o.addConfig = p.Arg("add-config", "Key Value pairs of configs to add. Square brackets can be used to group values which contain commas: 'k1=v1,k2=[v1,v2,v2],k3=v3'. Entity types 'users' and 'clients' may be specified together to update config for clients of a specific user.", "")
	o.addConfigFile = p.Arg("add-config-file", "Path to a properties file with configs to add. See add-config for a list of valid configurations.", "")
	o.deleteCfg = p.Arg("delete-config", "config keys to remove 'k1,k2'", "")
	o.force = p.Flag("force", "Suppress console prompts")
	flag := func(name, desc, typ string) *cli.Option {
		opt := p.Arg(name, desc, "")
		o.entityFlags = append(o.entityFlags, entityFlag{opt, typ})
		return opt
	}
	flag("topic", "The topic's name.", typeTopics)
	flag("client", "The client's ID.", typeClients)
	flag("user", "The user's principal name.", typeUsers)
	o.broker = flag("broker", "The broker's ID.", typeBrokers)
	o.brokerLogger = flag("broker-logger", "The broker's ID for its logger config.", typeBrokerLoggers)
	flag("ip", "The IP address.", typeIPs)
	def := func(name, desc, typ string) {
		o.defaultFlags = append(o.defaultFlags, entityFlag{p.Flag(name, desc), typ})
	}
	def("client-defaults", "The config defaults for all clients.", typeClients)
	def("user-defaults", "The config defaults for all users.", typeUsers)
	def("broker-defaults", "The config defaults for all brokers.", typeBrokers)
	def("ip-defaults", "The config defaults for all IPs.", typeIPs)
	return o
}

// entityTypes is ConfigCommandOptions.entityTypes: every --entity-type,
// then the type of each shortcut flag given.
func (o *options) entityTypes() []string {
	types := append([]string(nil), o.entityType.Values()...)
	for _, f := range append(append([]entityFlag(nil), o.entityFlags...), o.defaultFlags...) {
		if f.opt.Has() {
			types = append(types, f.typ)
		}
	}
	return types
}

// entityNames is ConfigCommandOptions.entityNames: --entity-name and
// --entity-default ("") in command-line order, then the shortcut flags.
func (o *options) entityNames() []string {
	var names []string
	vals := o.entityName.Values()
	for _, s := range o.p.Seen() {
		switch s {
		case o.entityName:
			names = append(names, vals[0])
			vals = vals[1:]
		case o.entityDefault:
			names = append(names, "")
		}
	}
	for _, f := range o.entityFlags {
		if f.opt.Has() {
			names = append(names, f.opt.Value())
		}
	}
	for _, f := range o.defaultFlags {
		if f.opt.Has() {
			names = append(names, "")
		}
	}
	return names
}

func illegal(format string, a ...any) error {
	return cli.Errorf("IllegalArgumentException", format, a...)
}

// check is ConfigCommandOptions.checkArgs (Kafka 3.7).
func (o *options) check() error {
	if o.alter.Has() == o.describe.Has() {
		return cli.Usagef("Command must include exactly one action: --describe, --alter")
	}
	if err := cli.CheckInvalid(o.alter, o.describe); err != nil {
		return err
	}
	if err := cli.CheckInvalid(o.describe, o.alter, o.addConfig, o.deleteCfg); err != nil {
		return err
	}
	types := o.entityTypes()
	var dups []string
	seen := map[string]bool{}
	for _, t := range types {
		if seen[t] && !slices.Contains(dups, t) {
			dups = append(dups, t)
		}
		seen[t] = true
	}
	if len(dups) > 0 {
		return illegal("Duplicate entity type(s) specified: %s", strings.Join(dups, ","))
	}
	for _, t := range types {
		if !slices.Contains(brokerSupportedTypes, t) {
			return illegal("Invalid entity type %s, the entity type must be one of %s with a --bootstrap-server or --bootstrap-controller argument", t, strings.Join(brokerSupportedTypes, ", "))
		}
	}
	if len(types) == 0 {
		return illegal("At least one entity type must be specified")
	}
	if len(types) > 1 && !(len(types) == 2 && seen[typeUsers] && seen[typeClients]) {
		return illegal("Only '%s' and '%s' entity types may be specified together", typeUsers, typeClients)
	}
	shortcut := false
	for _, f := range append(append([]entityFlag(nil), o.entityFlags...), o.defaultFlags...) {
		shortcut = shortcut || f.opt.Has()
	}
	if (o.entityName.Has() || o.entityType.Has() || o.entityDefault.Has()) && shortcut {
		return illegal("--entity-{type,name,default} should not be used in conjunction with specific entity flags")
	}
	names := o.entityNames()
	hasName, hasDefault := false, false
	for _, n := range names {
		hasName = hasName || n != ""
		hasDefault = hasDefault || n == ""
	}
	if !o.bootstrap.Has() {
		return illegal("One of the required --bootstrap-server, --boostrap-controller, or --zookeeper arguments must be specified")
	}
	if hasName && (seen[typeBrokers] || seen[typeBrokerLoggers]) {
		for _, opt := range []*cli.Option{o.entityName, o.broker, o.brokerLogger} {
			if opt.Has() {
				if _, err := opt.Int(); err != nil {
					return illegal("The entity name for %s must be a valid integer broker id, but it is: %s", types[0], opt.Value())
				}
			}
		}
	}
	if o.describe.Has() && seen[typeBrokerLoggers] && !hasName {
		return illegal("an entity name must be specified with --describe of %s", strings.Join(types, ","))
	}
	if o.alter.Has() {
		if seen[typeUsers] || seen[typeClients] || seen[typeBrokers] || seen[typeIPs] {
			if !hasName && !hasDefault {
				return illegal("an entity-name or default entity must be specified with --alter of users, clients, brokers or ips")
			}
		} else if !hasName {
			return illegal("an entity name must be specified with --alter of %s", strings.Join(types, ","))
		}
		if o.addConfig.Has() && o.addConfigFile.Has() {
			return illegal("Only one of --add-config or --add-config-file must be specified")
		}
		if !o.addConfig.Has() && !o.addConfigFile.Has() && !o.deleteCfg.Has() {
			return illegal("At least one of --add-config, --add-config-file, or --delete-config must be specified with --alter")
		}
	}
	return nil
}

// execError is an error an admin call's future raised: Java prints it
// wrapped in java.util.concurrent.ExecutionException.
type execError struct{ err error }

func (e *execError) Error() string { return e.err.Error() }

// terse says whether ConfigCommand prints only the message of err: its
// IllegalArgumentException, InvalidConfigurationException and jopt's
// OptionException.
func terse(err error) bool {
	var pe *cli.ParseError
	if errors.As(err, &pe) {
		return true
	}
	var ke *cli.KafkaError
	if errors.As(err, &ke) {
		var ee *execError
		return !errors.As(err, &ee) && (ke.Class == "IllegalArgumentException" || ke.Class == "InvalidConfigurationException")
	}
	return false
}

func run(args []string, stdout, stderr io.Writer) int {
	p := cli.NewParser()
	o := newOptions(p)
	t := &cli.Tool{Stdout: stdout, Stderr: stderr, Parser: p, Purpose: purpose}
	fail := func(err error) int {
		var ue *cli.UsageError
		switch {
		case errors.As(err, &ue):
			return t.Fail(err)
		case terse(err):
			fmt.Fprintln(stderr, err.Error())
		default:
			fmt.Fprintf(stderr, "Error while executing config command with args '%s'\n", strings.Join(args, " "))
			var ee *execError
			if errors.As(err, &ee) {
				fmt.Fprintf(stderr, "java.util.concurrent.ExecutionException: %s\n", cli.JavaError(ee.err))
			} else {
				fmt.Fprintln(stderr, cli.JavaError(err))
			}
		}
		return 1
	}
	if err := p.Parse(args); err != nil {
		return fail(err)
	}
	if len(args) == 0 {
		return t.Fail(cli.Usagef(purpose))
	}
	if p.HelpRequested() {
		fmt.Fprintln(stderr, purpose)
		p.PrintHelp(stderr)
		return 0
	}
	if p.VersionRequested() {
		fmt.Fprintln(stdout, cli.Version)
		return 0
	}
	if err := o.check(); err != nil {
		return fail(err)
	}
	if o.alter.Has() && len(o.entityTypes()) != len(o.entityNames()) {
		return fail(illegal("An entity name must be specified for every entity type"))
	}
	s, err := newService(o, stdout)
	if err != nil {
		return fail(err)
	}
	defer s.close()
	if o.alter.Has() {
		err = s.alterConfig()
	} else {
		err = s.describeConfig()
	}
	if err != nil {
		return fail(err)
	}
	return 0
}
