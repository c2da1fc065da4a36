package coordinator

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/handlers"
	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/server"
	"github.com/gregor-broker/gregor/zkpaths"
)

// adminHandlers is broker 1's request handlers over a real coordinator.Admin
// on a real ZooKeeper chroot, with the given server.properties.
func adminHandlers(t *testing.T, static map[string]string) (*handlers.Handlers, *zkpaths.Client) {
	t.Helper()
	zkc := connect(t, testChroot(t))
	if err := zkc.CreateTopLevelPaths(); err != nil {
		t.Fatal(err)
	}
	admin := NewAdmin(zkc, testConfig(1), testLog(t)).SetStaticBrokerConfig(static)
	h := handlers.New(handlers.Deps{
		BrokerID: 1, ClusterID: "c", Metadata: metadata.New(), Admin: admin, ClusterAdmin: admin,
		IsController: func() bool { return true }, Log: testLog(t),
	})
	return h, zkc
}

// call sends req at version through a wire round trip of request and
// response, as a client would see it.
func call(t *testing.T, h *handlers.Handlers, version int16, req kmsg.Request) kmsg.Response {
	t.Helper()
	req.SetVersion(version)
	wire := kmsg.RequestForKey(req.Key())
	wire.SetVersion(version)
	if err := wire.ReadFrom(req.AppendTo(nil)); err != nil {
		t.Fatalf("decode request: %v", err)
	}
	resp, err := h.Handle(context.Background(), &server.Request{APIKey: req.Key(), APIVersion: version, Body: wire, Listener: "PLAINTEXT"})
	if err != nil {
		t.Fatalf("handle: %v", err)
	}
	out := wire.ResponseKind()
	out.SetVersion(version)
	if err := out.ReadFrom(resp.AppendTo(nil)); err != nil {
		t.Fatalf("decode response: %v", err)
	}
	return out
}

func describe(t *testing.T, h *handlers.Handlers, version int16, typ kmsg.ConfigResourceType, name string, keys ...string) kmsg.DescribeConfigsResponseResource {
	t.Helper()
	req := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = typ, name
	if keys != nil {
		rr.ConfigNames = keys
	}
	req.Resources = []kmsg.DescribeConfigsRequestResource{rr}
	req.IncludeSynonyms, req.IncludeDocumentation = true, true
	return call(t, h, version, req).(*kmsg.DescribeConfigsResponse).Resources[0]
}

func alter(t *testing.T, h *handlers.Handlers, version int16, typ kmsg.ConfigResourceType, name string, validateOnly bool, kv ...string) kmsg.AlterConfigsResponseResource {
	t.Helper()
	req := kmsg.NewPtrAlterConfigsRequest()
	req.ValidateOnly = validateOnly
	rr := kmsg.NewAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = typ, name
	for i := 0; i+1 < len(kv); i += 2 {
		c := kmsg.NewAlterConfigsRequestResourceConfig()
		c.Name, c.Value = kv[i], kmsg.StringPtr(kv[i+1])
		rr.Configs = append(rr.Configs, c)
	}
	req.Resources = []kmsg.AlterConfigsRequestResource{rr}
	return call(t, h, version, req).(*kmsg.AlterConfigsResponse).Resources[0]
}

type incOp struct {
	op    kmsg.IncrementalAlterConfigOp
	name  string
	value *string
}

func incAlter(t *testing.T, h *handlers.Handlers, version int16, typ kmsg.ConfigResourceType, name string, ops ...incOp) kmsg.IncrementalAlterConfigsResponseResource {
	t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = typ, name
	for _, o := range ops {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op, c.Value = o.name, o.op, o.value
		rr.Configs = append(rr.Configs, c)
	}
	req.Resources = []kmsg.IncrementalAlterConfigsRequestResource{rr}
	return call(t, h, version, req).(*kmsg.IncrementalAlterConfigsResponse).Resources[0]
}

