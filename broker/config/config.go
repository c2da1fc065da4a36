package config

import (
	"fmt"
	"maps"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config is a broker's configuration, parsed once at start-up and passed down
// explicitly. Treat it as read-only: it is shared between goroutines without
// locks (use Clone to derive a modified copy, for example in tests).
//
// Each field carries the Kafka key it comes from; docs/configuration.md has
// the meaning and default of every key. Durations come from *.ms keys (or the
// key named), and saturate at the largest time.Duration for Kafka's
// Long.MAX_VALUE defaults.
type Config struct {
	BrokerID int32 // broker.id, >= 0 (Gregor does not generate ids)

	Listeners                   []Listener        // listeners
	AdvertisedListeners         []Listener        // advertised.listeners (default: Listeners); an empty host or port 0 is filled in by the caller
	ListenerSecurityProtocolMap map[string]string // listener.security.protocol.map; every listener maps to PLAINTEXT
	InterBrokerListenerName     string            // inter.broker.listener.name, or security.inter.broker.protocol; names an advertised listener

	LogDirs []string // log.dirs, else log.dir

	ZookeeperConnect           string        // zookeeper.connect as given, "h1:2181,h2:2181/chroot"
	ZookeeperServers           []string      // zookeeper.connect servers as host:port (port defaults to 2181)
	ZookeeperChroot            string        // zookeeper.connect chroot, "" for none, else "/path"
	ZookeeperSessionTimeout    time.Duration // zookeeper.session.timeout.ms
	ZookeeperConnectionTimeout time.Duration // zookeeper.connection.timeout.ms (default: session timeout)

	NumPartitions               int32  // num.partitions
	DefaultReplicationFactor    int16  // default.replication.factor
	MinInsyncReplicas           int32  // min.insync.replicas
	AutoCreateTopicsEnable      bool   // auto.create.topics.enable
	DeleteTopicEnable           bool   // delete.topic.enable
	UncleanLeaderElectionEnable bool   // unclean.leader.election.enable
	MessageMaxBytes             int32  // message.max.bytes
	CompressionType             string // compression.type (only producer is implemented)

	SocketRequestMaxBytes    int32         // socket.request.max.bytes
	SocketSendBufferBytes    int32         // socket.send.buffer.bytes (-1: OS default)
	SocketReceiveBufferBytes int32         // socket.receive.buffer.bytes (-1: OS default)
	RequestTimeout           time.Duration // request.timeout.ms
	ConnectionsMaxIdle       time.Duration // connections.max.idle.ms (negative: never)
	BrokerRack               string        // broker.rack

	LogSegmentBytes                       int64         // log.segment.bytes
	LogRollMs                             int64         // log.roll.ms, else log.roll.hours
	LogRollJitterMs                       int64         // log.roll.jitter.ms, else log.roll.jitter.hours
	LogIndexSizeMaxBytes                  int32         // log.index.size.max.bytes
	LogIndexIntervalBytes                 int32         // log.index.interval.bytes
	LogRetentionMs                        int64         // log.retention.ms, else .minutes, else .hours; -1 = forever
	LogRetentionBytes                     int64         // log.retention.bytes; -1 = unlimited
	LogRetentionCheckInterval             time.Duration // log.retention.check.interval.ms
	LogFlushIntervalMessages              int64         // log.flush.interval.messages
	LogFlushIntervalMs                    int64         // log.flush.interval.ms, else log.flush.scheduler.interval.ms
	LogFlushSchedulerInterval             time.Duration // log.flush.scheduler.interval.ms
	LogFlushOffsetCheckpointInterval      time.Duration // log.flush.offset.checkpoint.interval.ms
	LogFlushStartOffsetCheckpointInterval time.Duration // log.flush.start.offset.checkpoint.interval.ms
	LogCleanupPolicy                      string        // log.cleanup.policy: "delete", "compact" or "compact,delete" (items trimmed, in the order given)
	LogMessageTimestampType               string        // log.message.timestamp.type: CreateTime or LogAppendTime
	LogMessageTimestampDifferenceMaxMs    int64         // log.message.timestamp.difference.max.ms
	LogSegmentDeleteDelayMs               int64         // log.segment.delete.delay.ms
	NumRecoveryThreadsPerDataDir          int           // num.recovery.threads.per.data.dir

	LogCleanerEnable             bool          // log.cleaner.enable
	LogCleanerThreads            int           // log.cleaner.threads
	LogCleanerBackoff            time.Duration // log.cleaner.backoff.ms
	LogCleanerMinCleanableRatio  float64       // log.cleaner.min.cleanable.ratio
	LogCleanerDeleteRetentionMs  int64         // log.cleaner.delete.retention.ms
	LogCleanerMinCompactionLagMs int64         // log.cleaner.min.compaction.lag.ms
	LogCleanerMaxCompactionLagMs int64         // log.cleaner.max.compaction.lag.ms

	NumNetworkThreads, NumIoThreads int // num.network.threads, num.io.threads: accepted for compatibility, unused

	ReplicaLagTimeMax                      time.Duration // replica.lag.time.max.ms
	ReplicaFetchMaxBytes                   int32         // replica.fetch.max.bytes
	ReplicaFetchResponseMaxBytes           int32         // replica.fetch.response.max.bytes
	ReplicaFetchWaitMax                    time.Duration // replica.fetch.wait.max.ms
	ReplicaFetchMinBytes                   int32         // replica.fetch.min.bytes
	ReplicaFetchBackoff                    time.Duration // replica.fetch.backoff.ms
	ReplicaSocketTimeout                   time.Duration // replica.socket.timeout.ms
	NumReplicaFetchers                     int           // num.replica.fetchers
	ReplicaHighWatermarkCheckpointInterval time.Duration // replica.high.watermark.checkpoint.interval.ms
	FetchMaxBytes                          int32         // fetch.max.bytes

	ControllerSocketTimeout            time.Duration // controller.socket.timeout.ms
	ControlledShutdownEnable           bool          // controlled.shutdown.enable
	ControlledShutdownMaxRetries       int           // controlled.shutdown.max.retries
	ControlledShutdownRetryBackoff     time.Duration // controlled.shutdown.retry.backoff.ms
	AutoLeaderRebalanceEnable          bool          // auto.leader.rebalance.enable
	LeaderImbalancePerBrokerPercentage int           // leader.imbalance.per.broker.percentage
	LeaderImbalanceCheckInterval       time.Duration // leader.imbalance.check.interval.seconds

	OffsetsTopicNumPartitions     int32         // offsets.topic.num.partitions
	OffsetsTopicReplicationFactor int16         // offsets.topic.replication.factor
	OffsetsTopicSegmentBytes      int32         // offsets.topic.segment.bytes
	OffsetsRetention              time.Duration // offsets.retention.minutes
	OffsetsRetentionCheckInterval time.Duration // offsets.retention.check.interval.ms
	OffsetsCommitTimeout          time.Duration // offsets.commit.timeout.ms
	OffsetsLoadBufferSize         int32         // offsets.load.buffer.size
	GroupInitialRebalanceDelay    time.Duration // group.initial.rebalance.delay.ms
	GroupMinSessionTimeout        time.Duration // group.min.session.timeout.ms
	GroupMaxSessionTimeout        time.Duration // group.max.session.timeout.ms
	GroupMaxSize                  int32         // group.max.size

	TransactionStateLogNumPartitions     int32         // transaction.state.log.num.partitions
	TransactionStateLogReplicationFactor int16         // transaction.state.log.replication.factor
	TransactionStateLogMinIsr            int32         // transaction.state.log.min.isr
	TransactionStateLogSegmentBytes      int32         // transaction.state.log.segment.bytes
	TransactionMaxTimeout                time.Duration // transaction.max.timeout.ms
	TransactionalIDExpiration            time.Duration // transactional.id.expiration.ms
	ProducerIDExpiration                 time.Duration // producer.id.expiration.ms

	LogLevel string // log.level (Gregor key): trace, debug, info, warn or error, lower-cased

	// Raw holds every key as given (values trimmed, after overrides),
	// including unknown keys; topic-config defaults are read from it.
	Raw map[string]string
}

// Default returns a Config with every key at its default. BrokerID is -1 and
// ZookeeperConnect is empty: Parse requires both.
func Default() *Config {
	c, _, err := parse(map[string]string{}, false)
	if err != nil {
		panic("config: defaults do not validate: " + err.Error())
	}
	return c
}

// Parse validates props (a server.properties, after overrides) and returns the
// Config. A bad value, or a missing required key, is a *ConfigError; the
// first in table order is returned. Unknown keys are not errors: each becomes
// a warning, sorted, for the caller to log.
func Parse(props map[string]string) (*Config, []string, error) {
	return parse(props, true)
}

// Load reads the properties file at path, applies overrides ("key=value", as
// given to kafka-server-start --override) and parses the result.
func Load(path string, overrides []string) (*Config, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	props, err := ParseProperties(f)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %s: %w", path, err)
	}
	props, err = ApplyOverrides(props, overrides)
	if err != nil {
		return nil, nil, err
	}
	return Parse(props)
}

