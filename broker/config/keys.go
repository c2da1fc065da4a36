package config

import "fmt"

// Key describes one configuration key: its Kafka name, type and default, and
// what it means. The table of keys (Keys) is the single source for the
// parser, Default and docs/configuration.md.
type Key struct {
	Name string
	// Type is Kafka's ConfigDef type: int, short, long, double, boolean,
	// string or list (comma-separated).
	Type string
	// Default is the value used when the key is not set. "" means Kafka's
	// null: no value, and the key's doc says what applies instead (for
	// example log.roll.ms falls back to log.roll.hours).
	Default string
	// Valid describes the values accepted beyond the type ("" for any),
	// for example ">= 14" or "one of CreateTime, LogAppendTime".
	Valid string
	Doc   string
	// Required keys must be set; Default then only applies to Default().
	Required bool
	// Unused keys are accepted and validated so that a server.properties
	// copied from Kafka parses without warnings, but Gregor does not act on
	// them.
	Unused bool

	valid validator
}

const (
	longMax = "9223372036854775807"
	intMax  = "2147483647"
)

// keys is the table, in the order docs/configuration.md lists it. Defaults,
// types and validators follow kafka.server.KafkaConfig (ZooKeeper mode).
var keys = []Key{
	// Server basics.
	{Name: "broker.id", Type: typeInt, Default: "-1", Required: true, valid: atLeast(0),
		Doc: "The id of this broker, unique in the cluster. Unlike Kafka, Gregor does not generate broker ids (broker.id.generation.enable is ignored), so it must be set to a value >= 0."},
	{Name: "broker.rack", Type: typeString,
		Doc: "Rack of the broker, used for rack-aware replica assignment when topics are created."},
	{Name: "log.level", Type: typeString, Default: "info", valid: oneOf(true, "trace", "debug", "info", "warn", "error"),
		Doc: "Gregor key (Kafka uses log4j.properties instead): the level of the broker's log."},

	// Listeners.
	{Name: "listeners", Type: typeList, Default: "PLAINTEXT://:9092", valid: custom("comma-separated NAME://host:port", listenersReason),
		Doc: "Comma-separated listeners the broker binds, NAME://host:port. An empty host binds every interface, port 0 picks a free port. Names must be unique and each must be mapped to PLAINTEXT in listener.security.protocol.map."},
	{Name: "advertised.listeners", Type: typeList, valid: custom("comma-separated NAME://host:port", listenersReason),
		Doc: "Listeners published in ZooKeeper for clients and other brokers, if different from listeners (the default). Names must be a subset of the listeners' names; 0.0.0.0 is not allowed; an empty host (or port 0, when listeners picks a free port) is filled in by the broker at start-up."},
	{Name: "listener.security.protocol.map", Type: typeString, Default: "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
		valid: custom("comma-separated NAME:PROTOCOL", protocolMapReason),
		Doc:   "Map from listener name to security protocol, NAME:PROTOCOL,... Gregor implements only PLAINTEXT: a listener mapped to another protocol is an error."},
	{Name: "inter.broker.listener.name", Type: typeString,
		Doc: "Name of the listener brokers use to talk to each other. Defaults to the listener named after security.inter.broker.protocol (PLAINTEXT). Must be one of the advertised listeners; set at most one of this and security.inter.broker.protocol."},
	{Name: "security.inter.broker.protocol", Type: typeString, Default: "PLAINTEXT", valid: oneOf(true, "PLAINTEXT"),
		Doc: "Security protocol between brokers; only PLAINTEXT is supported. Names the inter-broker listener when inter.broker.listener.name is not set."},

	// ZooKeeper.
	{Name: "zookeeper.connect", Type: typeString, Required: true, valid: custom("comma-separated host[:port], then an optional /chroot", zookeeperConnectReason),
		Doc: "ZooKeeper connection string: comma-separated host:port pairs (port defaults to 2181) with an optional chroot path, for example 127.0.0.1:2181,127.0.0.2:2181/kafka. Every Kafka znode lives under the chroot."},
	{Name: "zookeeper.session.timeout.ms", Type: typeInt, Default: "18000", valid: atLeast(1),
		Doc: "ZooKeeper session timeout. A broker whose session expires loses its /brokers/ids registration (and controllership) and re-registers."},
	{Name: "zookeeper.connection.timeout.ms", Type: typeInt, valid: atLeast(1),
		Doc: "Maximum time to wait for a ZooKeeper connection at start-up. Defaults to zookeeper.session.timeout.ms."},
	{Name: "zookeeper.max.in.flight.requests", Type: typeInt, Default: "10", valid: atLeast(1), Unused: true,
		Doc: "Maximum unacknowledged ZooKeeper requests before the client blocks."},
	{Name: "zookeeper.set.acl", Type: typeBoolean, Default: "false", Unused: true,
		Doc: "Whether to set ACLs on the znodes Kafka creates (Gregor never does)."},

	// Socket server.
	{Name: "socket.request.max.bytes", Type: typeInt, Default: "104857600", valid: atLeast(1),
		Doc: "Largest request the broker accepts; a bigger frame closes the connection."},
	{Name: "socket.send.buffer.bytes", Type: typeInt, Default: "102400", valid: atLeast(-1),
		Doc: "SO_SNDBUF of client sockets; -1 uses the OS default."},
	{Name: "socket.receive.buffer.bytes", Type: typeInt, Default: "102400", valid: atLeast(-1),
		Doc: "SO_RCVBUF of client sockets; -1 uses the OS default."},
	{Name: "connections.max.idle.ms", Type: typeLong, Default: "600000",
		Doc: "Idle connections are closed after this long; a negative value disables the check."},
	{Name: "request.timeout.ms", Type: typeInt, Default: "30000", valid: atLeast(0),
		Doc: "Timeout of the broker's own requests to other brokers (controller and inter-broker requests)."},
	{Name: "num.network.threads", Type: typeInt, Default: "3", valid: atLeast(1), Unused: true,
		Doc: "Kafka's network thread count; Gregor runs a reader and a writer goroutine per connection instead."},
	{Name: "num.io.threads", Type: typeInt, Default: "8", valid: atLeast(1), Unused: true,
		Doc: "Kafka's request handler thread count; Gregor handles requests on the connection's goroutines."},
	{Name: "background.threads", Type: typeInt, Default: "10", valid: atLeast(1), Unused: true,
		Doc: "Kafka's background task thread count."},
	{Name: "queued.max.requests", Type: typeInt, Default: "500", valid: atLeast(1), Unused: true,
		Doc: "Kafka's request queue length before network threads block."},
	{Name: "max.connections", Type: typeInt, Default: intMax, valid: atLeast(0), Unused: true,
		Doc: "Maximum number of connections the broker accepts."},
	{Name: "max.connections.per.ip", Type: typeInt, Default: intMax, valid: atLeast(0), Unused: true,
		Doc: "Maximum number of connections from one IP address."},
	{Name: "max.connections.per.ip.overrides", Type: typeString, Unused: true,
		Doc: "Per-IP or per-host overrides of max.connections.per.ip, host:count,..."},
	{Name: "control.plane.listener.name", Type: typeString, Unused: true,
		Doc: "Separate listener for controller requests (KIP-291)."},

	// Topics.
	{Name: "num.partitions", Type: typeInt, Default: "1", valid: atLeast(1),
		Doc: "Default number of partitions of an automatically created topic."},
	{Name: "default.replication.factor", Type: typeInt, Default: "1", valid: between(1, 32767),
		Doc: "Default replication factor of an automatically created topic."},
	{Name: "min.insync.replicas", Type: typeInt, Default: "1", valid: atLeast(1),
		Doc: "Minimum ISR size for an acks=all produce to succeed (topic override: min.insync.replicas)."},
	{Name: "auto.create.topics.enable", Type: typeBoolean, Default: "true",
		Doc: "Create a topic when a client asks for its metadata (or produces to it) and it does not exist."},
	{Name: "delete.topic.enable", Type: typeBoolean, Default: "true",
		Doc: "Allow DeleteTopics; when false, deletions are refused."},
	{Name: "unclean.leader.election.enable", Type: typeBoolean, Default: "false",
		Doc: "Allow a replica outside the ISR to become leader when no ISR member is alive, at the cost of losing data."},
	{Name: "message.max.bytes", Type: typeInt, Default: "1048588", valid: atLeast(0),
		Doc: "Largest record batch the broker accepts (topic override: max.message.bytes)."},
	{Name: "compression.type", Type: typeString, Default: "producer", valid: oneOf(false, "uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"),
		Doc: "Final compression of a topic's batches; producer keeps the producer's codec."},

	// Log basics.
	{Name: "log.dirs", Type: typeList,
		Doc: "Comma-separated directories that hold the partition logs. Defaults to log.dir."},
	{Name: "log.dir", Type: typeString, Default: "/tmp/kafka-logs",
		Doc: "The log directory, used when log.dirs is not set."},
	{Name: "num.recovery.threads.per.data.dir", Type: typeInt, Default: "1", valid: atLeast(1),
		Doc: "Goroutines per log directory that recover logs at start-up and flush them at shutdown."},
	{Name: "log.segment.bytes", Type: typeInt, Default: "1073741824", valid: atLeast(14),
		Doc: "Maximum size of a log segment file; a segment that would grow past it is rolled (topic override: segment.bytes)."},
	{Name: "log.roll.ms", Type: typeLong, valid: atLeast(1),
		Doc: "Maximum age of the active segment before it is rolled (topic override: segment.ms). Defaults to log.roll.hours."},
	{Name: "log.roll.hours", Type: typeInt, Default: "168", valid: atLeast(1),
		Doc: "log.roll.ms in hours, used when log.roll.ms is not set."},
	{Name: "log.roll.jitter.ms", Type: typeLong, valid: atLeast(0),
		Doc: "Maximum random jitter subtracted from the roll time (topic override: segment.jitter.ms). Defaults to log.roll.jitter.hours."},
	{Name: "log.roll.jitter.hours", Type: typeInt, Default: "0", valid: atLeast(0),
		Doc: "log.roll.jitter.ms in hours, used when log.roll.jitter.ms is not set."},
	{Name: "log.index.size.max.bytes", Type: typeInt, Default: "10485760", valid: atLeast(4),
		Doc: "Maximum size of an offset or time index; a full index rolls the segment (topic override: segment.index.bytes)."},
	{Name: "log.index.interval.bytes", Type: typeInt, Default: "4096", valid: atLeast(0),
		Doc: "Bytes of log between two offset index entries (topic override: index.interval.bytes)."},
	{Name: "log.message.timestamp.type", Type: typeString, Default: "CreateTime", valid: oneOf(false, "CreateTime", "LogAppendTime"),
		Doc: "Whether a record's timestamp is the producer's (CreateTime) or the broker's append time (LogAppendTime) (topic override: message.timestamp.type)."},
	{Name: "log.message.timestamp.difference.max.ms", Type: typeLong, Default: longMax, valid: atLeast(0),
		Doc: "Largest allowed difference between a CreateTime timestamp and the broker's clock (topic override: message.timestamp.difference.max.ms)."},
	{Name: "log.segment.delete.delay.ms", Type: typeLong, Default: "60000", valid: atLeast(0),
		Doc: "How long a deleted segment's files stay (renamed .deleted) before they are removed (topic override: file.delete.delay.ms)."},
	{Name: "log.preallocate", Type: typeBoolean, Default: "false", Unused: true,
		Doc: "Preallocate segment files (topic override: preallocate)."},
	{Name: "log.message.format.version", Type: typeString, Default: "3.0-IV1", Unused: true,
		Doc: "Deprecated Kafka key; Gregor always writes the record batch format v2 (magic 2)."},
	{Name: "log.message.downconversion.enable", Type: typeBoolean, Default: "true", Unused: true,
		Doc: "Down-convert batches for old consumers."},
	{Name: "inter.broker.protocol.version", Type: typeString, Unused: true,
		Doc: "Kafka's inter-broker protocol version; Gregor negotiates versions with ApiVersions."},

	// Retention.
	{Name: "log.retention.ms", Type: typeLong,
		Doc: "How long a log keeps a segment before deleting it (topic override: retention.ms); -1 (any negative value) keeps segments forever. Takes precedence over log.retention.minutes and log.retention.hours."},
	{Name: "log.retention.minutes", Type: typeInt,
		Doc: "log.retention.ms in minutes, used when log.retention.ms is not set."},
	{Name: "log.retention.hours", Type: typeInt, Default: "168",
		Doc: "log.retention.ms in hours, used when neither log.retention.ms nor log.retention.minutes is set."},
	{Name: "log.retention.bytes", Type: typeLong, Default: "-1",
		Doc: "Maximum size of a partition's log before old segments are deleted (topic override: retention.bytes); -1 is unlimited."},
	{Name: "log.retention.check.interval.ms", Type: typeLong, Default: "300000", valid: atLeast(1),
		Doc: "How often logs are checked for segments to delete."},
	{Name: "log.cleanup.policy", Type: typeList, Default: "delete", valid: listOf("delete", "compact"),
		Doc: "Default cleanup policy of a topic's segments: delete, compact, or both as \"compact,delete\" (topic override: cleanup.policy)."},

	// Log cleaner (compaction).
	{Name: "log.cleaner.enable", Type: typeBoolean, Default: "true",
		Doc: "Run the log cleaner, which compacts topics whose cleanup.policy includes compact."},
	{Name: "log.cleaner.threads", Type: typeInt, Default: "1", valid: atLeast(0),
		Doc: "Number of log cleaner goroutines."},
	{Name: "log.cleaner.backoff.ms", Type: typeLong, Default: "15000", valid: atLeast(0),
		Doc: "Sleep of the cleaner when there is no log to clean."},
	{Name: "log.cleaner.min.cleanable.ratio", Type: typeDouble, Default: "0.5", valid: betweenFloat(0, 1),
		Doc: "Minimum ratio of dirty bytes to total bytes for a log to be cleaned (topic override: min.cleanable.dirty.ratio)."},
	{Name: "log.cleaner.delete.retention.ms", Type: typeLong, Default: "86400000", valid: atLeast(0),
		Doc: "How long tombstones of a compacted topic are kept (topic override: delete.retention.ms)."},
	{Name: "log.cleaner.min.compaction.lag.ms", Type: typeLong, Default: "0", valid: atLeast(0),
		Doc: "Minimum time a record stays uncompacted (topic override: min.compaction.lag.ms)."},
	{Name: "log.cleaner.max.compaction.lag.ms", Type: typeLong, Default: longMax, valid: atLeast(1),
		Doc: "Maximum time a record stays uncompacted (topic override: max.compaction.lag.ms)."},
	{Name: "log.cleaner.dedupe.buffer.size", Type: typeLong, Default: "134217728", Unused: true,
		Doc: "Memory of Kafka's cleaner offset map, across all cleaner threads."},
	{Name: "log.cleaner.io.buffer.size", Type: typeInt, Default: "524288", valid: atLeast(0), Unused: true,
		Doc: "I/O buffer memory of Kafka's cleaner threads."},
	{Name: "log.cleaner.io.max.bytes.per.second", Type: typeDouble, Default: "1.7976931348623157E308", Unused: true,
		Doc: "I/O throttle of Kafka's log cleaner."},

	// Flush.
	{Name: "log.flush.interval.messages", Type: typeLong, Default: longMax, valid: atLeast(1),
		Doc: "Messages appended to a partition before its log is fsynced (topic override: flush.messages). The default never forces a flush: durability comes from replication."},
	{Name: "log.flush.interval.ms", Type: typeLong,
		Doc: "Maximum time a message stays in a log before it is fsynced (topic override: flush.ms). Defaults to log.flush.scheduler.interval.ms."},
	{Name: "log.flush.scheduler.interval.ms", Type: typeLong, Default: longMax, valid: atLeast(1),
		Doc: "How often logs are checked for a time-based flush."},
	{Name: "log.flush.offset.checkpoint.interval.ms", Type: typeInt, Default: "60000", valid: atLeast(0),
		Doc: "How often the recovery point of every log is checkpointed (recovery-point-offset-checkpoint)."},
	{Name: "log.flush.start.offset.checkpoint.interval.ms", Type: typeInt, Default: "60000", valid: atLeast(0),
		Doc: "How often the log start offset of every log is checkpointed (log-start-offset-checkpoint)."},

	// Replication.
	{Name: "replica.lag.time.max.ms", Type: typeLong, Default: "30000", valid: atLeast(1),
		Doc: "A follower that has not caught up with the leader for this long is removed from the ISR."},
	{Name: "replica.fetch.max.bytes", Type: typeInt, Default: "1048576", valid: atLeast(0),
		Doc: "Bytes per partition a follower asks for in one fetch (at least one batch is returned even if larger)."},
	{Name: "replica.fetch.response.max.bytes", Type: typeInt, Default: "10485760", valid: atLeast(0),
		Doc: "Bytes a follower asks for in one fetch response, across partitions."},
	{Name: "replica.fetch.wait.max.ms", Type: typeInt, Default: "500", valid: atLeast(0),
		Doc: "Longest time a follower's fetch waits at the leader; must not exceed replica.lag.time.max.ms or replica.socket.timeout.ms."},
	{Name: "replica.fetch.min.bytes", Type: typeInt, Default: "1", valid: atLeast(0),
		Doc: "Bytes a follower's fetch waits for before the leader answers."},
	{Name: "replica.fetch.backoff.ms", Type: typeInt, Default: "1000", valid: atLeast(0),
		Doc: "Sleep of a follower fetcher after a fetch error."},
	{Name: "replica.socket.timeout.ms", Type: typeInt, Default: "30000", valid: atLeast(1),
		Doc: "Network timeout of follower fetch requests."},
	{Name: "replica.socket.receive.buffer.bytes", Type: typeInt, Default: "65536", valid: atLeast(-1), Unused: true,
		Doc: "SO_RCVBUF of follower fetch connections."},
	{Name: "num.replica.fetchers", Type: typeInt, Default: "1", valid: atLeast(1),
		Doc: "Fetcher goroutines per source broker."},
	{Name: "num.replica.alter.log.dirs.threads", Type: typeInt, valid: atLeast(0), Unused: true,
		Doc: "Threads that move replicas between log directories."},
	{Name: "replica.high.watermark.checkpoint.interval.ms", Type: typeLong, Default: "5000", valid: atLeast(1),
		Doc: "How often high watermarks are checkpointed (replication-offset-checkpoint)."},
	{Name: "fetch.max.bytes", Type: typeInt, Default: "57671680", valid: atLeast(1024),
		Doc: "Largest fetch response the broker returns to a consumer, across partitions."},
	{Name: "fetch.purgatory.purge.interval.requests", Type: typeInt, Default: "1000", Unused: true,
		Doc: "Kafka's fetch purgatory purge interval."},
	{Name: "producer.purgatory.purge.interval.requests", Type: typeInt, Default: "1000", Unused: true,
		Doc: "Kafka's produce purgatory purge interval."},

	// Controller.
	{Name: "controller.socket.timeout.ms", Type: typeInt, Default: "30000", valid: atLeast(1),
		Doc: "Timeout of the controller's requests to brokers (LeaderAndIsr, UpdateMetadata, StopReplica)."},
	{Name: "controlled.shutdown.enable", Type: typeBoolean, Default: "true",
		Doc: "On SIGTERM, ask the controller to move leadership away before stopping."},
	{Name: "controlled.shutdown.max.retries", Type: typeInt, Default: "3", valid: atLeast(0),
		Doc: "Attempts of a controlled shutdown before the broker stops anyway."},
	{Name: "controlled.shutdown.retry.backoff.ms", Type: typeLong, Default: "5000", valid: atLeast(0),
		Doc: "Sleep between controlled shutdown attempts."},
	{Name: "auto.leader.rebalance.enable", Type: typeBoolean, Default: "true",
		Doc: "Let the controller move leadership back to preferred replicas when brokers are imbalanced."},
	{Name: "leader.imbalance.per.broker.percentage", Type: typeInt, Default: "10", valid: between(0, 100),
		Doc: "Percentage of non-preferred leaders on a broker above which the controller rebalances."},
	{Name: "leader.imbalance.check.interval.seconds", Type: typeLong, Default: "300", valid: atLeast(1),
		Doc: "How often the controller checks leader imbalance."},
	{Name: "broker.id.generation.enable", Type: typeBoolean, Default: "true", Unused: true,
		Doc: "Kafka generates broker ids when broker.id is not set; Gregor requires broker.id."},
	{Name: "reserved.broker.max.id", Type: typeInt, Default: "1000", valid: atLeast(0), Unused: true,
		Doc: "Largest broker id Kafka allows in server.properties when it generates ids."},

	// Group coordinator and offsets.
	{Name: "group.initial.rebalance.delay.ms", Type: typeInt, Default: "3000", valid: atLeast(0),
		Doc: "How long the group coordinator waits for more members before the first rebalance of an empty group."},
	{Name: "group.min.session.timeout.ms", Type: typeInt, Default: "6000",
		Doc: "Smallest session timeout a consumer may ask for."},
	{Name: "group.max.session.timeout.ms", Type: typeInt, Default: "1800000",
		Doc: "Largest session timeout a consumer may ask for."},
	{Name: "group.max.size", Type: typeInt, Default: intMax, valid: atLeast(1),
		Doc: "Maximum number of members in one consumer group."},
	{Name: "offsets.topic.num.partitions", Type: typeInt, Default: "50", valid: atLeast(1),
		Doc: "Partitions of __consumer_offsets (should not change after it is created)."},
	{Name: "offsets.topic.replication.factor", Type: typeShort, Default: "3", valid: atLeast(1),
		Doc: "Replication factor of __consumer_offsets; creating it fails until this many brokers are alive."},
	{Name: "offsets.topic.segment.bytes", Type: typeInt, Default: "104857600", valid: atLeast(1),
		Doc: "Segment size of __consumer_offsets."},
	{Name: "offsets.retention.minutes", Type: typeInt, Default: "10080", valid: atLeast(1),
		Doc: "How long committed offsets of an empty group are kept."},
	{Name: "offsets.retention.check.interval.ms", Type: typeLong, Default: "600000", valid: atLeast(1),
		Doc: "How often expired offsets are removed."},
	{Name: "offsets.commit.timeout.ms", Type: typeInt, Default: "5000", valid: atLeast(1),
		Doc: "How long an offset commit waits for __consumer_offsets replication."},
	{Name: "offsets.commit.required.acks", Type: typeShort, Default: "-1", Unused: true,
		Doc: "Deprecated: acks of offset commits."},
	{Name: "offsets.load.buffer.size", Type: typeInt, Default: "5242880", valid: atLeast(1),
		Doc: "Read batch size when loading offsets into the cache."},
	{Name: "offsets.topic.compression.codec", Type: typeInt, Default: "0", Unused: true,
		Doc: "Compression of __consumer_offsets."},

	// Transactions.
	{Name: "transaction.state.log.num.partitions", Type: typeInt, Default: "50", valid: atLeast(1),
		Doc: "Partitions of __transaction_state (should not change after it is created)."},
	{Name: "transaction.state.log.replication.factor", Type: typeShort, Default: "3", valid: atLeast(1),
		Doc: "Replication factor of __transaction_state; creating it fails until this many brokers are alive."},
	{Name: "transaction.state.log.min.isr", Type: typeInt, Default: "2", valid: atLeast(1),
		Doc: "min.insync.replicas of __transaction_state."},
	{Name: "transaction.state.log.segment.bytes", Type: typeInt, Default: "104857600", valid: atLeast(1),
		Doc: "Segment size of __transaction_state."},
	{Name: "transaction.max.timeout.ms", Type: typeInt, Default: "900000", valid: atLeast(1),
		Doc: "Largest transaction timeout a producer may ask for."},
	{Name: "transactional.id.expiration.ms", Type: typeInt, Default: "604800000", valid: atLeast(1),
		Doc: "A transactional id with no transaction for this long expires."},
	{Name: "producer.id.expiration.ms", Type: typeInt, Default: "86400000", valid: atLeast(1),
		Doc: "An idempotent producer id with no writes for this long expires."},
	{Name: "transaction.abort.timed.out.transaction.cleanup.interval.ms", Type: typeInt, Default: "10000", valid: atLeast(1), Unused: true,
		Doc: "How often timed-out transactions are rolled back."},
	{Name: "transaction.remove.expired.transaction.cleanup.interval.ms", Type: typeInt, Default: "3600000", valid: atLeast(1), Unused: true,
		Doc: "How often expired transactional ids are removed."},

	// Metrics.
	{Name: "metric.reporters", Type: typeList, Unused: true,
		Doc: "Kafka's metrics reporter classes."},
}

