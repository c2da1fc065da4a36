package replica

import (
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/gregor-broker/gregor/broker/storage"
)

// topicConfig is a topic's effective configuration: the broker's log.*
// defaults with the /config/topics/<topic> overrides applied (Kafka's
// LogConfig.fromProps(defaults, overrides)).
type topicConfig struct {
	log       storage.LogConfig
	minInsync int32
}

// topicConfigs loads each topic's overrides at most once per control request
// (a LeaderAndIsr names many partitions of few topics), as Kafka's
// LogManager fetches them when it creates or loads logs.
type topicConfigs struct {
	m     *Manager
	cache map[string]topicConfig
}

func (m *Manager) newTopicConfigs() *topicConfigs {
	return &topicConfigs{m: m, cache: map[string]topicConfig{}}
}

// get returns the topic's configuration. When the overrides cannot be read
// (ZooKeeper unavailable) the broker defaults are used and a warning logged;
// the next LeaderAndIsr that opens the log tries again.
func (tc *topicConfigs) get(topic string) topicConfig {
	if c, ok := tc.cache[topic]; ok {
		return c
	}
	c := tc.m.topicConfig(topic)
	tc.cache[topic] = c
	return c
}

// TopicConfig returns a topic's effective log configuration and
// min.insync.replicas, reading its overrides through Config.TopicConfig.
func (m *Manager) TopicConfig(topic string) (log storage.LogConfig, minInsync int32) {
	c := m.topicConfig(topic)
	return c.log, c.minInsync
}

func (m *Manager) topicConfig(topic string) topicConfig {
	var overrides map[string]string
	if m.cfg.TopicConfig != nil {
		var err error
		if overrides, err = m.cfg.TopicConfig(topic); err != nil {
			m.log.WithError(err).WithField("topic", topic).Warn("read topic config overrides; using the broker defaults")
		}
	}
	d := m.defaults()
	return applyTopicOverrides(d.log, d.minInsync, overrides, m.log.WithField("topic", topic))
}

// applyTopicOverrides merges topic-level keys (Kafka's TopicConfig names)
// into the broker defaults. A value that does not parse is ignored with a
// warning, keeping the default, as the admin path validates them on write.
func applyTopicOverrides(base storage.LogConfig, minInsync int32, overrides map[string]string, log *logrus.Entry) topicConfig {
	c := topicConfig{log: base, minInsync: minInsync}
	bad := func(k, v string) {
		log.WithFields(logrus.Fields{"key": k, "value": v}).Warn("ignoring invalid topic config override")
	}
	i64 := func(k, v string, dst *int64) {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			bad(k, v)
			return
		}
		*dst = n
	}
	i32 := func(k, v string, dst *int32) {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if err != nil {
			bad(k, v)
			return
		}
		*dst = int32(n)
	}
	for k, v := range overrides {
		switch k {
		case "segment.bytes":
			i64(k, v, &c.log.SegmentBytes)
		case "segment.ms":
			i64(k, v, &c.log.SegmentMs)
		case "segment.jitter.ms":
			i64(k, v, &c.log.SegmentJitterMs)
		case "segment.index.bytes":
			i32(k, v, &c.log.IndexMaxBytes)
		case "index.interval.bytes":
			i32(k, v, &c.log.IndexIntervalBytes)
		case "max.message.bytes":
			i32(k, v, &c.log.MaxMessageBytes)
		case "retention.ms":
			i64(k, v, &c.log.RetentionMs)
		case "retention.bytes":
			i64(k, v, &c.log.RetentionBytes)
		case "flush.messages":
			i64(k, v, &c.log.FlushIntervalMessages)
		case "flush.ms":
			i64(k, v, &c.log.FlushIntervalMs)
		case "file.delete.delay.ms":
			i64(k, v, &c.log.FileDeleteDelayMs)
		case "message.timestamp.type":
			if v != "CreateTime" && v != "LogAppendTime" {
				bad(k, v)
				continue
			}
			c.log.MessageTimestampType = v
		case "cleanup.policy":
			// A list: "delete", "compact" or "compact,delete". Until the
			// cleaner exists, a policy without "delete" keeps every segment.
			ok := v != ""
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "delete" && p != "compact" {
					ok = false
				}
			}
			if !ok {
				bad(k, v)
				continue
			}
			c.log.CleanupPolicy = v
		case "min.insync.replicas":
			var n int32
			i32(k, v, &n)
			if n >= 1 {
				c.minInsync = n
			}
		}
	}
	return c
}

// LoadTopicConfigs applies every topic's overrides to the logs found on disk
// at start-up, before retention first runs, as Kafka's LogManager.loadLogs
// does: a compacted topic (__consumer_offsets) must never be subjected to the
// default delete policy, not even before its first LeaderAndIsr.
func (m *Manager) LoadTopicConfigs() {
	tc := m.newTopicConfigs()
	for _, l := range m.logs.Logs() {
		l.SetConfig(tc.get(l.Topic()).log)
	}
}