// ApplyOverrides returns a copy of props with each "key=value" of overrides
// set, later overrides winning. The key is trimmed; the value is everything
// after the first '='. An override without '=' or with an empty key is a
// *ConfigError for the key "--override".
func ApplyOverrides(props map[string]string, overrides []string) (map[string]string, error) {
	out := maps.Clone(props)
	if out == nil {
		out = make(map[string]string)
	}
	for _, o := range overrides {
		k, v, ok := strings.Cut(o, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, &ConfigError{Key: "--override", Value: o, Reason: "must be key=value"}
		}
		out[k] = v
	}
	return out, nil
}

// Clone returns a deep copy of c.
func (c *Config) Clone() *Config {
	d := *c
	d.Listeners = slices.Clone(c.Listeners)
	d.AdvertisedListeners = slices.Clone(c.AdvertisedListeners)
	d.ListenerSecurityProtocolMap = maps.Clone(c.ListenerSecurityProtocolMap)
	d.LogDirs = slices.Clone(c.LogDirs)
	d.ZookeeperServers = slices.Clone(c.ZookeeperServers)
	d.Raw = maps.Clone(c.Raw)
	return &d
}

// AdvertisedListener returns the advertised listener called name (an
// upper-case listener name, for example c.InterBrokerListenerName).
func (c *Config) AdvertisedListener(name string) (Listener, bool) {
	for _, l := range c.AdvertisedListeners {
		if l.Name == name {
			return l, true
		}
	}
	return Listener{}, false
}

