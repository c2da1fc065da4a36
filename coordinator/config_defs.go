package coordinator

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/config"
)

// topicConfigDef is one topic-level config of Kafka's LogConfig: its type,
// validator, the broker keys it falls back to (LogConfig.TopicConfigSynonyms
// then DynamicBrokerConfig.brokerConfigSynonyms, with the unit of each:
// log.retention.hours counts hours) and its default when no broker key
// applies.
type topicConfigDef struct {
	name     string
	typ      kmsg.ConfigType
	check    func(v string) string // why a well-typed value is invalid, or ""
	synonyms []synonym
	def      *string
}

// synonym is a broker key standing in for a topic config, and the factor
// that converts its value to the topic config's unit.
type synonym struct {
	name string
	mult int64
}

func syn(names ...string) []synonym {
	out := make([]synonym, len(names))
	for i, n := range names {
		out[i] = synonym{name: n, mult: 1}
	}
	return out
}

func strp(s string) *string { return &s }

const longMaxStr = "9223372036854775807"

// topicConfigDefs is Kafka's LogConfig (3.6) in its documentation order.
var topicConfigDefs = []topicConfigDef{
	{name: "cleanup.policy", typ: kmsg.ConfigTypeList, check: listOfCheck("compact", "delete"), synonyms: syn("log.cleanup.policy")},
	{name: "compression.type", typ: kmsg.ConfigTypeString, check: oneOfCheck("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"), synonyms: syn("compression.type")},
	{name: "delete.retention.ms", typ: kmsg.ConfigTypeLong, check: atLeastCheck(0), synonyms: syn("log.cleaner.delete.retention.ms")},
	{name: "file.delete.delay.ms", typ: kmsg.ConfigTypeLong, check: atLeastCheck(0), synonyms: syn("log.segment.delete.delay.ms")},
	{name: "flush.messages", typ: kmsg.ConfigTypeLong, check: atLeastCheck(1), synonyms: syn("log.flush.interval.messages")},
	{name: "flush.ms", typ: kmsg.ConfigTypeLong, check: atLeastCheck(0), synonyms: syn("log.flush.interval.ms", "log.flush.scheduler.interval.ms")},
	{name: "follower.replication.throttled.replicas", typ: kmsg.ConfigTypeList, check: throttledReplicasCheck, def: strp("")},
	{name: "index.interval.bytes", typ: kmsg.ConfigTypeInt, check: atLeastCheck(0), synonyms: syn("log.index.interval.bytes")},
	{name: "leader.replication.throttled.replicas", typ: kmsg.ConfigTypeList, check: throttledReplicasCheck, def: strp("")},
	{name: "local.retention.bytes", typ: kmsg.ConfigTypeLong, check: atLeastCheck(-2), synonyms: syn("log.local.retention.bytes"), def: strp("-2")},
	{name: "local.retention.ms", typ: kmsg.ConfigTypeLong, check: atLeastCheck(-2), synonyms: syn("log.local.retention.ms"), def: strp("-2")},
	{name: "max.compaction.lag.ms", typ: kmsg.ConfigTypeLong, check: atLeastCheck(1), synonyms: syn("log.cleaner.max.compaction.lag.ms")},
	{name: "max.message.bytes", typ: kmsg.ConfigTypeInt, check: atLeastCheck(0), synonyms: syn("message.max.bytes")},
	{name: "message.downconversion.enable", typ: kmsg.ConfigTypeBoolean, synonyms: syn("log.message.downconversion.enable")},
	{name: "message.format.version", typ: kmsg.ConfigTypeString, synonyms: syn("log.message.format.version")},
	{name: "message.timestamp.after.max.ms", typ: kmsg.ConfigTypeLong, check: atLeastCheck(0), synonyms: syn("log.message.timestamp.after.max.ms"), def: strp(longMaxStr)},
	{name: "message.timestamp.before.max.ms", typ: kmsg.ConfigTypeLong, check: atLeastCheck(0), synonyms: syn("log.message.timestamp.before.max.ms"), def: strp(longMaxStr)},
	{name: "message.timestamp.difference.max.ms", typ: kmsg.ConfigTypeLong, check: atLeastCheck(0), synonyms: syn("log.message.timestamp.difference.max.ms")},
	{name: "message.timestamp.type", typ: kmsg.ConfigTypeString, check: oneOfCheck("CreateTime", "LogAppendTime"), synonyms: syn("log.message.timestamp.type")},
	{name: "min.cleanable.dirty.ratio", typ: kmsg.ConfigTypeDouble, check: betweenFloatCheck(0, 1), synonyms: syn("log.cleaner.min.cleanable.ratio")},
	{name: "min.compaction.lag.ms", typ: kmsg.ConfigTypeLong, check: atLeastCheck(0), synonyms: syn("log.cleaner.min.compaction.lag.ms")},
	{name: "min.insync.replicas", typ: kmsg.ConfigTypeInt, check: atLeastCheck(1), synonyms: syn("min.insync.replicas")},
	{name: "preallocate", typ: kmsg.ConfigTypeBoolean, synonyms: syn("log.preallocate")},
	{name: "remote.storage.enable", typ: kmsg.ConfigTypeBoolean, def: strp("false")},
	{name: "retention.bytes", typ: kmsg.ConfigTypeLong, synonyms: syn("log.retention.bytes")},
	{name: "retention.ms", typ: kmsg.ConfigTypeLong, check: atLeastCheck(-1), synonyms: []synonym{{"log.retention.ms", 1}, {"log.retention.minutes", 60000}, {"log.retention.hours", 3600000}}},
	{name: "segment.bytes", typ: kmsg.ConfigTypeInt, check: atLeastCheck(14), synonyms: syn("log.segment.bytes")},
	{name: "segment.index.bytes", typ: kmsg.ConfigTypeInt, check: atLeastCheck(4), synonyms: syn("log.index.size.max.bytes")},
	{name: "segment.jitter.ms", typ: kmsg.ConfigTypeLong, check: atLeastCheck(0), synonyms: []synonym{{"log.roll.jitter.ms", 1}, {"log.roll.jitter.hours", 3600000}}},
	{name: "segment.ms", typ: kmsg.ConfigTypeLong, check: atLeastCheck(1), synonyms: []synonym{{"log.roll.ms", 1}, {"log.roll.hours", 3600000}}},
	{name: "unclean.leader.election.enable", typ: kmsg.ConfigTypeBoolean, synonyms: syn("unclean.leader.election.enable")},
}

