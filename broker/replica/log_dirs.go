package replica

import (
	"path/filepath"
)

// LogInfo describes one local log for DescribeLogDirs.
type LogInfo struct {
	Topic     string
	Partition int32
	// Dir is the log.dirs entry holding the log.
	Dir  string
	Size int64
	// OffsetLag is Kafka's getLogEndOffsetLag for a current (not future)
	// replica: max(high watermark - log end offset, 0).
	OffsetLag int64
}

// LogInfos returns every open log, sorted by topic and partition.
func (m *Manager) LogInfos() []LogInfo {
	logs := m.logs.Logs()
	out := make([]LogInfo, 0, len(logs))
	for _, l := range logs {
		li := LogInfo{Topic: l.Topic(), Partition: l.Partition(), Dir: filepath.Dir(l.Dir()), Size: l.Size()}
		if p := m.Partition(l.Topic(), l.Partition()); p != nil {
			li.OffsetLag = max(p.HighWatermark()-l.LogEndOffset(), 0)
		}
		out = append(out, li)
	}
	return out
}