// keyIndex maps a key name to its entry in keys.
var keyIndex = func() map[string]*Key {
	m := make(map[string]*Key, len(keys))
	for i := range keys {
		k := &keys[i]
		if _, dup := m[k.Name]; dup {
			panic("config: key " + k.Name + " is in the table twice")
		}
		m[k.Name] = k
	}
	return m
}()

// Keys returns the table of supported keys, in documentation order. The
// slice is a copy.
func Keys() []Key {
	out := make([]Key, len(keys))
	for i, k := range keys {
		k.Valid = k.valid.desc
		out[i] = k
	}
	return out
}

// check validates v (trimmed) against the key's type and validator.
func (k *Key) check(v string) *ConfigError {
	reason := checkType(k.Type, v)
	if reason == "" && k.valid.check != nil {
		reason = k.valid.check(v)
	}
	if reason == "" {
		return nil
	}
	return &ConfigError{Key: k.Name, Value: v, Reason: reason}
}

func listenersReason(v string) string {
	_, r := parseListeners(v)
	return r
}

func protocolMapReason(v string) string {
	_, r := parseProtocolMap(v)
	return r
}

func zookeeperConnectReason(v string) string {
	_, _, r := parseZookeeperConnect(v)
	return r
}

// String is the key as one line, for tools: "log.segment.bytes (int, default 1073741824)".
func (k Key) String() string {
	def := k.Default
	if def == "" {
		def = "null"
	}
	return fmt.Sprintf("%s (%s, default %s)", k.Name, k.Type, def)
}
