package storage

import (
	"math"
	"strings"
	"time"
)

// LogConfig holds per-log settings: the broker defaults with topic overrides
// merged in. A Log reads it on every append and retention pass, so SetConfig
// takes effect at once (IndexMaxBytes only for segments created afterwards).
type LogConfig struct {
	SegmentBytes          int64  // segment.bytes / log.segment.bytes (default 1073741824)
	SegmentMs             int64  // segment.ms / log.roll.ms (default 7 days)
	SegmentJitterMs       int64  // segment.jitter.ms (default 0)
	IndexMaxBytes         int32  // segment.index.bytes / log.index.size.max.bytes (10485760)
	IndexIntervalBytes    int32  // index.interval.bytes / log.index.interval.bytes (4096)
	MaxMessageBytes       int32  // max.message.bytes / message.max.bytes (1048588)
	RetentionMs           int64  // retention.ms, -1 = forever (default 7 days)
	RetentionBytes        int64  // retention.bytes, -1 = unlimited
	FlushIntervalMessages int64  // flush.messages (default math.MaxInt64 = never)
	FlushIntervalMs       int64  // flush.ms (default math.MaxInt64 = never)
	MessageTimestampType  string // "CreateTime" (default) or "LogAppendTime"
	CleanupPolicy         string // "delete" (default) or "compact"; compact logs are never deleted by time/size

	// FileDeleteDelayMs is file.delete.delay.ms (default 60000): how long a
	// segment removed by retention or truncation stays open (renamed to
	// .deleted) so that readers holding its file can finish.
	FileDeleteDelayMs int64

	// ProducerIDExpirationMs is producer.id.expiration.ms (default
	// 86400000, a broker setting): an idempotent producer with no write for
	// this long is forgotten, and its next batch is accepted at any
	// sequence (Kafka's ProducerStateManagerConfig).
	ProducerIDExpirationMs int64
}

// DefaultLogConfig returns Kafka's defaults.
func DefaultLogConfig() LogConfig {
	return LogConfig{
		SegmentBytes:           1 << 30,
		SegmentMs:              7 * 24 * 60 * 60 * 1000,
		SegmentJitterMs:        0,
		IndexMaxBytes:          10 * 1024 * 1024,
		IndexIntervalBytes:     4096,
		MaxMessageBytes:        1048588,
		RetentionMs:            7 * 24 * 60 * 60 * 1000,
		RetentionBytes:         -1,
		FlushIntervalMessages:  math.MaxInt64,
		FlushIntervalMs:        math.MaxInt64,
		MessageTimestampType:   "CreateTime",
		CleanupPolicy:          "delete",
		FileDeleteDelayMs:      60000,
		ProducerIDExpirationMs: 86400000,
	}
}

// normalized replaces nonsensical zero values by Kafka's minimums so that a
// partly filled LogConfig cannot make the log loop or divide by zero.
func (c LogConfig) normalized() LogConfig {
	d := DefaultLogConfig()
	if c.SegmentBytes < 14 {
		c.SegmentBytes = d.SegmentBytes
	}
	if c.SegmentBytes > math.MaxInt32 {
		c.SegmentBytes = math.MaxInt32 // positions are int32 in .index
	}
	if c.SegmentMs <= 0 {
		c.SegmentMs = d.SegmentMs
	}
	if c.SegmentJitterMs < 0 {
		c.SegmentJitterMs = 0
	}
	if c.IndexMaxBytes < 4*timeIndexEntrySize {
		c.IndexMaxBytes = d.IndexMaxBytes
	}
	if c.IndexIntervalBytes < 0 {
		c.IndexIntervalBytes = 0
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = d.MaxMessageBytes
	}
	if c.FlushIntervalMessages <= 0 {
		c.FlushIntervalMessages = math.MaxInt64
	}
	if c.FlushIntervalMs <= 0 {
		c.FlushIntervalMs = math.MaxInt64
	}
	if c.MessageTimestampType == "" {
		c.MessageTimestampType = d.MessageTimestampType
	}
	if c.CleanupPolicy == "" {
		c.CleanupPolicy = d.CleanupPolicy
	}
	if c.FileDeleteDelayMs < 0 {
		c.FileDeleteDelayMs = 0
	}
	if c.ProducerIDExpirationMs <= 0 {
		c.ProducerIDExpirationMs = d.ProducerIDExpirationMs
	}
	return c
}

func (c *LogConfig) logAppendTime() bool { return c.MessageTimestampType == "LogAppendTime" }

// deleteEnabled reports whether cleanup.policy includes "delete" (a list such
// as "compact,delete" is allowed).
func (c *LogConfig) deleteEnabled() bool {
	for _, p := range strings.Split(c.CleanupPolicy, ",") {
		if strings.TrimSpace(p) == "delete" {
			return true
		}
	}
	return false
}

func (c *LogConfig) compactEnabled() bool {
	for _, p := range strings.Split(c.CleanupPolicy, ",") {
		if strings.TrimSpace(p) == "compact" {
			return true
		}
	}
	return false
}

// ManagerConfig configures a Manager: the data directories and the intervals
// of its background work. Zero durations take Kafka's defaults.
type ManagerConfig struct {
	Dirs                   []string      // log.dirs
	RecoveryThreadsPerDir  int           // num.recovery.threads.per.data.dir (default 1)
	DefaultLog             LogConfig     // used for logs found on disk at start-up
	CheckpointInterval     time.Duration // log.flush.offset.checkpoint.interval.ms (60s)
	RetentionCheckInterval time.Duration // log.retention.check.interval.ms (5 min)
	FlushSchedulerInterval time.Duration // log.flush.scheduler.interval.ms (0 = never, Kafka's Long.MaxValue)
	// ProducerExpirationCheckInterval is how often producers idle for
	// producer.id.expiration.ms are removed (Kafka's internal
	// producer.id.expiration.check.interval.ms, default 10 minutes).
	ProducerExpirationCheckInterval time.Duration
}

func (c ManagerConfig) withDefaults() ManagerConfig {
	if c.RecoveryThreadsPerDir <= 0 {
		c.RecoveryThreadsPerDir = 1
	}
	if c.CheckpointInterval <= 0 {
		c.CheckpointInterval = 60 * time.Second
	}
	if c.RetentionCheckInterval <= 0 {
		c.RetentionCheckInterval = 5 * time.Minute
	}
	if c.ProducerExpirationCheckInterval <= 0 {
		c.ProducerExpirationCheckInterval = 10 * time.Minute
	}
	c.DefaultLog = c.DefaultLog.normalized()
	return c
}
