package config

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// required is the least a valid server.properties holds.
func required() map[string]string {
	return map[string]string{"broker.id": "0", "zookeeper.connect": "127.0.0.1:2181"}
}

// with returns required() plus kv pairs.
func with(kv ...string) map[string]string {
	p := required()
	for i := 0; i < len(kv); i += 2 {
		p[kv[i]] = kv[i+1]
	}
	return p
}

func mustParse(t *testing.T, props map[string]string) *Config {
	t.Helper()
	c, warnings, err := Parse(props)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(warnings) > 0 {
		t.Fatalf("Parse warnings: %q", warnings)
	}
	return c
}

func TestDefault(t *testing.T) {
	c := Default()
	checks := []struct {
		name      string
		got, want any
	}{
		{"BrokerID", c.BrokerID, int32(-1)},
		{"ZookeeperConnect", c.ZookeeperConnect, ""},
		{"Listeners", c.Listeners, []Listener{{Name: "PLAINTEXT", Port: 9092}}},
		{"AdvertisedListeners", c.AdvertisedListeners, []Listener{{Name: "PLAINTEXT", Port: 9092}}},
		{"ListenerSecurityProtocolMap", c.ListenerSecurityProtocolMap, map[string]string{
			"PLAINTEXT": "PLAINTEXT", "SSL": "SSL", "SASL_PLAINTEXT": "SASL_PLAINTEXT", "SASL_SSL": "SASL_SSL"}},
		{"InterBrokerListenerName", c.InterBrokerListenerName, "PLAINTEXT"},
		{"LogDirs", c.LogDirs, []string{"/tmp/kafka-logs"}},
		{"ZookeeperSessionTimeout", c.ZookeeperSessionTimeout, 18 * time.Second},
		{"ZookeeperConnectionTimeout", c.ZookeeperConnectionTimeout, 18 * time.Second},
		{"NumPartitions", c.NumPartitions, int32(1)},
		{"DefaultReplicationFactor", c.DefaultReplicationFactor, int16(1)},
		{"MinInsyncReplicas", c.MinInsyncReplicas, int32(1)},
		{"AutoCreateTopicsEnable", c.AutoCreateTopicsEnable, true},
		{"DeleteTopicEnable", c.DeleteTopicEnable, true},
		{"UncleanLeaderElectionEnable", c.UncleanLeaderElectionEnable, false},
		{"MessageMaxBytes", c.MessageMaxBytes, int32(1048588)},
		{"SocketRequestMaxBytes", c.SocketRequestMaxBytes, int32(104857600)},
		{"SocketSendBufferBytes", c.SocketSendBufferBytes, int32(102400)},
		{"SocketReceiveBufferBytes", c.SocketReceiveBufferBytes, int32(102400)},
		{"RequestTimeout", c.RequestTimeout, 30 * time.Second},
		{"ConnectionsMaxIdle", c.ConnectionsMaxIdle, 10 * time.Minute},
		{"BrokerRack", c.BrokerRack, ""},
		{"LogSegmentBytes", c.LogSegmentBytes, int64(1 << 30)},
		{"LogRollMs", c.LogRollMs, int64(168 * 3600 * 1000)},
		{"LogRollJitterMs", c.LogRollJitterMs, int64(0)},
		{"LogIndexSizeMaxBytes", c.LogIndexSizeMaxBytes, int32(10485760)},
		{"LogIndexIntervalBytes", c.LogIndexIntervalBytes, int32(4096)},
		{"LogRetentionMs", c.LogRetentionMs, int64(168 * 3600 * 1000)},
		{"LogRetentionBytes", c.LogRetentionBytes, int64(-1)},
		{"LogRetentionCheckInterval", c.LogRetentionCheckInterval, 5 * time.Minute},
		{"LogFlushIntervalMessages", c.LogFlushIntervalMessages, int64(math.MaxInt64)},
		{"LogFlushIntervalMs", c.LogFlushIntervalMs, int64(math.MaxInt64)},
		{"LogFlushSchedulerInterval", c.LogFlushSchedulerInterval, time.Duration(math.MaxInt64)},
		{"LogFlushOffsetCheckpointInterval", c.LogFlushOffsetCheckpointInterval, time.Minute},
		{"LogFlushStartOffsetCheckpointInterval", c.LogFlushStartOffsetCheckpointInterval, time.Minute},
		{"LogCleanupPolicy", c.LogCleanupPolicy, "delete"},
		{"LogMessageTimestampType", c.LogMessageTimestampType, "CreateTime"},
		{"LogMessageTimestampDifferenceMaxMs", c.LogMessageTimestampDifferenceMaxMs, int64(math.MaxInt64)},
		{"LogSegmentDeleteDelayMs", c.LogSegmentDeleteDelayMs, int64(60000)},
		{"NumRecoveryThreadsPerDataDir", c.NumRecoveryThreadsPerDataDir, 1},
		{"LogCleanerEnable", c.LogCleanerEnable, true},
		{"LogCleanerMinCleanableRatio", c.LogCleanerMinCleanableRatio, 0.5},
		{"LogCleanerDeleteRetentionMs", c.LogCleanerDeleteRetentionMs, int64(86400000)},
		{"LogCleanerMaxCompactionLagMs", c.LogCleanerMaxCompactionLagMs, int64(math.MaxInt64)},
		{"NumNetworkThreads", c.NumNetworkThreads, 3},
		{"NumIoThreads", c.NumIoThreads, 8},
		{"ReplicaLagTimeMax", c.ReplicaLagTimeMax, 30 * time.Second},
		{"ReplicaFetchMaxBytes", c.ReplicaFetchMaxBytes, int32(1048576)},
		{"ReplicaFetchResponseMaxBytes", c.ReplicaFetchResponseMaxBytes, int32(10485760)},
		{"ReplicaFetchWaitMax", c.ReplicaFetchWaitMax, 500 * time.Millisecond},
		{"ReplicaFetchMinBytes", c.ReplicaFetchMinBytes, int32(1)},
		{"ReplicaFetchBackoff", c.ReplicaFetchBackoff, time.Second},
		{"ReplicaSocketTimeout", c.ReplicaSocketTimeout, 30 * time.Second},
		{"NumReplicaFetchers", c.NumReplicaFetchers, 1},
		{"ReplicaHighWatermarkCheckpointInterval", c.ReplicaHighWatermarkCheckpointInterval, 5 * time.Second},
		{"FetchMaxBytes", c.FetchMaxBytes, int32(57671680)},
		{"ControllerSocketTimeout", c.ControllerSocketTimeout, 30 * time.Second},
		{"ControlledShutdownEnable", c.ControlledShutdownEnable, true},
		{"ControlledShutdownMaxRetries", c.ControlledShutdownMaxRetries, 3},
		{"ControlledShutdownRetryBackoff", c.ControlledShutdownRetryBackoff, 5 * time.Second},
		{"AutoLeaderRebalanceEnable", c.AutoLeaderRebalanceEnable, true},
		{"LeaderImbalancePerBrokerPercentage", c.LeaderImbalancePerBrokerPercentage, 10},
		{"LeaderImbalanceCheckInterval", c.LeaderImbalanceCheckInterval, 5 * time.Minute},
		{"OffsetsTopicNumPartitions", c.OffsetsTopicNumPartitions, int32(50)},
		{"OffsetsTopicReplicationFactor", c.OffsetsTopicReplicationFactor, int16(3)},
		{"OffsetsTopicSegmentBytes", c.OffsetsTopicSegmentBytes, int32(104857600)},
		{"OffsetsRetention", c.OffsetsRetention, 7 * 24 * time.Hour},
		{"GroupInitialRebalanceDelay", c.GroupInitialRebalanceDelay, 3 * time.Second},
		{"GroupMinSessionTimeout", c.GroupMinSessionTimeout, 6 * time.Second},
		{"GroupMaxSessionTimeout", c.GroupMaxSessionTimeout, 30 * time.Minute},
		{"GroupMaxSize", c.GroupMaxSize, int32(math.MaxInt32)},
		{"TransactionStateLogNumPartitions", c.TransactionStateLogNumPartitions, int32(50)},
		{"TransactionStateLogReplicationFactor", c.TransactionStateLogReplicationFactor, int16(3)},
		{"TransactionStateLogMinIsr", c.TransactionStateLogMinIsr, int32(2)},
		{"TransactionMaxTimeout", c.TransactionMaxTimeout, 15 * time.Minute},
		{"ProducerIDExpiration", c.ProducerIDExpiration, 24 * time.Hour},
		{"CompressionType", c.CompressionType, "producer"},
		{"LogLevel", c.LogLevel, "info"},
		{"Raw", c.Raw, map[string]string{}},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}
}