// InterBrokerBindHost returns the host the inter-broker listener binds to
// when it is one address (not empty or a wildcard), else "". Outgoing
// broker-to-broker connections (controller channels, replica fetchers) bind
// to it, so a broker on 127.0.0.2 also speaks from 127.0.0.2.
func (c *Config) InterBrokerBindHost() string {
	for _, l := range c.Listeners {
		if l.Name != c.InterBrokerListenerName {
			continue
		}
		if ip := net.ParseIP(l.Host); ip != nil && !ip.IsUnspecified() {
			return l.Host
		}
	}
	return ""
}

// values reads validated keys: the trimmed value if set, else the default.
type values struct {
	props map[string]string
}

func (v values) isSet(name string) bool { _, ok := v.props[name]; return ok }

func (v values) str(name string) string {
	if s, ok := v.props[name]; ok {
		return s
	}
	k, ok := keyIndex[name]
	if !ok {
		panic("config: unknown key " + name)
	}
	return k.Default
}

func (v values) i64(name string) int64 {
	n, _ := strconv.ParseInt(v.str(name), 10, 64)
	return n
}

func (v values) i32(name string) int32        { return int32(v.i64(name)) }
func (v values) i16(name string) int16        { return int16(v.i64(name)) }
func (v values) int(name string) int          { return int(v.i64(name)) }
func (v values) bool(name string) bool        { return strings.EqualFold(v.str(name), "true") }
func (v values) ms(name string) time.Duration { return msDuration(v.i64(name)) }