var topicConfigDefIndex = func() map[string]*topicConfigDef {
	m := make(map[string]*topicConfigDef, len(topicConfigDefs))
	for i := range topicConfigDefs {
		m[topicConfigDefs[i].name] = &topicConfigDefs[i]
	}
	return m
}()

// dynamicBrokerConfigs are the keys of Kafka's DynamicBrokerConfig that
// Gregor applies without a restart (the broker-level defaults of topic
// configs that its logs and replica manager read live). Kafka's other
// dynamic keys (log.cleaner.*, listeners, SSL, thread pools,
// unclean.leader.election.enable at broker level) are refused with
// "Cannot update these configs dynamically".
var dynamicBrokerConfigs = map[string]bool{
	"log.segment.bytes":           true,
	"log.roll.ms":                 true,
	"log.roll.jitter.ms":          true,
	"log.index.size.max.bytes":    true,
	"log.index.interval.bytes":    true,
	"log.flush.interval.messages": true,
	"log.flush.interval.ms":       true,
	"log.retention.bytes":         true,
	"log.retention.ms":            true,
	"message.max.bytes":           true,
	"log.segment.delete.delay.ms": true,
	"log.cleanup.policy":          true,
	"min.insync.replicas":         true,
	"log.message.timestamp.type":  true,
}