func TestKeyTable(t *testing.T) {
	types := []string{typeInt, typeShort, typeLong, typeDouble, typeBoolean, typeString, typeList}
	for _, k := range Keys() {
		t.Run(k.Name, func(t *testing.T) {
			if !slices.Contains(types, k.Type) {
				t.Errorf("type %q is not a Kafka ConfigDef type", k.Type)
			}
			if k.Doc == "" || !strings.HasSuffix(k.Doc, ".") {
				t.Errorf("doc %q must be a sentence", k.Doc)
			}
			if k.Default == "" || k.Required {
				return
			}
			// Every default passes its own key's validation.
			if err := keyIndex[k.Name].check(k.Default); err != nil {
				t.Errorf("default does not validate: %v", err)
			}
		})
	}
}

func TestParseRequiredOnly(t *testing.T) {
	c := mustParse(t, required())
	if c.BrokerID != 0 || c.ZookeeperConnect != "127.0.0.1:2181" {
		t.Fatalf("BrokerID %d, ZookeeperConnect %q", c.BrokerID, c.ZookeeperConnect)
	}
	want := Default()
	want.BrokerID = 0
	want.ZookeeperConnect, want.ZookeeperServers = "127.0.0.1:2181", []string{"127.0.0.1:2181"}
	want.Raw = required()
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		props map[string]string
		want  string
	}{
		{"segment too small", with("log.segment.bytes", "3"), "log.segment.bytes: must be >= 14, got 3"},
		{"value is trimmed", with("log.segment.bytes", "  3 \t"), "log.segment.bytes: must be >= 14, got 3"},
		{"broker.id missing", map[string]string{"zookeeper.connect": "zk:2181"}, "broker.id: must be set (Gregor does not generate broker ids)"},
		{"broker.id empty", map[string]string{"broker.id": " ", "zookeeper.connect": "zk:2181"}, "broker.id: must be set (Gregor does not generate broker ids)"},
		{"broker.id -1", with("broker.id", "-1"), "broker.id: must be >= 0, got -1"},
		{"broker.id not a number", with("broker.id", "one"), "broker.id: must be a 32-bit integer, got one"},
		{"broker.id too big", with("broker.id", "2147483648"), "broker.id: must be a 32-bit integer, got 2147483648"},
		{"zookeeper.connect missing", map[string]string{"broker.id": "1"}, "zookeeper.connect: must be set"},
		{"zookeeper.connect bad port", with("zookeeper.connect", "zk:21x81"), `zookeeper.connect: server "zk:21x81": port must be in [1, 65535], got zk:21x81`},
		{"zookeeper.connect empty server", with("zookeeper.connect", "a:1,,b:2"), "zookeeper.connect: must be a comma-separated list of host:port with an optional /chroot, got a:1,,b:2"},
		{"zookeeper.connect bad chroot", with("zookeeper.connect", "zk:2181/kafka/"), "zookeeper.connect: chroot must not end with '/', got zk:2181/kafka/"},
		{"int empty", with("num.partitions", ""), `num.partitions: must be a 32-bit integer, got ""`},
		{"short overflow", with("offsets.topic.replication.factor", "40000"), "offsets.topic.replication.factor: must be a 16-bit integer, got 40000"},
		{"long garbage", with("log.retention.bytes", "1GB"), "log.retention.bytes: must be a 64-bit integer, got 1GB"},
		{"boolean", with("auto.create.topics.enable", "yes"), "auto.create.topics.enable: must be true or false, got yes"},
		{"double", with("log.cleaner.min.cleanable.ratio", "half"), "log.cleaner.min.cleanable.ratio: must be a number, got half"},
		{"double range", with("log.cleaner.min.cleanable.ratio", "1.5"), "log.cleaner.min.cleanable.ratio: must be in [0, 1], got 1.5"},
		{"cleanup policy", with("log.cleanup.policy", "delete,foo"), `log.cleanup.policy: "foo" is not one of delete, compact, got delete,foo`},
		{"cleanup policy empty", with("log.cleanup.policy", ""), `log.cleanup.policy: must list at least one of delete, compact, got ""`},
		{"timestamp type", with("log.message.timestamp.type", "createtime"), "log.message.timestamp.type: must be one of CreateTime, LogAppendTime, got createtime"},
		{"log.level", with("log.level", "verbose"), "log.level: must be one of trace, debug, info, warn, error, got verbose"},
		{"replication factor range", with("default.replication.factor", "0"), "default.replication.factor: must be in [1, 32767], got 0"},
		{"retention zero", with("log.retention.hours", "0"), "log.retention.hours: must be -1 (unlimited) or >= 1, got 0"},
		{"retention ms zero wins", with("log.retention.ms", "0", "log.retention.hours", "5"), "log.retention.ms: must be -1 (unlimited) or >= 1, got 0"},
		{"listener syntax", with("listeners", "localhost:9092"), `listeners: listener "localhost:9092" must look like NAME://host:port, got localhost:9092`},
		{"listener port", with("listeners", "PLAINTEXT://:70000"), `listeners: listener "PLAINTEXT://:70000": port must be in [0, 65535], got PLAINTEXT://:70000`},
		{"listener duplicate name", with("listeners", "PLAINTEXT://:1,plaintext://:2"), "listeners: listener name PLAINTEXT is used twice; each listener must have a different name, got PLAINTEXT://:1,plaintext://:2"},
		{"listener duplicate port", with("listeners", "A://:1,B://:1", "listener.security.protocol.map", "A:PLAINTEXT,B:PLAINTEXT", "inter.broker.listener.name", "A"),
			"listeners: listeners A and B both use port 1; each listener must have a different port, got A://:1,B://:1"},
		{"listener empty", with("listeners", " "), `listeners: must list at least one listener, got ""`},
		{"ssl listener", with("listeners", "SSL://:9093"), "listeners: listener SSL uses security protocol SSL; only PLAINTEXT is supported, got SSL://:9093"},
		{"listener mapped to sasl", with("listeners", "PLAINTEXT://:9092", "listener.security.protocol.map", "PLAINTEXT:SASL_PLAINTEXT"),
			"listener.security.protocol.map: listener PLAINTEXT uses security protocol SASL_PLAINTEXT; only PLAINTEXT is supported, got PLAINTEXT:SASL_PLAINTEXT"},
		{"listener not in map", with("listeners", "INTERNAL://:9092"), "listener.security.protocol.map: no security protocol defined for listener INTERNAL, got PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL"},
		{"map syntax", with("listener.security.protocol.map", "PLAINTEXT"), `listener.security.protocol.map: entry "PLAINTEXT" must look like LISTENER_NAME:SECURITY_PROTOCOL, got PLAINTEXT`},
		{"map protocol", with("listener.security.protocol.map", "PLAINTEXT:TLS"), `listener.security.protocol.map: entry "PLAINTEXT:TLS": security protocol must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL, got PLAINTEXT:TLS`},
		{"advertised not a listener", with("advertised.listeners", "OTHER://h:1"), "advertised.listeners: listener OTHER is not in listeners; advertised listener names must be a subset of listeners, got OTHER://h:1"},
		{"advertised 0.0.0.0", with("advertised.listeners", "PLAINTEXT://0.0.0.0:9092"), "advertised.listeners: listener PLAINTEXT must not advertise the non-routable address 0.0.0.0, got PLAINTEXT://0.0.0.0:9092"},
		{"inter broker default missing", with("listeners", "INTERNAL://:9092", "listener.security.protocol.map", "INTERNAL:PLAINTEXT"),
			"inter.broker.listener.name: must be one of the advertised listeners (INTERNAL); when unset it is security.inter.broker.protocol, got PLAINTEXT"},
		{"inter broker unknown", with("inter.broker.listener.name", "replication"), "inter.broker.listener.name: must be one of the advertised listeners (PLAINTEXT), got REPLICATION"},
		{"inter broker both", with("inter.broker.listener.name", "PLAINTEXT", "security.inter.broker.protocol", "PLAINTEXT"), "inter.broker.listener.name: must not be set together with security.inter.broker.protocol, got PLAINTEXT"},
		{"inter broker protocol", with("security.inter.broker.protocol", "SSL"), "security.inter.broker.protocol: must be one of PLAINTEXT, got SSL"},
		{"log.dirs empty", with("log.dirs", " , "), "log.dirs: must name at least one directory, got ,"},
		{"log.dir empty", with("log.dir", ""), `log.dir: must name at least one directory, got ""`},
		{"log.dirs duplicate", with("log.dirs", "/a,/b,/a/"), "log.dirs: directory /a/ is listed twice, got /a,/b,/a/"},
		{"fetch wait over socket timeout", with("replica.fetch.wait.max.ms", "40000", "replica.lag.time.max.ms", "60000"), "replica.fetch.wait.max.ms: must be <= replica.socket.timeout.ms (30000), got 40000"},
		{"fetch wait over lag time", with("replica.fetch.wait.max.ms", "2000", "replica.lag.time.max.ms", "1000"), "replica.fetch.wait.max.ms: must be <= replica.lag.time.max.ms (1000), got 2000"},
		{"first error in table order", with("broker.id", "-5", "log.segment.bytes", "1"), "broker.id: must be >= 0, got -5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := Parse(tt.props)
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", c)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a *ConfigError", err)
			}
		})
	}
}

