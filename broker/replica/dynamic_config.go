package replica

import (
	"github.com/gregor-broker/gregor/broker/storage"
)

// brokerDefaults are the broker-level log defaults and min.insync.replicas
// in force: server.properties with the dynamic broker configs
// (/config/brokers/<default> and /config/brokers/<id>) applied.
type brokerDefaults struct {
	log       storage.LogConfig
	minInsync int32
}

// defaults returns the broker-level defaults in force.
func (m *Manager) defaults() brokerDefaults {
	if d := m.brokerDefaults.Load(); d != nil {
		return *d
	}
	return brokerDefaults{log: m.cfg.DefaultLogConfig, minInsync: m.cfg.MinInsyncReplicas}
}

// SetBrokerDefaults replaces the broker-level log defaults and
// min.insync.replicas (after a dynamic broker config change, Kafka's
// DynamicLogConfig.reconfigure) and re-applies every hosted log's
// configuration, so topics without an override follow the new defaults at
// once. minInsync < 1 keeps the static min.insync.replicas.
func (m *Manager) SetBrokerDefaults(lc storage.LogConfig, minInsync int32) {
	if minInsync < 1 {
		minInsync = m.cfg.MinInsyncReplicas
	}
	m.brokerDefaults.Store(&brokerDefaults{log: lc, minInsync: minInsync})
	m.applyTopicConfigs(nil)
}

// ReloadTopicConfig re-reads a topic's overrides (/config/topics/<topic>)
// and applies them to its live logs and partitions without a restart, as
// Kafka's TopicConfigHandler.processConfigChanges does: retention, segment
// rolling, max.message.bytes, cleanup.policy and message.timestamp.type
// take effect on the next append or retention pass, min.insync.replicas on
// the next acks=all produce.
func (m *Manager) ReloadTopicConfig(topic string) {
	m.applyTopicConfigs(map[string]bool{topic: true})
}

// applyTopicConfigs re-applies the effective configuration of the topics
// named (every topic when nil) to their logs and partitions.
func (m *Manager) applyTopicConfigs(topics map[string]bool) {
	m.throttles().invalidate(topics) // throttled replicas are re-read on next use (throttle.go)
	tc := m.newTopicConfigs()
	for _, l := range m.logs.Logs() {
		if topics == nil || topics[l.Topic()] {
			l.SetConfig(tc.get(l.Topic()).log)
		}
	}
	for _, p := range m.Partitions() {
		if topics != nil && !topics[p.Topic] {
			continue
		}
		c := tc.get(p.Topic)
		p.mu.Lock()
		if p.log != nil {
			p.minInsync = c.minInsync
		}
		p.mu.Unlock()
	}
}