// brokerKeys is Gregor's table of server.properties keys by name.
var brokerKeys = func() map[string]config.Key {
	m := map[string]config.Key{}
	for _, k := range config.Keys() {
		m[k.Name] = k
	}
	return m
}()

// brokerConfigSynonyms is DynamicBrokerConfig.brokerConfigSynonyms: the
// keys that set the same broker value, in order of precedence.
func brokerConfigSynonyms(name string) []string {
	switch name {
	case "log.roll.ms", "log.roll.hours":
		return []string{"log.roll.ms", "log.roll.hours"}
	case "log.roll.jitter.ms", "log.roll.jitter.hours":
		return []string{"log.roll.jitter.ms", "log.roll.jitter.hours"}
	case "log.flush.interval.ms":
		return []string{"log.flush.interval.ms", "log.flush.scheduler.interval.ms"}
	case "log.retention.ms", "log.retention.minutes", "log.retention.hours":
		return []string{"log.retention.ms", "log.retention.minutes", "log.retention.hours"}
	}
	return []string{name}
}

// brokerKeyType maps Gregor's key table type names to DescribeConfigs'.
func brokerKeyType(name string) (kmsg.ConfigType, bool) {
	k, ok := brokerKeys[name]
	if !ok {
		// DynamicConfig.Broker's keys are known to Kafka's configType too,
		// so they are typed, not hidden as sensitive.
		if dynamicOnlyBrokerConfigs[name] {
			return kmsg.ConfigTypeLong, true
		}
		return kmsg.ConfigTypeUnknown, false
	}
	switch k.Type {
	case "int":
		return kmsg.ConfigTypeInt, true
	case "short":
		return kmsg.ConfigTypeShort, true
	case "long":
		return kmsg.ConfigTypeLong, true
	case "double":
		return kmsg.ConfigTypeDouble, true
	case "boolean":
		return kmsg.ConfigTypeBoolean, true
	case "list":
		return kmsg.ConfigTypeList, true
	}
	return kmsg.ConfigTypeString, true
}

// checkConfigValue is ConfigDef.parseType + the key's validator: it returns
// Kafka's ConfigException text ("Invalid value x for configuration
// retention.ms: Not a number of type LONG") or "".
func checkConfigValue(name string, typ kmsg.ConfigType, check func(string) string, v string) string {
	reason := typeReason(typ, strings.TrimSpace(v))
	if reason == "" && check != nil {
		reason = check(strings.TrimSpace(v))
	}
	if reason == "" {
		return ""
	}
	return fmt.Sprintf("Invalid value %s for configuration %s: %s", v, name, reason)
}

func typeReason(typ kmsg.ConfigType, v string) string {
	switch typ {
	case kmsg.ConfigTypeInt:
		if _, err := strconv.ParseInt(v, 10, 32); err != nil {
			return "Not a number of type INT"
		}
	case kmsg.ConfigTypeShort:
		if _, err := strconv.ParseInt(v, 10, 16); err != nil {
			return "Not a number of type SHORT"
		}
	case kmsg.ConfigTypeLong:
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return "Not a number of type LONG"
		}
	case kmsg.ConfigTypeDouble:
		if f, err := strconv.ParseFloat(v, 64); err != nil || math.IsNaN(f) {
			return "Not a number of type DOUBLE"
		}
	case kmsg.ConfigTypeBoolean:
		if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
			return "Expected value to be either true or false"
		}
	}
	return ""
}

// atLeastCheck is ConfigDef.Range.atLeast.
func atLeastCheck(n float64) func(string) string {
	return func(v string) string {
		f, _ := strconv.ParseFloat(v, 64)
		if f < n {
			return fmt.Sprintf("Value must be at least %s", strconv.FormatFloat(n, 'f', -1, 64))
		}
		return ""
	}
}