// badValue derives a value each validator must refuse from its description.
func badValue(t *testing.T, k Key) string {
	t.Helper()
	if m := regexp.MustCompile(`^>= (-?\d+)$`).FindStringSubmatch(k.Valid); m != nil {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		return strconv.FormatInt(n-1, 10)
	}
	if m := regexp.MustCompile(`^\[(-?[\d.]+), (-?[\d.]+)\]$`).FindStringSubmatch(k.Valid); m != nil {
		if k.Type == typeDouble {
			return m[2] + "1" // 1 -> 11
		}
		hi, _ := strconv.ParseInt(m[2], 10, 64)
		return strconv.FormatInt(hi+1, 10)
	}
	switch k.Name {
	case "listeners", "advertised.listeners":
		return "PLAINTEXT//:9092"
	case "listener.security.protocol.map":
		return "PLAINTEXT=PLAINTEXT"
	case "zookeeper.connect":
		return "zk:notaport"
	}
	if strings.HasPrefix(k.Valid, "one of ") || strings.HasPrefix(k.Valid, "non-empty list of ") {
		return "bogus"
	}
	t.Fatalf("no bad value known for validator %q", k.Valid)
	return ""
}

// TestEveryValidator feeds every key a value of the wrong type and every
// validator a value it must refuse.
func TestEveryValidator(t *testing.T) {
	for _, k := range Keys() {
		t.Run(k.Name, func(t *testing.T) {
			if k.Type != typeString && k.Type != typeList {
				_, _, err := Parse(with(k.Name, "x1"))
				var ce *ConfigError
				if !errors.As(err, &ce) || ce.Key != k.Name || ce.Value != "x1" || !strings.HasPrefix(ce.Reason, "must be ") {
					t.Errorf("type check: got %v", err)
				}
			}
			if k.Valid == "" {
				return
			}
			bad := badValue(t, k)
			_, _, err := Parse(with(k.Name, bad))
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Key != k.Name || ce.Value != bad {
				t.Fatalf("%s=%s: got %v, want a ConfigError for the key", k.Name, bad, err)
			}
			if want := k.Name + ": " + ce.Reason + ", got " + bad; err.Error() != want {
				t.Errorf("got %q, want %q", err, want)
			}
		})
	}
}