func (v values) f64(name string) float64 {
	f, _ := strconv.ParseFloat(v.str(name), 64)
	return f
}

// msDuration converts milliseconds to a Duration, saturating instead of
// overflowing (Kafka's Long.MAX_VALUE defaults mean "never").
func msDuration(ms int64) time.Duration {
	const per = int64(time.Millisecond)
	switch {
	case ms > math.MaxInt64/per:
		return time.Duration(math.MaxInt64)
	case ms < math.MinInt64/per:
		return time.Duration(math.MinInt64)
	}
	return time.Duration(ms * per)
}

// parse is Parse; with strict unset, required keys may be missing (Default).
func parse(props map[string]string, strict bool) (*Config, []string, error) {
	raw := make(map[string]string, len(props))
	for k, val := range props {
		raw[k] = strings.TrimSpace(val)
	}

	var warnings []string
	for k := range raw {
		if _, ok := keyIndex[k]; !ok {
			warnings = append(warnings, fmt.Sprintf("%s: unknown key, ignored", k))
		}
	}
	sort.Strings(warnings)

	for i := range keys {
		k := &keys[i]
		val, set := raw[k.Name]
		if k.Required && (!set || val == "") {
			if strict {
				reason := "must be set"
				if k.Name == "broker.id" {
					reason = "must be set (Gregor does not generate broker ids)"
				}
				return nil, warnings, &ConfigError{Key: k.Name, Reason: reason, Missing: true}
			}
			continue
		}
		if !set {
			continue // defaults are valid; TestDefaultsValidate proves it
		}
		if err := k.check(val); err != nil {
			return nil, warnings, err
		}
	}

	c, err := build(values{raw})
	if err != nil {
		return nil, warnings, err
	}
	c.Raw = raw
	return c, warnings, nil
}