func configOf(t *testing.T, r kmsg.DescribeConfigsResponseResource, name string) kmsg.DescribeConfigsResponseResourceConfig {
	t.Helper()
	for _, c := range r.Configs {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("%s not described (error %s)", name, kerr.ErrorForCode(r.ErrorCode))
	return kmsg.DescribeConfigsResponseResourceConfig{}
}

func synonymsString(c kmsg.DescribeConfigsResponseResourceConfig) string {
	var parts []string
	for _, s := range c.ConfigSynonyms {
		v := "null"
		if s.Value != nil {
			v = *s.Value
		}
		parts = append(parts, fmt.Sprintf("%s:%s=%s", s.Source, s.Name, v))
	}
	return strings.Join(parts, ",")
}

func znode(t *testing.T, zkc *zkpaths.Client, p string) string {
	t.Helper()
	data, _, err := zkc.Get(p)
	if err != nil {
		t.Fatalf("get %s: %v", p, err)
	}
	return string(data)
}

// notifications returns the payloads under /config/changes in order.
func notifications(t *testing.T, zkc *zkpaths.Client) []string {
	t.Helper()
	children, _, err := zkc.Children(zkpaths.ConfigChangesPath)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range sortedKeys(setOf(children)) {
		out = append(out, znode(t, zkc, zkpaths.ConfigChangesPath+"/"+c))
	}
	return out
}

func setOf(s []string) map[string]bool {
	m := map[string]bool{}
	for _, v := range s {
		m[v] = true
	}
	return m
}

func TestDescribeTopicConfigSources(t *testing.T) {
	h, zkc := adminHandlers(t, map[string]string{"broker.id": "1", "zookeeper.connect": "x", "log.segment.bytes": "2000000", "log.retention.hours": "24"})
	createTopic(t, zkc, "t", map[int32][]int32{0: {1}}, map[string]string{"retention.bytes": "1000"})
	// The cluster default rolls segments hourly; broker 1 asks for 2 in-sync replicas.
	if r := alter(t, h, 1, kmsg.ConfigResourceTypeBroker, "", false, "log.roll.ms", "3600000"); r.ErrorCode != 0 {
		t.Fatalf("alter default: %s %v", kerr.ErrorForCode(r.ErrorCode), r.ErrorMessage)
	}
	if r := incAlter(t, h, 1, kmsg.ConfigResourceTypeBroker, "1", incOp{kmsg.IncrementalAlterConfigOpSet, "min.insync.replicas", kmsg.StringPtr("2")}); r.ErrorCode != 0 {
		t.Fatalf("alter broker 1: %s %v", kerr.ErrorForCode(r.ErrorCode), r.ErrorMessage)
	}
	for _, version := range []int16{0, 1, 2, 3, 4} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			r := describe(t, h, version, kmsg.ConfigResourceTypeTopic, "t")
			if r.ErrorCode != 0 {
				t.Fatalf("describe: %s", kerr.ErrorForCode(r.ErrorCode))
			}
			for _, tc := range []struct {
				name, value string
				source      kmsg.ConfigSource
				synonyms    string
			}{
				{"retention.bytes", "1000", kmsg.ConfigSourceDynamicTopicConfig, "DYNAMIC_TOPIC_CONFIG:retention.bytes=1000,DEFAULT_CONFIG:log.retention.bytes=-1"},
				{"segment.bytes", "2000000", kmsg.ConfigSourceStaticBrokerConfig, "STATIC_BROKER_CONFIG:log.segment.bytes=2000000,DEFAULT_CONFIG:log.segment.bytes=1073741824"},
				// Kafka drops the synonyms before log.retention.ms (dropWhile).
				{"retention.ms", "86400000", kmsg.ConfigSourceDefaultConfig, ""},
				{"segment.ms", "3600000", kmsg.ConfigSourceDynamicDefaultBrokerConfig, "DYNAMIC_DEFAULT_BROKER_CONFIG:log.roll.ms=3600000,DEFAULT_CONFIG:log.roll.hours=168"},
				{"min.insync.replicas", "2", kmsg.ConfigSourceDynamicBrokerConfig, "DYNAMIC_BROKER_CONFIG:min.insync.replicas=2,DEFAULT_CONFIG:min.insync.replicas=1"},
				{"unclean.leader.election.enable", "false", kmsg.ConfigSourceDefaultConfig, "DEFAULT_CONFIG:unclean.leader.election.enable=false"},
				{"cleanup.policy", "delete", kmsg.ConfigSourceDefaultConfig, "DEFAULT_CONFIG:log.cleanup.policy=delete"},
				{"remote.storage.enable", "false", kmsg.ConfigSourceDefaultConfig, ""},
			} {
				c := configOf(t, r, tc.name)
				if c.Value == nil || *c.Value != tc.value {
					t.Errorf("%s = %v, want %s", tc.name, c.Value, tc.value)
				}
				if version == 0 {
					if c.IsDefault != (tc.source == kmsg.ConfigSourceDefaultConfig) {
						t.Errorf("%s: IsDefault %v", tc.name, c.IsDefault)
					}
					continue
				}
				if c.Source != tc.source || c.ReadOnly || c.IsSensitive {
					t.Errorf("%s: source %s read-only %v sensitive %v, want %s", tc.name, c.Source, c.ReadOnly, c.IsSensitive, tc.source)
				}
				if got := synonymsString(c); got != tc.synonyms {
					t.Errorf("%s synonyms %q, want %q", tc.name, got, tc.synonyms)
				}
				if version >= 3 && c.ConfigType == kmsg.ConfigTypeUnknown {
					t.Errorf("%s: no config type", tc.name)
				}
			}
		})
	}
	t.Run("named keys", func(t *testing.T) {
		r := describe(t, h, 4, kmsg.ConfigResourceTypeTopic, "t", "retention.ms", "no.such.key")
		if len(r.Configs) != 1 || r.Configs[0].Name != "retention.ms" {
			t.Fatalf("configs %+v, want retention.ms only", r.Configs)
		}
	})
	t.Run("unknown topic", func(t *testing.T) {
		if r := describe(t, h, 4, kmsg.ConfigResourceTypeTopic, "nope"); r.ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("got %s", kerr.ErrorForCode(r.ErrorCode))
		}
	})
}

