// Package storage is Gregor's durable partition log: Kafka's on-disk format
// (ZooKeeper-mode brokers, 2.8–3.6), byte for byte.
//
// What it owns:
//
//   - Log: one <topic>-<partition> directory; a list of segments named by their
//     20-digit base offset (.log, .index, .timeindex), the leader-epoch-checkpoint
//     and partition.metadata files. Appends (leader and follower path), reads,
//     lookups by offset and timestamp, truncation, retention, flushing.
//   - Manager: every entry of log.dirs; the .lock file, meta.properties,
//     recovery-point-offset-checkpoint, log-start-offset-checkpoint and the
//     .kafka_cleanshutdown marker; parallel recovery at start-up; background
//     retention, flushing and checkpointing.
//
// What it does not own: replication state (high watermark, ISR), producer
// state (.snapshot files, idempotence), transactions (.txnindex), compaction,
// and anything about the network, ZooKeeper or request types. It deals in
// record-batch bytes (magic 2) and offsets; batch headers are parsed in place
// at the fixed offsets of kmsg.RecordBatch (see batch.go).
//
// Callers: broker/replica (appends, reads, truncation by leader epoch) and the
// broker wiring (Manager lifecycle). The handlers map the sentinel errors in
// errors.go to Kafka error codes.
//
// Concurrency: one writer per partition. Appends, truncation, retention and
// configuration changes on a Log are serialised by a mutex; Read,
// LogEndOffset, LogStartOffset, OffsetForTimestamp and the epoch queries may
// run concurrently with them from any number of goroutines. The log end offset
// is published only after the bytes of a batch are completely written, so a
// reader never sees a partly written batch.
//
// Sources: Kafka's LocalLog, UnifiedLog, LogSegment, LogLoader, LogValidator,
// OffsetIndex, TimeIndex, LeaderEpochFileCache, CheckpointFile, LogManager.
package storage