// build assembles the Config from validated values and checks the rules
// that involve more than one key.
func build(v values) (*Config, error) {
	c := &Config{
		BrokerID:   v.i32("broker.id"),
		BrokerRack: v.str("broker.rack"),
		LogLevel:   strings.ToLower(v.str("log.level")),

		ZookeeperConnect:        v.str("zookeeper.connect"),
		ZookeeperSessionTimeout: v.ms("zookeeper.session.timeout.ms"),

		NumPartitions:               v.i32("num.partitions"),
		DefaultReplicationFactor:    v.i16("default.replication.factor"),
		MinInsyncReplicas:           v.i32("min.insync.replicas"),
		AutoCreateTopicsEnable:      v.bool("auto.create.topics.enable"),
		DeleteTopicEnable:           v.bool("delete.topic.enable"),
		UncleanLeaderElectionEnable: v.bool("unclean.leader.election.enable"),
		MessageMaxBytes:             v.i32("message.max.bytes"),
		CompressionType:             v.str("compression.type"),

		SocketRequestMaxBytes:    v.i32("socket.request.max.bytes"),
		SocketSendBufferBytes:    v.i32("socket.send.buffer.bytes"),
		SocketReceiveBufferBytes: v.i32("socket.receive.buffer.bytes"),
		RequestTimeout:           v.ms("request.timeout.ms"),
		ConnectionsMaxIdle:       v.ms("connections.max.idle.ms"),

		LogSegmentBytes:                       v.i64("log.segment.bytes"),
		LogIndexSizeMaxBytes:                  v.i32("log.index.size.max.bytes"),
		LogIndexIntervalBytes:                 v.i32("log.index.interval.bytes"),
		LogRetentionBytes:                     v.i64("log.retention.bytes"),
		LogRetentionCheckInterval:             v.ms("log.retention.check.interval.ms"),
		LogFlushIntervalMessages:              v.i64("log.flush.interval.messages"),
		LogFlushSchedulerInterval:             v.ms("log.flush.scheduler.interval.ms"),
		LogFlushOffsetCheckpointInterval:      v.ms("log.flush.offset.checkpoint.interval.ms"),
		LogFlushStartOffsetCheckpointInterval: v.ms("log.flush.start.offset.checkpoint.interval.ms"),
		LogCleanupPolicy:                      strings.Join(splitList(v.str("log.cleanup.policy")), ","),
		LogMessageTimestampType:               v.str("log.message.timestamp.type"),
		LogMessageTimestampDifferenceMaxMs:    v.i64("log.message.timestamp.difference.max.ms"),
		LogSegmentDeleteDelayMs:               v.i64("log.segment.delete.delay.ms"),
		NumRecoveryThreadsPerDataDir:          v.int("num.recovery.threads.per.data.dir"),

		LogCleanerEnable:             v.bool("log.cleaner.enable"),
		LogCleanerThreads:            v.int("log.cleaner.threads"),
		LogCleanerBackoff:            v.ms("log.cleaner.backoff.ms"),
		LogCleanerMinCleanableRatio:  v.f64("log.cleaner.min.cleanable.ratio"),
		LogCleanerDeleteRetentionMs:  v.i64("log.cleaner.delete.retention.ms"),
		LogCleanerMinCompactionLagMs: v.i64("log.cleaner.min.compaction.lag.ms"),
		LogCleanerMaxCompactionLagMs: v.i64("log.cleaner.max.compaction.lag.ms"),

		NumNetworkThreads: v.int("num.network.threads"),
		NumIoThreads:      v.int("num.io.threads"),

		ReplicaLagTimeMax:                      v.ms("replica.lag.time.max.ms"),
		ReplicaFetchMaxBytes:                   v.i32("replica.fetch.max.bytes"),
		ReplicaFetchResponseMaxBytes:           v.i32("replica.fetch.response.max.bytes"),
		ReplicaFetchWaitMax:                    v.ms("replica.fetch.wait.max.ms"),
		ReplicaFetchMinBytes:                   v.i32("replica.fetch.min.bytes"),
		ReplicaFetchBackoff:                    v.ms("replica.fetch.backoff.ms"),
		ReplicaSocketTimeout:                   v.ms("replica.socket.timeout.ms"),
		NumReplicaFetchers:                     v.int("num.replica.fetchers"),
		ReplicaHighWatermarkCheckpointInterval: v.ms("replica.high.watermark.checkpoint.interval.ms"),
		FetchMaxBytes:                          v.i32("fetch.max.bytes"),

		ControllerSocketTimeout:            v.ms("controller.socket.timeout.ms"),
		ControlledShutdownEnable:           v.bool("controlled.shutdown.enable"),
		ControlledShutdownMaxRetries:       v.int("controlled.shutdown.max.retries"),
		ControlledShutdownRetryBackoff:     v.ms("controlled.shutdown.retry.backoff.ms"),
		AutoLeaderRebalanceEnable:          v.bool("auto.leader.rebalance.enable"),
		LeaderImbalancePerBrokerPercentage: v.int("leader.imbalance.per.broker.percentage"),
		LeaderImbalanceCheckInterval:       time.Duration(v.i64("leader.imbalance.check.interval.seconds")) * time.Second,

		OffsetsTopicNumPartitions:     v.i32("offsets.topic.num.partitions"),
		OffsetsTopicReplicationFactor: v.i16("offsets.topic.replication.factor"),
		OffsetsTopicSegmentBytes:      v.i32("offsets.topic.segment.bytes"),
		OffsetsRetention:              time.Duration(v.i64("offsets.retention.minutes")) * time.Minute,
		OffsetsRetentionCheckInterval: v.ms("offsets.retention.check.interval.ms"),
		OffsetsCommitTimeout:          v.ms("offsets.commit.timeout.ms"),
		OffsetsLoadBufferSize:         v.i32("offsets.load.buffer.size"),
		GroupInitialRebalanceDelay:    v.ms("group.initial.rebalance.delay.ms"),
		GroupMinSessionTimeout:        v.ms("group.min.session.timeout.ms"),
		GroupMaxSessionTimeout:        v.ms("group.max.session.timeout.ms"),
		GroupMaxSize:                  v.i32("group.max.size"),

		TransactionStateLogNumPartitions:     v.i32("transaction.state.log.num.partitions"),
		TransactionStateLogReplicationFactor: v.i16("transaction.state.log.replication.factor"),
		TransactionStateLogMinIsr:            v.i32("transaction.state.log.min.isr"),
		TransactionStateLogSegmentBytes:      v.i32("transaction.state.log.segment.bytes"),
		TransactionMaxTimeout:                v.ms("transaction.max.timeout.ms"),
		TransactionalIDExpiration:            v.ms("transactional.id.expiration.ms"),
		ProducerIDExpiration:                 v.ms("producer.id.expiration.ms"),
	}
	if c.LeaderImbalanceCheckInterval/time.Second != time.Duration(v.i64("leader.imbalance.check.interval.seconds")) {
		c.LeaderImbalanceCheckInterval = time.Duration(math.MaxInt64) // saturate
	}

	// ZooKeeper.
	if c.ZookeeperConnect != "" {
		c.ZookeeperServers, c.ZookeeperChroot, _ = parseZookeeperConnect(c.ZookeeperConnect)
	}
	c.ZookeeperConnectionTimeout = c.ZookeeperSessionTimeout
	if v.isSet("zookeeper.connection.timeout.ms") {
		c.ZookeeperConnectionTimeout = v.ms("zookeeper.connection.timeout.ms")
	}

	// Derived log settings: the more precise key wins, as in KafkaConfig.
	c.LogRollMs = v.i64("log.roll.hours") * 3_600_000
	if v.isSet("log.roll.ms") {
		c.LogRollMs = v.i64("log.roll.ms")
	}
	c.LogRollJitterMs = v.i64("log.roll.jitter.hours") * 3_600_000
	if v.isSet("log.roll.jitter.ms") {
		c.LogRollJitterMs = v.i64("log.roll.jitter.ms")
	}
	c.LogFlushIntervalMs = v.i64("log.flush.scheduler.interval.ms")
	if v.isSet("log.flush.interval.ms") {
		c.LogFlushIntervalMs = v.i64("log.flush.interval.ms")
	}
	if err := retention(c, v); err != nil {
		return nil, err
	}
	if err := logDirs(c, v); err != nil {
		return nil, err
	}
	if err := listeners(c, v); err != nil {
		return nil, err
	}

	// Replication: KafkaConfig.validateValues.
	if c.ReplicaFetchWaitMax > c.ReplicaSocketTimeout {
		return nil, &ConfigError{Key: "replica.fetch.wait.max.ms", Value: v.str("replica.fetch.wait.max.ms"),
			Reason: fmt.Sprintf("must be <= replica.socket.timeout.ms (%s)", v.str("replica.socket.timeout.ms"))}
	}
	if c.ReplicaFetchWaitMax > c.ReplicaLagTimeMax {
		return nil, &ConfigError{Key: "replica.fetch.wait.max.ms", Value: v.str("replica.fetch.wait.max.ms"),
			Reason: fmt.Sprintf("must be <= replica.lag.time.max.ms (%s)", v.str("replica.lag.time.max.ms"))}
	}
	return c, nil
}

