package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/IBM/sarama"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

func TestParseAddConfig(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want map[string]string
		err  string
	}{
		{"one", "retention.ms=1000", map[string]string{"retention.ms": "1000"}, ""},
		{"several", "k1=v1,k2=v2", map[string]string{"k1": "v1", "k2": "v2"}, ""},
		{"brackets group commas", "k1=v1,k2=[v1,v2,v2],k3=v3", map[string]string{"k1": "v1", "k2": "v1,v2,v2", "k3": "v3"}, ""},
		{"throttled replicas", "leader.replication.throttled.replicas=[0:1,1:2]", map[string]string{"leader.replication.throttled.replicas": "0:1,1:2"}, ""},
		{"empty value", "ssl.endpoint.identification.algorithm=", map[string]string{"ssl.endpoint.identification.algorithm": ""}, ""},
		{"spaces around =", "a = b", map[string]string{"a": "b"}, ""},
		{"no =", "retention.ms", nil, `requirement failed: Invalid entity config: all configs to be added must be in the format "key=val".`},
		{"two =", "a=b=c", nil, `requirement failed: Invalid entity config: all configs to be added must be in the format "key=val".`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseAddConfig(tc.in)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestValidateKeys(t *testing.T) {
	if err := validateKeys(map[string]string{"retention.ms": "1", "a_b-c": "2"}); err != nil {
		t.Error(err)
	}
	err := validateKeys(map[string]string{"bad key": "1"})
	if err == nil || err.Error() != "Invalid character found for config key: bad key" {
		t.Errorf("got %v", err)
	}
}

// TestWriteEntry checks the describe lines against Kafka's documented output.
func TestWriteEntry(t *testing.T) {
	cases := []struct {
		name string
		e    sarama.ConfigEntry
		want string
	}{
		{"topic override", sarama.ConfigEntry{Name: "retention.ms", Value: "1000", Source: sarama.SourceTopic,
			Synonyms: []*sarama.ConfigSynonym{{ConfigName: "retention.ms", ConfigValue: "1000", Source: sarama.SourceTopic}}},
			"  retention.ms=1000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=1000}\n"},
		{"synonym chain", sarama.ConfigEntry{Name: "segment.bytes", Value: "1048576", Source: sarama.SourceTopic,
			Synonyms: []*sarama.ConfigSynonym{
				{ConfigName: "segment.bytes", ConfigValue: "1048576", Source: sarama.SourceTopic},
				{ConfigName: "log.segment.bytes", ConfigValue: "1073741824", Source: sarama.SourceDefault},
			}},
			"  segment.bytes=1048576 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:segment.bytes=1048576, DEFAULT_CONFIG:log.segment.bytes=1073741824}\n"},
		{"broker default", sarama.ConfigEntry{Name: "log.cleaner.threads", Value: "2", Source: sarama.SourceDynamicDefaultBroker,
			Synonyms: []*sarama.ConfigSynonym{{ConfigName: "log.cleaner.threads", ConfigValue: "2", Source: sarama.SourceDynamicDefaultBroker}}},
			"  log.cleaner.threads=2 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:log.cleaner.threads=2}\n"},
		{"sensitive", sarama.ConfigEntry{Name: "ssl.keystore.password", Sensitive: true, Source: sarama.SourceDynamicBroker,
			Synonyms: []*sarama.ConfigSynonym{{ConfigName: "ssl.keystore.password", Source: sarama.SourceDynamicBroker}}},
			"  ssl.keystore.password=null sensitive=true synonyms={DYNAMIC_BROKER_CONFIG:ssl.keystore.password=null}\n"},
		{"no synonyms", sarama.ConfigEntry{Name: "x", Value: "y", Source: sarama.SourceStaticBroker}, "  x=y sensitive=false synonyms={}\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			writeEntry(&b, tc.e)
			if b.String() != tc.want {
				t.Errorf("got  %q\nwant %q", b.String(), tc.want)
			}
		})
	}
}

func TestJavaDouble(t *testing.T) {
	for in, want := range map[float64]string{1024: "1024.0", 0.5: "0.5", 1e7: "1.0E7", 12345678: "1.2345678E7", 200: "200.0"} {
		if got := javaDouble(in); got != want {
			t.Errorf("javaDouble(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestValidateTopicName(t *testing.T) {
	for name, want := range map[string]string{
		"ok.topic_1-x": "",
		"":             "Topic name is illegal, it can't be empty",
		"..":           `Topic name cannot be "." or ".."`,
		"a b":          `Topic name "a b" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`,
	} {
		err := validateTopicName(name)
		if (err == nil) != (want == "") || (err != nil && err.Error() != want) {
			t.Errorf("validateTopicName(%q) = %v, want %q", name, err, want)
		}
	}
}

// TestCheck covers ConfigCommandOptions.checkArgs' messages.
func TestCheck(t *testing.T) {
	bs := []string{"--bootstrap-server", "localhost:9092"}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no action", append(bs, "--entity-type", "topics"), "Command must include exactly one action: --describe, --alter"},
		{"both actions", append(bs, "--entity-type", "topics", "--describe", "--alter"), "Command must include exactly one action: --describe, --alter"},
		{"add-config with describe", append(bs, "--entity-type", "topics", "--describe", "--add-config", "a=b"), `Option "[describe]" can't be used with option "[add-config]"`},
		{"no entity type", append(bs, "--describe"), "At least one entity type must be specified"},
		{"bad entity type", append(bs, "--describe", "--entity-type", "groups"), "Invalid entity type groups, the entity type must be one of topics, clients, users, brokers, ips, broker-loggers, client-metrics with a --bootstrap-server or --bootstrap-controller argument"},
		{"duplicate type", append(bs, "--describe", "--entity-type", "topics", "--entity-type", "topics"), "Duplicate entity type(s) specified: topics"},
		{"two types", append(bs, "--describe", "--entity-type", "topics", "--entity-type", "brokers"), "Only 'users' and 'clients' entity types may be specified together"},
		{"flags mixed", append(bs, "--describe", "--entity-name", "x", "--topic", "t"), "--entity-{type,name,default} should not be used in conjunction with specific entity flags"},
		{"no bootstrap", []string{"--describe", "--entity-type", "topics"}, "One of the required --bootstrap-server, --boostrap-controller, or --zookeeper arguments must be specified"},
		{"broker id", append(bs, "--describe", "--entity-type", "brokers", "--entity-name", "x"), "The entity name for brokers must be a valid integer broker id, but it is: x"},
		{"alter without name", append(bs, "--alter", "--entity-type", "topics", "--add-config", "a=b"), "an entity name must be specified with --alter of topics"},
		{"alter users without name", append(bs, "--alter", "--entity-type", "users", "--add-config", "a=b"), "an entity-name or default entity must be specified with --alter of users, clients, brokers or ips"},
		{"alter without configs", append(bs, "--alter", "--entity-type", "topics", "--entity-name", "t"), "At least one of --add-config, --add-config-file, or --delete-config must be specified with --alter"},
		{"add-config and file", append(bs, "--alter", "--entity-type", "topics", "--entity-name", "t", "--add-config", "a=b", "--add-config-file", "f"), "Only one of --add-config or --add-config-file must be specified"},
		{"ok", append(bs, "--alter", "--topic", "t", "--delete-config", "a"), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newParserForTest()
			o := newOptions(p)
			if err := p.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := o.check()
			if (err == nil) != (tc.want == "") || (err != nil && err.Error() != tc.want) {
				t.Errorf("check() = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestEntityNames checks that --entity-name and --entity-default keep their
// command-line order, which pairs them with --entity-type.
func TestEntityNames(t *testing.T) {
	p := newParserForTest()
	o := newOptions(p)
	if err := p.Parse([]string{"--entity-type", "users", "--entity-default", "--entity-type", "clients", "--entity-name", "c1"}); err != nil {
		t.Fatal(err)
	}
	if got := o.entityNames(); !reflect.DeepEqual(got, []string{"", "c1"}) {
		t.Errorf("entityNames = %q", got)
	}
	if got := o.entityTypes(); !reflect.DeepEqual(got, []string{"users", "clients"}) {
		t.Errorf("entityTypes = %q", got)
	}
}

func newParserForTest() *cli.Parser { return cli.NewParser() }
