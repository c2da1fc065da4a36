package zkpaths

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
)

func golden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustUUID(t *testing.T, s string) UUID {
	t.Helper()
	u, err := ParseUUID(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestGoldenEncode checks Encode against the JSON Kafka writes (reference
// §1.2, §1.3), byte for byte.
func TestGoldenEncode(t *testing.T) {
	topicID := mustUUID(t, "cMr3GpVESX2L3byPGf93lQ")
	twelve := map[int32][]int32{}
	for p := int32(0); p < 12; p++ {
		twelve[p] = []int32{0}
	}
	tests := []struct {
		name   string
		golden string
		encode func() []byte
	}{
		{"broker v5", "broker_v5.json", func() []byte {
			return BrokerInfo{ID: 1, JmxPort: -1, Timestamp: 1692025259506, Endpoints: []Endpoint{
				{"PLAINTEXT", "host1", 9092, "PLAINTEXT"}, {"SSL", "host1", 9093, "SSL"}}}.Encode()
		}},
		{"broker v5 with rack", "broker_v5_rack.json", func() []byte {
			return BrokerInfo{ID: 1, JmxPort: 9999, Rack: "rack1", Timestamp: 1614570663255,
				Endpoints:                   []Endpoint{{"INTERNAL", "10.0.0.7", 9094, "PLAINTEXT"}},
				ListenerSecurityProtocolMap: []ListenerProtocol{{"INTERNAL", "PLAINTEXT"}}}.Encode()
		}},
		{"broker v5 without plaintext, ipv6", "broker_v5_no_plaintext.json", func() []byte {
			return BrokerInfo{ID: 1, JmxPort: -1, Timestamp: 1692025259506, Endpoints: []Endpoint{{"SSL", "::1", 9093, "SSL"}}}.Encode()
		}},
		{"topic v3", "topic_v3.json", func() []byte {
			return TopicAssignment{TopicID: topicID, Partitions: map[int32][]int32{0: {2, 3, 1}, 1: {3, 1, 2}, 2: {1, 2, 3}}}.Encode()
		}},
		{"topic v3 without id", "topic_v3_no_id.json", func() []byte {
			return TopicAssignment{Partitions: map[int32][]int32{0: {1}}}.Encode()
		}},
		{"topic v3 12 partitions", "topic_v3_12_partitions.json", func() []byte {
			return TopicAssignment{TopicID: topicID, Partitions: twelve}.Encode()
		}},
		{"partition state", "partition_state.json", func() []byte {
			return PartitionState{Leader: 2, LeaderEpoch: 0, ISR: []int32{2, 3, 1}, ControllerEpoch: 1}.Encode()
		}},
		{"partition state recovering", "partition_state_recovering.json", func() []byte {
			return PartitionState{Leader: 3, LeaderEpoch: 7, ISR: []int32{3}, ControllerEpoch: 5, LeaderRecoveryState: LeaderRecovering}.Encode()
		}},
		{"controller v1", "controller_v1.json", func() []byte {
			return ControllerInfo{BrokerID: 0, Timestamp: 1614570663255}.Encode()
		}},
		{"cluster id", "cluster_id.json", func() []byte { return EncodeClusterID("eQzK4lYlQ9y8P21IScOl_g") }},
		{"config empty", "config_empty.json", func() []byte { return EntityConfig{}.Encode() }},
		{"config __consumer_offsets (Java 11 order)", "config_consumer_offsets.json", func() []byte {
			return EntityConfig{Config: map[string]string{"cleanup.policy": "compact", "segment.bytes": "104857600", "compression.type": "producer"}}.
				EncodeOrdered([]string{"cleanup.policy", "segment.bytes", "compression.type"})
		}},
		{"config change", "config_change.json", func() []byte { return EncodeConfigChangeNotification("topics/my-topic") }},
		{"feature v2", "feature_v2.json", func() []byte { return FeatureZNode{Version: 2, Status: FeatureEnabled}.Encode() }},
		{"producer id block", "producer_id_block.json", func() []byte {
			return ProducerIDBlock{Broker: 0, BlockStart: 0, BlockEnd: 999}.Encode()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, want := tt.encode(), golden(t, tt.golden)
			if string(got) != string(want) {
				t.Errorf("encode:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestPartitionKeyOrder reproduces the partition-number orders of §1.3.
func TestPartitionKeyOrder(t *testing.T) {
	seq := func(lo, hi int) []string {
		var s []string
		for i := lo; i <= hi; i++ {
			s = append(s, strconv.Itoa(i))
		}
		return s
	}
	cat := func(ss ...[]string) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s...)
		}
		return out
	}
	tests := []struct {
		name string
		n    int
		want []string
	}{
		{"3", 3, seq(0, 2)},
		{"11", 11, seq(0, 10)},
		{"12", 12, cat([]string{"11"}, seq(0, 10))},
		{"20", 20, cat(seq(11, 19), seq(0, 10))},
		{"50", 50, cat(seq(44, 49), seq(10, 19), seq(0, 9), seq(20, 43))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := scalaMutableMapOrder(seq(0, tt.n-1)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}

// TestScalaImmutableOrder checks the CHAMP order against the partition
// state keys (Kafka builds a 5-entry immutable Map, so the hash trie order
// is what zkCli shows).
func TestScalaImmutableOrder(t *testing.T) {
	tests := []struct {
		name     string
		inserted []string
		want     []string
	}{
		{"partition state", []string{"version", "leader", "leader_epoch", "controller_epoch", "isr"},
			[]string{"controller_epoch", "leader", "version", "leader_epoch", "isr"}},
		{"partition state recovering", []string{"version", "leader", "leader_epoch", "controller_epoch", "isr", "leader_recovery_state"},
			[]string{"controller_epoch", "leader", "version", "leader_recovery_state", "leader_epoch", "isr"}},
		{"small maps keep insertion order", []string{"SSL", "PLAINTEXT"}, []string{"SSL", "PLAINTEXT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := scalaImmutableMapOrder(tt.inserted); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v want %v", got, tt.want)
			}
		})
	}
}

func TestGoldenDecode(t *testing.T) {
	t.Run("broker v5", func(t *testing.T) {
		b, err := DecodeBrokerInfo(1, golden(t, "broker_v5.json"))
		if err != nil {
			t.Fatal(err)
		}
		want := BrokerInfo{ID: 1, JmxPort: -1, Timestamp: 1692025259506, Version: 5,
			Endpoints:                   []Endpoint{{"PLAINTEXT", "host1", 9092, "PLAINTEXT"}, {"SSL", "host1", 9093, "SSL"}},
			ListenerSecurityProtocolMap: []ListenerProtocol{{"PLAINTEXT", "PLAINTEXT"}, {"SSL", "SSL"}}}
		if !reflect.DeepEqual(b, want) {
			t.Errorf("got %+v\nwant %+v", b, want)
		}
		if string(b.Encode()) != string(golden(t, "broker_v5.json")) {
			t.Errorf("round trip: %s", b.Encode())
		}
	})
	t.Run("broker ipv6 and rack", func(t *testing.T) {
		b, err := DecodeBrokerInfo(1, golden(t, "broker_v5_no_plaintext.json"))
		if err != nil || b.Endpoints[0].Host != "::1" || b.Endpoints[0].Port != 9093 {
			t.Fatalf("%+v %v", b, err)
		}
		b, err = DecodeBrokerInfo(1, golden(t, "broker_v5_rack.json"))
		if err != nil || b.Rack != "rack1" || b.Endpoints[0].SecurityProtocol != "PLAINTEXT" {
			t.Fatalf("%+v %v", b, err)
		}
	})
	t.Run("broker v4 any key order", func(t *testing.T) {
		b, err := DecodeBrokerInfo(3, []byte(`{"version":4,"host":"h","port":9092,"jmx_port":-1,"timestamp":"1","endpoints":["CLIENT://h:9092","REPL://h:9093"],"listener_security_protocol_map":{"REPL":"PLAINTEXT","CLIENT":"PLAINTEXT"}}`))
		if err != nil {
			t.Fatal(err)
		}
		if e, ok := b.Endpoint("REPL"); !ok || e.Port != 9093 || e.SecurityProtocol != "PLAINTEXT" {
			t.Errorf("%+v", b)
		}
	})
	t.Run("broker v1 and v2", func(t *testing.T) {
		b, err := DecodeBrokerInfo(3, []byte(`{"jmx_port":-1,"timestamp":"1","host":"h","version":1,"port":9092}`))
		if err != nil || len(b.Endpoints) != 1 || b.Endpoints[0].Addr() != "h:9092" {
			t.Errorf("%+v %v", b, err)
		}
		b, err = DecodeBrokerInfo(3, []byte(`{"jmx_port":-1,"timestamp":"1","endpoints":["SSL://h:9093"],"host":null,"version":2,"port":-1}`))
		if err != nil || b.Endpoints[0].SecurityProtocol != "SSL" {
			t.Errorf("%+v %v", b, err)
		}
		if _, err := DecodeBrokerInfo(3, []byte(`{"version":0}`)); err == nil {
			t.Error("version 0 accepted")
		}
	})
	t.Run("topic", func(t *testing.T) {
		ta, err := DecodeTopicAssignment(golden(t, "topic_v3.json"))
		if err != nil {
			t.Fatal(err)
		}
		if UUIDString(ta.TopicID) != "cMr3GpVESX2L3byPGf93lQ" || !reflect.DeepEqual(ta.Partitions[1], []int32{3, 1, 2}) {
			t.Errorf("%+v", ta)
		}
		old, err := DecodeTopicAssignment([]byte(`{"version":1,"partitions":{"1":[2],"0":[1]}}`))
		if err != nil || len(old.AddingReplicas) != 0 || old.TopicID != ZeroUUID || len(old.Partitions) != 2 {
			t.Errorf("v1: %+v %v", old, err)
		}
	})
	t.Run("partition state", func(t *testing.T) {
		s, err := DecodePartitionState([]byte(`{"isr":[3],"leader_epoch":7,"leader_recovery_state":1,"version":1,"leader":3,"controller_epoch":5}`))
		want := PartitionState{Leader: 3, LeaderEpoch: 7, ISR: []int32{3}, ControllerEpoch: 5, LeaderRecoveryState: 1}
		if err != nil || !reflect.DeepEqual(s, want) {
			t.Errorf("%+v %v", s, err)
		}
	})
	t.Run("controller v1 and v2", func(t *testing.T) {
		for _, in := range []string{string(golden(t, "controller_v1.json")), `{"version":2,"brokerid":0,"timestamp":"1704032949256","kraftControllerEpoch":-1}`} {
			c, err := DecodeControllerInfo([]byte(in))
			if err != nil || c.BrokerID != 0 || c.Timestamp == 0 {
				t.Errorf("%s: %+v %v", in, c, err)
			}
		}
	})
	t.Run("cluster id", func(t *testing.T) {
		id, err := DecodeClusterID(golden(t, "cluster_id.json"))
		if err != nil || id != "eQzK4lYlQ9y8P21IScOl_g" {
			t.Errorf("%q %v", id, err)
		}
	})
	t.Run("config", func(t *testing.T) {
		c, err := DecodeEntityConfig(golden(t, "config_topic.json"))
		if err != nil || c.Config["retention.ms"] != "86400000" || len(c.Config) != 2 {
			t.Errorf("%+v %v", c, err)
		}
		if c, err := DecodeEntityConfig(nil); err != nil || len(c.Config) != 0 {
			t.Errorf("null data: %+v %v", c, err)
		}
	})
	t.Run("config change v1", func(t *testing.T) {
		p, err := DecodeConfigChangeNotification([]byte(`{"version":1,"entity_type":"topics","entity_name":"t"}`))
		if err != nil || p != "topics/t" {
			t.Errorf("%q %v", p, err)
		}
	})
	t.Run("producer id block", func(t *testing.T) {
		p, ok, err := DecodeProducerIDBlock(golden(t, "producer_id_block.json"))
		if err != nil || !ok || p.BlockEnd != 999 {
			t.Errorf("%+v %v %v", p, ok, err)
		}
		if _, ok, err := DecodeProducerIDBlock(nil); ok || err != nil {
			t.Errorf("null: %v %v", ok, err)
		}
	})
	t.Run("feature v1", func(t *testing.T) {
		f := FeatureZNode{Version: 1, Status: FeatureEnabled, Features: map[string]FinalizedFeature{"x": {MinVersionLevel: 1, MaxVersionLevel: 2}}}
		want := `{"features":{"x":{"max_version_level":2,"min_version_level":1}},"version":1,"status":1}`
		if got := string(f.Encode()); got != want {
			t.Errorf("got %s", got)
		}
		d, err := DecodeFeatureZNode([]byte(want))
		if err != nil || !reflect.DeepEqual(d, f) {
			t.Errorf("%+v %v", d, err)
		}
	})
}

func TestJacksonEscaping(t *testing.T) {
	var w jsonWriter
	w.str("a\"b\\c\n\t\x01é<>&")
	if want := `"a\"b\\c\n\t\u0001é<>&"`; string(w.b) != want {
		t.Errorf("got %s want %s", w.b, want)
	}
}

func TestUUID(t *testing.T) {
	for i := 0; i < 1000; i++ {
		u := NewUUID()
		s := UUIDString(u)
		if len(s) != 22 || s[0] == '-' || u == ZeroUUID {
			t.Fatalf("bad uuid %q", s)
		}
		back, err := ParseUUID(s)
		if err != nil || back != u {
			t.Fatalf("round trip %q: %v", s, err)
		}
	}
	if s := UUIDString(ZeroUUID); s != "AAAAAAAAAAAAAAAAAAAAAA" {
		t.Errorf("zero: %s", s)
	}
	for _, bad := range []string{"", "short", "cMr3GpVESX2L3byPGf93l=", "cMr3GpVESX2L3byPGf93lQQ"} {
		if _, err := ParseUUID(bad); err == nil {
			t.Errorf("ParseUUID(%q) accepted", bad)
		}
	}
}

func TestPaths(t *testing.T) {
	tests := []struct{ got, want string }{
		{BrokerIDPath(3), "/brokers/ids/3"},
		{TopicPath("t"), "/brokers/topics/t"},
		{TopicPartitionsPath("t"), "/brokers/topics/t/partitions"},
		{PartitionStatePath("t", 7), "/brokers/topics/t/partitions/7/state"},
		{ConfigTopicPath("t"), "/config/topics/t"},
		{ConfigBrokerPath(ConfigDefaultName), "/config/brokers/<default>"},
		{DeleteTopicPath("t"), "/admin/delete_topics/t"},
		{ControllerPath, "/controller"},
		{ControllerEpochPath, "/controller_epoch"},
		{ClusterIDPath, "/cluster/id"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %s want %s", tt.got, tt.want)
		}
	}
	want := []string{"/consumers", "/brokers/ids", "/brokers/topics", "/config/changes", "/admin/delete_topics",
		"/brokers/seqid", "/isr_change_notification", "/latest_producer_id_block", "/log_dir_event_notification",
		"/config/topics", "/config/clients", "/config/users", "/config/brokers", "/config/ips"}
	if got := PersistentPaths(); !reflect.DeepEqual(got, want) {
		t.Errorf("PersistentPaths = %v", got)
	}
}

func TestParseConnectString(t *testing.T) {
	tests := []struct {
		in      string
		servers []string
		chroot  string
		err     bool
	}{
		{"h1:2181", []string{"h1:2181"}, "", false},
		{"h1:2181,h2:2182/kafka", []string{"h1:2181", "h2:2182"}, "/kafka", false},
		{"h1:2181/a/b/", []string{"h1:2181"}, "/a/b", false},
		{"h1:2181/", []string{"h1:2181"}, "", false},
		{"/kafka", nil, "", true},
	}
	for _, tt := range tests {
		s, c, err := ParseConnectString(tt.in)
		if (err != nil) != tt.err || !reflect.DeepEqual(s, tt.servers) || c != tt.chroot {
			t.Errorf("%q: %v %q %v", tt.in, s, c, err)
		}
	}
}