func TestDescribeBrokerConfigs(t *testing.T) {
	h, _ := adminHandlers(t, map[string]string{"broker.id": "1", "zookeeper.connect": "x", "log.retention.hours": "24", "my.custom.key": "v"})
	if r := alter(t, h, 0, kmsg.ConfigResourceTypeBroker, "", false, "log.retention.ms", "5000"); r.ErrorCode != 0 {
		t.Fatalf("alter default: %s %v", kerr.ErrorForCode(r.ErrorCode), r.ErrorMessage)
	}
	r := describe(t, h, 4, kmsg.ConfigResourceTypeBroker, "1")
	if r.ErrorCode != 0 {
		t.Fatalf("describe: %s", kerr.ErrorForCode(r.ErrorCode))
	}
	for _, tc := range []struct {
		name      string
		value     *string
		source    kmsg.ConfigSource
		readOnly  bool
		sensitive bool
	}{
		{"log.retention.ms", kmsg.StringPtr("5000"), kmsg.ConfigSourceDynamicDefaultBrokerConfig, false, false},
		{"log.retention.hours", kmsg.StringPtr("24"), kmsg.ConfigSourceStaticBrokerConfig, true, false},
		{"log.dirs", nil, kmsg.ConfigSourceDefaultConfig, true, false},
		{"num.partitions", kmsg.StringPtr("1"), kmsg.ConfigSourceDefaultConfig, true, false},
		{"my.custom.key", nil, kmsg.ConfigSourceStaticBrokerConfig, true, true},
	} {
		c := configOf(t, r, tc.name)
		if fmt.Sprint(deref(c.Value)) != fmt.Sprint(deref(tc.value)) || c.Source != tc.source || c.ReadOnly != tc.readOnly || c.IsSensitive != tc.sensitive {
			t.Errorf("%s = %v source %s read-only %v sensitive %v; want %v %s %v %v", tc.name, deref(c.Value), c.Source, c.ReadOnly, c.IsSensitive,
				deref(tc.value), tc.source, tc.readOnly, tc.sensitive)
		}
	}
	def := describe(t, h, 4, kmsg.ConfigResourceTypeBroker, "")
	if def.ErrorCode != 0 || len(def.Configs) != 1 || def.Configs[0].Name != "log.retention.ms" || def.Configs[0].Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
		t.Fatalf("cluster default: %s %+v", kerr.ErrorForCode(def.ErrorCode), def.Configs)
	}
	if other := describe(t, h, 4, kmsg.ConfigResourceTypeBroker, "2"); other.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("broker 2 on broker 1: %s", kerr.ErrorForCode(other.ErrorCode))
	}
}

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func TestAlterTopicConfigs(t *testing.T) {
	h, zkc := adminHandlers(t, nil)
	createTopic(t, zkc, "t", map[int32][]int32{0: {1}}, map[string]string{"retention.bytes": "1000"})
	before := len(notifications(t, zkc))
	for _, tc := range []struct {
		name     string
		topic    string
		validate bool
		kv       []string
		code     *kerr.Error
		message  string
		stored   string
	}{
		{name: "unknown topic", topic: "nope", kv: []string{"retention.ms", "1"}, code: kerr.UnknownTopicOrPartition, message: "The topic 'nope' does not exist."},
		{name: "unknown key", kv: []string{"retention.msx", "1"}, code: kerr.InvalidConfig, message: "Unknown topic config name: retention.msx"},
		{name: "not a number", kv: []string{"retention.ms", "abc"}, code: kerr.InvalidRequest,
			message: "Invalid config value for resource ConfigResource(type=TOPIC, name='t'): Invalid value abc for configuration retention.ms: Not a number of type LONG"},
		{name: "below the minimum", kv: []string{"segment.bytes", "3"}, code: kerr.InvalidRequest,
			message: "Invalid config value for resource ConfigResource(type=TOPIC, name='t'): Invalid value 3 for configuration segment.bytes: Value must be at least 14"},
		{name: "bad enum", kv: []string{"cleanup.policy", "purge"}, code: kerr.InvalidRequest,
			message: "Invalid config value for resource ConfigResource(type=TOPIC, name='t'): Invalid value purge for configuration cleanup.policy: String must be one of: compact, delete"},
		{name: "validate only", validate: true, kv: []string{"retention.ms", "60000"}, stored: `{"version":1,"config":{"retention.bytes":"1000"}}`},
		// The legacy API replaces every override.
		{name: "replace", kv: []string{"retention.ms", "60000", "min.insync.replicas", "2"}, stored: `{"version":1,"config":{"min.insync.replicas":"2","retention.ms":"60000"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := tc.topic
			if topic == "" {
				topic = "t"
			}
			r := alter(t, h, 2, kmsg.ConfigResourceTypeTopic, topic, tc.validate, tc.kv...)
			want := int16(0)
			if tc.code != nil {
				want = tc.code.Code
			}
			if r.ErrorCode != want || (tc.message != "" && (r.ErrorMessage == nil || *r.ErrorMessage != tc.message)) {
				t.Fatalf("got %s %v, want %s %q", kerr.ErrorForCode(r.ErrorCode), deref(r.ErrorMessage), kerr.ErrorForCode(want), tc.message)
			}
			if tc.stored != "" {
				if got := znode(t, zkc, zkpaths.ConfigTopicPath("t")); got != tc.stored {
					t.Fatalf("stored %s, want %s", got, tc.stored)
				}
			}
		})
	}
	notes := notifications(t, zkc)
	if len(notes) != before+1 || notes[len(notes)-1] != `{"version":2,"entity_path":"topics/t"}` {
		t.Fatalf("notifications %q: want exactly one more, for topics/t", notes)
	}
}

func TestIncrementalAlterConfigs(t *testing.T) {
	h, zkc := adminHandlers(t, nil)
	createTopic(t, zkc, "t", map[int32][]int32{0: {1}}, map[string]string{"retention.bytes": "1000"})
	set, del := kmsg.IncrementalAlterConfigOpSet, kmsg.IncrementalAlterConfigOpDelete
	app, sub := kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract
	s := kmsg.StringPtr
	for _, tc := range []struct {
		name    string
		typ     kmsg.ConfigResourceType
		entity  string
		ops     []incOp
		code    *kerr.Error
		message string
		stored  string
	}{
		{name: "set and delete", ops: []incOp{{set, "retention.ms", s("100")}, {del, "retention.bytes", nil}}, stored: `{"version":1,"config":{"retention.ms":"100"}}`},
		{name: "append to the default list", ops: []incOp{{app, "cleanup.policy", s("compact")}}, stored: `{"version":1,"config":{"cleanup.policy":"delete,compact","retention.ms":"100"}}`},
		{name: "subtract", ops: []incOp{{sub, "cleanup.policy", s("delete")}}, stored: `{"version":1,"config":{"cleanup.policy":"compact","retention.ms":"100"}}`},
		{name: "append to a non-list", ops: []incOp{{app, "retention.ms", s("1")}}, code: kerr.InvalidRequest, message: "Config value append is not allowed for config key: retention.ms"},
		{name: "duplicate keys", ops: []incOp{{set, "retention.ms", s("1")}, {del, "retention.ms", nil}}, code: kerr.InvalidRequest, message: "Error due to duplicate config keys : retention.ms"},
		{name: "null set", ops: []incOp{{set, "retention.ms", nil}}, code: kerr.InvalidRequest, message: "Null value not supported for : SET:retention.ms"},
		{name: "bad value", ops: []incOp{{set, "min.insync.replicas", s("0")}}, code: kerr.InvalidRequest,
			message: "Invalid config value for resource ConfigResource(type=TOPIC, name='t'): Invalid value 0 for configuration min.insync.replicas: Value must be at least 1"},
		{name: "broker: not dynamic", typ: kmsg.ConfigResourceTypeBroker, entity: "1", ops: []incOp{{set, "log.dirs", s("/x")}, {set, "num.partitions", s("3")}}, code: kerr.InvalidRequest,
			message: "Invalid config value for resource ConfigResource(type=BROKER, name='1'): Cannot update these configs dynamically: Set(log.dirs, num.partitions)"},
		{name: "broker: another id", typ: kmsg.ConfigResourceTypeBroker, entity: "2", ops: []incOp{{set, "log.retention.ms", s("1")}}, code: kerr.InvalidRequest,
			message: "Unexpected broker id, expected 1, but received 2"},
		{name: "broker: bad value", typ: kmsg.ConfigResourceTypeBroker, entity: "1", ops: []incOp{{set, "log.segment.bytes", s("3")}}, code: kerr.InvalidRequest},
		{name: "broker: per broker", typ: kmsg.ConfigResourceTypeBroker, entity: "1", ops: []incOp{{set, "log.retention.ms", s("1000")}}, stored: `{"version":1,"config":{"log.retention.ms":"1000"}}`},
		{name: "broker: negative throttle rate", typ: kmsg.ConfigResourceTypeBroker, entity: "1", ops: []incOp{{set, "leader.replication.throttled.rate", s("-1")}}, code: kerr.InvalidRequest,
			message: "Invalid config value for resource ConfigResource(type=BROKER, name='1'): Invalid value -1 for configuration leader.replication.throttled.rate: Value must be at least 0"},
		{name: "broker: throttle rate", typ: kmsg.ConfigResourceTypeBroker, entity: "1", ops: []incOp{{set, "leader.replication.throttled.rate", s("1048576")}},
			stored: `{"version":1,"config":{"log.retention.ms":"1000","leader.replication.throttled.rate":"1048576"}}`},
		{name: "broker: default", typ: kmsg.ConfigResourceTypeBroker, ops: []incOp{{set, "log.cleanup.policy", s("delete")}, {app, "log.cleanup.policy", s("compact")}}, code: kerr.InvalidRequest},
		{name: "broker: default list", typ: kmsg.ConfigResourceTypeBroker, ops: []incOp{{app, "log.cleanup.policy", s("compact")}}, stored: `{"version":1,"config":{"log.cleanup.policy":"delete,compact"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			typ, entity := tc.typ, tc.entity
			if typ == 0 {
				typ, entity = kmsg.ConfigResourceTypeTopic, "t"
			}
			for _, version := range []int16{0, 1} {
				if tc.stored != "" && version == 0 {
					continue // applied once, at v1
				}
				r := incAlter(t, h, version, typ, entity, tc.ops...)
				want := int16(0)
				if tc.code != nil {
					want = tc.code.Code
				}
				if r.ErrorCode != want || (tc.message != "" && (r.ErrorMessage == nil || *r.ErrorMessage != tc.message)) {
					t.Fatalf("v%d: got %s %v, want %s %q", version, kerr.ErrorForCode(r.ErrorCode), deref(r.ErrorMessage), kerr.ErrorForCode(want), tc.message)
				}
			}
			if tc.stored != "" {
				p := zkpaths.ConfigTopicPath("t")
				if typ == kmsg.ConfigResourceTypeBroker {
					p = zkpaths.ConfigBrokerPath(entity)
					if entity == "" {
						p = zkpaths.ConfigBrokerPath(zkpaths.ConfigDefaultName)
					}
				}
				if got := znode(t, zkc, p); got != tc.stored {
					t.Fatalf("stored %s, want %s", got, tc.stored)
				}
			}
		})
	}
	notes := notifications(t, zkc)
	if last := notes[len(notes)-1]; last != `{"version":2,"entity_path":"brokers/<default>"}` {
		t.Fatalf("last notification %s", last)
	}
}

func TestCreateTopicRejectsInvalidConfigValue(t *testing.T) {
	zkc := connect(t, testChroot(t))
	admin := NewAdmin(zkc, testConfig(0), testLog(t))
	err := admin.CreateTopic(context.Background(), handlers.NewTopic{Name: "t", NumPartitions: -1, ReplicationFactor: -1,
		Assignment: map[int32][]int32{0: {1}}, Configs: map[string]string{"retention.ms": "soon"}})
	if err == nil || !strings.Contains(err.Error(), "Invalid value soon for configuration retention.ms") {
		t.Fatalf("got %v", err)
	}
}