// betweenFloatCheck is ConfigDef.Range.between for doubles.
func betweenFloatCheck(lo, hi float64) func(string) string {
	return func(v string) string {
		f, _ := strconv.ParseFloat(v, 64)
		if f < lo {
			return fmt.Sprintf("Value must be at least %s", strconv.FormatFloat(lo, 'f', 1, 64))
		}
		if f > hi {
			return fmt.Sprintf("Value must be no more than %s", strconv.FormatFloat(hi, 'f', 1, 64))
		}
		return ""
	}
}

// oneOfCheck is ConfigDef.ValidString.in.
func oneOfCheck(opts ...string) func(string) string {
	return func(v string) string {
		for _, o := range opts {
			if v == o {
				return ""
			}
		}
		return "String must be one of: " + strings.Join(opts, ", ")
	}
}

// listOfCheck is ConfigDef.ValidList.in.
func listOfCheck(opts ...string) func(string) string {
	return func(v string) string {
		for _, item := range strings.Split(v, ",") {
			item = strings.TrimSpace(item)
			ok := false
			for _, o := range opts {
				ok = ok || item == o
			}
			if !ok {
				return "String must be one of: " + strings.Join(opts, ", ")
			}
		}
		return ""
	}
}

// throttledReplicasCheck is LogConfig's ThrottledReplicaListValidator: "*"
// or a list of partition:broker pairs.
func throttledReplicasCheck(v string) string {
	if v == "" || v == "*" {
		return ""
	}
	for _, item := range strings.Split(v, ",") {
		p, b, ok := strings.Cut(strings.TrimSpace(item), ":")
		_, e1 := strconv.Atoi(strings.TrimSpace(p))
		_, e2 := strconv.Atoi(strings.TrimSpace(b))
		if !ok || e1 != nil || e2 != nil {
			return "must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],..."
		}
	}
	return ""
}

// validateTopicConfig is LogConfig.validate: unknown names first (Kafka's
// InvalidConfigurationException, INVALID_CONFIG), then the values (a
// ConfigException whose text is returned as badValue; the caller picks the
// error code, as Kafka's callers do).
func validateTopicConfig(cfg map[string]string) (unknown, badValue string) {
	names := make([]string, 0, len(cfg))
	for k := range cfg {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if _, ok := topicConfigDefIndex[k]; !ok {
			return "Unknown topic config name: " + k, ""
		}
	}
	for _, k := range names {
		d := topicConfigDefIndex[k]
		if msg := checkConfigValue(k, d.typ, d.check, cfg[k]); msg != "" {
			return "", msg
		}
	}
	if minLag, ok := cfg["min.compaction.lag.ms"]; ok {
		if maxLag, ok := cfg["max.compaction.lag.ms"]; ok {
			lo, _ := strconv.ParseInt(strings.TrimSpace(minLag), 10, 64)
			hi, _ := strconv.ParseInt(strings.TrimSpace(maxLag), 10, 64)
			if lo > hi {
				return fmt.Sprintf("conflict topic config setting min.compaction.lag.ms (%d) > max.compaction.lag.ms (%d)", lo, hi), ""
			}
		}
	}
	return "", ""
}

// dynamicOnlyBrokerConfigs are Kafka's DynamicConfig.Broker keys: set only
// in ZooKeeper (/config/brokers), never in server.properties, all LONG.
var dynamicOnlyBrokerConfigs = map[string]bool{
	"leader.replication.throttled.rate":              true,
	"follower.replication.throttled.rate":            true,
	"replica.alter.log.dirs.io.max.bytes.per.second": true,
}

// IsDynamicBrokerConfig reports whether a broker key may be set in
// /config/brokers and is applied by Gregor without a restart; brokers
// ignore any other key found there (as Kafka's DynamicBrokerConfig drops
// invalid dynamic configs).
func IsDynamicBrokerConfig(name string) bool { return dynamicBrokerConfigs[name] }