func TestParseValues(t *testing.T) {
	tests := []struct {
		name  string
		props map[string]string
		check func(*Config) any // returns the observed value
		want  any
	}{
		{"listeners and advertised default", with("listeners", "plaintext://127.0.0.1:9092 , PLAINTEXT2://[::1]:0", "listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,plaintext2:plaintext"),
			func(c *Config) any { return [][]Listener{c.Listeners, c.AdvertisedListeners} },
			[][]Listener{
				{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 9092}, {Name: "PLAINTEXT2", Host: "::1", Port: 0}},
				{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 9092}, {Name: "PLAINTEXT2", Host: "::1", Port: 0}},
			}},
		{"advertised subset", with("listeners", "PLAINTEXT://:9092", "advertised.listeners", "PLAINTEXT://localhost:9092"),
			func(c *Config) any { return c.AdvertisedListeners }, []Listener{{Name: "PLAINTEXT", Host: "localhost", Port: 9092}}},
		{"listener address", with("listeners", "PLAINTEXT://[::1]:9092"),
			func(c *Config) any { return c.Listeners[0].Address() + " " + c.Listeners[0].String() }, "[::1]:9092 PLAINTEXT://[::1]:9092"},
		{"inter broker listener", with("listeners", "INTERNAL://:9093,EXTERNAL://:9092", "listener.security.protocol.map", "INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT", "inter.broker.listener.name", "internal"),
			func(c *Config) any { return c.InterBrokerListenerName }, "INTERNAL"},
		{"zookeeper chroot", with("zookeeper.connect", "h1:2181, h2:2182,[::1]:2183,h4/kafka/a"),
			func(c *Config) any { return []any{c.ZookeeperServers, c.ZookeeperChroot} },
			[]any{[]string{"h1:2181", "h2:2182", "[::1]:2183", "h4:2181"}, "/kafka/a"}},
		{"zookeeper root chroot", with("zookeeper.connect", "h1:2181/"),
			func(c *Config) any { return []any{c.ZookeeperServers, c.ZookeeperChroot} }, []any{[]string{"h1:2181"}, ""}},
		{"zookeeper connection timeout follows session", with("zookeeper.session.timeout.ms", "6000"),
			func(c *Config) any { return c.ZookeeperConnectionTimeout }, 6 * time.Second},
		{"zookeeper connection timeout", with("zookeeper.connection.timeout.ms", "1000"),
			func(c *Config) any { return c.ZookeeperConnectionTimeout }, time.Second},
		{"log.dirs", with("log.dirs", " data/a, data/b ,", "log.dir", "/x"),
			func(c *Config) any { return c.LogDirs }, []string{"data/a", "data/b"}},
		{"log.dir", with("log.dir", "/x"), func(c *Config) any { return c.LogDirs }, []string{"/x"}},
		{"retention hours", with("log.retention.hours", "1"), func(c *Config) any { return c.LogRetentionMs }, int64(3_600_000)},
		{"retention minutes over hours", with("log.retention.hours", "1", "log.retention.minutes", "2"), func(c *Config) any { return c.LogRetentionMs }, int64(120_000)},
		{"retention ms over minutes", with("log.retention.ms", "5", "log.retention.minutes", "2"), func(c *Config) any { return c.LogRetentionMs }, int64(5)},
		{"retention negative is forever", with("log.retention.hours", "-7"), func(c *Config) any { return c.LogRetentionMs }, int64(-1)},
		{"roll hours", with("log.roll.hours", "2"), func(c *Config) any { return c.LogRollMs }, int64(7_200_000)},
		{"roll ms over hours", with("log.roll.hours", "2", "log.roll.ms", "100"), func(c *Config) any { return c.LogRollMs }, int64(100)},
		{"jitter hours", with("log.roll.jitter.hours", "1"), func(c *Config) any { return c.LogRollJitterMs }, int64(3_600_000)},
		{"jitter ms", with("log.roll.jitter.hours", "1", "log.roll.jitter.ms", "7"), func(c *Config) any { return c.LogRollJitterMs }, int64(7)},
		{"flush ms from scheduler", with("log.flush.scheduler.interval.ms", "2000"),
			func(c *Config) any { return []any{c.LogFlushIntervalMs, c.LogFlushSchedulerInterval} }, []any{int64(2000), 2 * time.Second}},
		{"flush ms", with("log.flush.interval.ms", "10"), func(c *Config) any { return c.LogFlushIntervalMs }, int64(10)},
		{"cleanup policy normalised", with("log.cleanup.policy", " compact , delete "), func(c *Config) any { return c.LogCleanupPolicy }, "compact,delete"},
		{"boolean case", with("delete.topic.enable", "FALSE"), func(c *Config) any { return c.DeleteTopicEnable }, false},
		{"log level case", with("log.level", "DEBUG"), func(c *Config) any { return c.LogLevel }, "debug"},
		{"plus sign", with("num.partitions", "+3"), func(c *Config) any { return c.NumPartitions }, int32(3)},
		{"negative idle", with("connections.max.idle.ms", "-1"), func(c *Config) any { return c.ConnectionsMaxIdle }, -time.Millisecond},
		{"imbalance interval", with("leader.imbalance.check.interval.seconds", "7"), func(c *Config) any { return c.LeaderImbalanceCheckInterval }, 7 * time.Second},
		{"imbalance interval saturates", with("leader.imbalance.check.interval.seconds", longMax), func(c *Config) any { return c.LeaderImbalanceCheckInterval }, time.Duration(math.MaxInt64)},
		{"rack", with("broker.rack", " rack-1 "), func(c *Config) any { return c.BrokerRack }, "rack-1"},
		{"raw keeps every key, trimmed", with("num.partitions", " 4 "), func(c *Config) any { return c.Raw["num.partitions"] }, "4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.props)
			if got := tt.check(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestUnknownKeysWarn(t *testing.T) {
	c, warnings, err := Parse(with("zeta.key", "1", "alpha.key", "", "num.partitions", "2"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"alpha.key: unknown key, ignored", "zeta.key: unknown key, ignored"}
	if !slices.Equal(warnings, want) {
		t.Errorf("warnings %q, want %q", warnings, want)
	}
	if c.Raw["zeta.key"] != "1" || c.NumPartitions != 2 {
		t.Errorf("Raw %v, NumPartitions %d", c.Raw, c.NumPartitions)
	}
}

func TestLoadWithOverrides(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.properties")
	file := "broker.id=0\nzookeeper.connect=zk:2181\nnum.partitions=3\nlog.dirs=/a\n"
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		overrides []string
		wantErr   string
		check     func(*Config) bool
	}{
		{name: "none", check: func(c *Config) bool { return c.NumPartitions == 3 && c.LogDirs[0] == "/a" }},
		{name: "override wins", overrides: []string{"num.partitions=5", "broker.id=7"},
			check: func(c *Config) bool { return c.NumPartitions == 5 && c.BrokerID == 7 }},
		{name: "later override wins", overrides: []string{"num.partitions=5", "num.partitions=6"},
			check: func(c *Config) bool { return c.NumPartitions == 6 }},
		{name: "value keeps later equals", overrides: []string{"zookeeper.connect=zk:2181/a=b"},
			check: func(c *Config) bool { return c.ZookeeperChroot == "/a=b" }},
		{name: "new key", overrides: []string{" log.level = debug"},
			check: func(c *Config) bool { return c.LogLevel == "debug" }},
		{name: "bad override value", overrides: []string{"log.segment.bytes=3"}, wantErr: "log.segment.bytes: must be >= 14, got 3"},
		{name: "no equals", overrides: []string{"num.partitions"}, wantErr: "--override: must be key=value, got num.partitions"},
		{name: "empty key", overrides: []string{"=3"}, wantErr: "--override: must be key=value, got =3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := Load(path, tt.overrides)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("got error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("unexpected config %+v", c)
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		_, _, err := Load(filepath.Join(t.TempDir(), "nope.properties"), nil)
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("got %v, want ErrNotExist", err)
		}
	})
	t.Run("malformed file", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.properties")
		if err := os.WriteFile(bad, []byte("a=\\u00"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := Load(bad, nil)
		if err == nil || !strings.HasSuffix(err.Error(), `bad.properties: line 1: malformed \uxxxx encoding`) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("overrides do not modify the input", func(t *testing.T) {
		in := map[string]string{"a": "1"}
		out, err := ApplyOverrides(in, []string{"a=2"})
		if err != nil || in["a"] != "1" || out["a"] != "2" {
			t.Errorf("in %v, out %v, err %v", in, out, err)
		}
	})
}

// TestKafkaStockProperties parses server.properties as shipped with Kafka,
// and again with every commented-out key enabled: no warnings, no errors.
func TestKafkaStockProperties(t *testing.T) {
	files, _ := filepath.Glob("testdata/kafka-*-server.properties")
	if len(files) == 0 {
		t.Fatal("no testdata/kafka-*-server.properties")
	}
	commented := regexp.MustCompile(`(?m)^#([a-z][a-z0-9.]*=)`)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, variant := range []string{"stock", "uncommented"} {
			t.Run(filepath.Base(f)+"/"+variant, func(t *testing.T) {
				text := string(data)
				if variant == "uncommented" {
					text = commented.ReplaceAllString(text, "$1")
					text = strings.ReplaceAll(text, "your.host.name", "localhost")
				}
				props, err := ParseProperties(strings.NewReader(text))
				if err != nil {
					t.Fatal(err)
				}
				c := mustParse(t, props)
				if c.BrokerID != 0 || c.ZookeeperConnect != "localhost:2181" || !slices.Equal(c.LogDirs, []string{"/tmp/kafka-logs"}) {
					t.Errorf("BrokerID %d, ZookeeperConnect %q, LogDirs %q", c.BrokerID, c.ZookeeperConnect, c.LogDirs)
				}
				if variant == "uncommented" && (c.LogFlushIntervalMessages != 10000 || c.AdvertisedListeners[0].Host != "localhost") {
					t.Errorf("commented keys not applied: %+v", c)
				}
			})
		}
	}
}

func TestRepoSampleProperties(t *testing.T) {
	c, warnings, err := Load("../../config/server.properties", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 {
		t.Errorf("warnings: %q", warnings)
	}
	want := []any{int32(0), "PLAINTEXT://127.0.0.1:9092", "PLAINTEXT://localhost:9092", []string{"data/kafka-logs"}, "127.0.0.1:2181",
		int16(1), int16(1), int32(1), time.Duration(0)}
	got := []any{c.BrokerID, c.Listeners[0].String(), c.AdvertisedListeners[0].String(), c.LogDirs, c.ZookeeperConnect,
		c.OffsetsTopicReplicationFactor, c.TransactionStateLogReplicationFactor, c.TransactionStateLogMinIsr, c.GroupInitialRebalanceDelay}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestClone(t *testing.T) {
	c := mustParse(t, required())
	d := c.Clone()
	d.Listeners[0].Port = 1
	d.AdvertisedListeners[0].Port = 1
	d.ListenerSecurityProtocolMap["X"] = "Y"
	d.LogDirs[0] = "/other"
	d.ZookeeperServers[0] = "other:1"
	d.Raw["broker.id"] = "9"
	if !reflect.DeepEqual(c, mustParse(t, required())) {
		t.Errorf("Clone shares state with the original: %+v", c)
	}
}

func TestMsDuration(t *testing.T) {
	tests := []struct {
		ms   int64
		want time.Duration
	}{
		{0, 0},
		{1500, 1500 * time.Millisecond},
		{-1, -time.Millisecond},
		{math.MaxInt64, math.MaxInt64},
		{math.MinInt64, math.MinInt64},
		{math.MaxInt64 / int64(time.Millisecond), time.Duration(math.MaxInt64 / int64(time.Millisecond) * int64(time.Millisecond))},
	}
	for _, tt := range tests {
		if got := msDuration(tt.ms); got != tt.want {
			t.Errorf("msDuration(%d) = %v, want %v", tt.ms, got, tt.want)
		}
	}
}