// retention resolves log.retention.ms > .minutes > .hours; any negative
// result means forever (-1) and zero is refused, as in KafkaConfig.
func retention(c *Config, v values) error {
	name, ms := "log.retention.hours", v.i64("log.retention.hours")*3_600_000
	switch {
	case v.isSet("log.retention.ms"):
		name, ms = "log.retention.ms", v.i64("log.retention.ms")
	case v.isSet("log.retention.minutes"):
		name, ms = "log.retention.minutes", v.i64("log.retention.minutes")*60_000
	}
	switch {
	case ms < 0:
		ms = -1
	case ms == 0:
		return &ConfigError{Key: name, Value: v.str(name), Reason: "must be -1 (unlimited) or >= 1"}
	}
	c.LogRetentionMs = ms
	return nil
}

// logDirs resolves log.dirs, else log.dir, and refuses duplicates.
func logDirs(c *Config, v values) error {
	name := "log.dir"
	dirs := []string{v.str("log.dir")}
	if v.isSet("log.dirs") {
		name, dirs = "log.dirs", splitList(v.str("log.dirs"))
	}
	if len(dirs) == 0 || dirs[0] == "" {
		return &ConfigError{Key: name, Value: v.str(name), Reason: "must name at least one directory"}
	}
	seen := make(map[string]bool)
	for _, d := range dirs {
		clean := filepath.Clean(d)
		if seen[clean] {
			return &ConfigError{Key: name, Value: v.str(name), Reason: fmt.Sprintf("directory %s is listed twice", d)}
		}
		seen[clean] = true
	}
	c.LogDirs = dirs
	return nil
}

// listeners resolves listeners, advertised.listeners, the protocol map and
// the inter-broker listener, with KafkaConfig's cross-checks and Gregor's
// PLAINTEXT-only rule.
func listeners(c *Config, v values) error {
	c.Listeners, _ = parseListeners(v.str("listeners"))
	c.AdvertisedListeners = slices.Clone(c.Listeners)
	if v.isSet("advertised.listeners") {
		c.AdvertisedListeners, _ = parseListeners(v.str("advertised.listeners"))
	}
	c.ListenerSecurityProtocolMap, _ = parseProtocolMap(v.str("listener.security.protocol.map"))

	names := make(map[string]bool)
	for _, l := range c.Listeners {
		names[l.Name] = true
	}
	for _, l := range c.AdvertisedListeners {
		if !names[l.Name] {
			return &ConfigError{Key: "advertised.listeners", Value: v.str("advertised.listeners"),
				Reason: fmt.Sprintf("listener %s is not in listeners; advertised listener names must be a subset of listeners", l.Name)}
		}
		if l.Host == "0.0.0.0" || l.Host == "::" {
			return &ConfigError{Key: "advertised.listeners", Value: v.str("advertised.listeners"),
				Reason: fmt.Sprintf("listener %s must not advertise the non-routable address %s", l.Name, l.Host)}
		}
	}

	// The key at fault for a protocol problem is the map if it was given,
	// otherwise the listener names.
	protoKey := "listeners"
	if v.isSet("listener.security.protocol.map") {
		protoKey = "listener.security.protocol.map"
	}
	for _, l := range c.Listeners {
		proto, ok := c.ListenerSecurityProtocolMap[l.Name]
		if !ok {
			return &ConfigError{Key: "listener.security.protocol.map", Value: v.str("listener.security.protocol.map"),
				Reason: fmt.Sprintf("no security protocol defined for listener %s", l.Name)}
		}
		if proto != "PLAINTEXT" {
			return &ConfigError{Key: protoKey, Value: v.str(protoKey),
				Reason: fmt.Sprintf("listener %s uses security protocol %s; only PLAINTEXT is supported", l.Name, proto)}
		}
	}

	if v.isSet("inter.broker.listener.name") && v.isSet("security.inter.broker.protocol") {
		return &ConfigError{Key: "inter.broker.listener.name", Value: v.str("inter.broker.listener.name"),
			Reason: "must not be set together with security.inter.broker.protocol"}
	}
	name := strings.ToUpper(v.str("security.inter.broker.protocol"))
	if v.isSet("inter.broker.listener.name") {
		name = strings.ToUpper(v.str("inter.broker.listener.name"))
	}
	if _, ok := c.AdvertisedListener(name); !ok {
		got := make([]string, len(c.AdvertisedListeners))
		for i, l := range c.AdvertisedListeners {
			got[i] = l.Name
		}
		reason := "must be one of the advertised listeners (" + strings.Join(got, ", ") + ")"
		if !v.isSet("inter.broker.listener.name") {
			reason += "; when unset it is security.inter.broker.protocol"
		}
		return &ConfigError{Key: "inter.broker.listener.name", Value: name, Reason: reason}
	}
	c.InterBrokerListenerName = name
	return nil
}
