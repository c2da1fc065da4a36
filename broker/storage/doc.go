// Package storage is Gregor's durable partition log: Kafka's on-disk format
// (ZooKeeper-mode brokers, 2.8–3.6), byte for byte.
//
// What it owns:
//
//   - Log: one <topic>-<partition> directory; a list of segments named by their
//     20-digit base offset (.log, .index, .timeindex), the leader-epoch-checkpoint
//     and partition.metadata files. Appends (leader and follower path), reads,
//     lookups by offset and timestamp, truncation, retention, flushing.
//   - Producer state (producer_state.go): per idempotent producer id its
//     epoch and last five batches, checked on the leader's append under the
//     Log's writer lock (duplicates answered with their original offsets,
//     sequence gaps and old epochs refused), applied unchecked on the
//     follower path; <offset>.snapshot files at each roll and clean close,
//     reloaded with a replay of the batches after them on open and
//     truncation.
//   - Manager: every entry of log.dirs; the .lock file, meta.properties,
//     recovery-point-offset-checkpoint, log-start-offset-checkpoint and the
//     .kafka_cleanshutdown marker; parallel recovery at start-up; background
//     retention, flushing and checkpointing.
//
// What it does not own: replication state (high watermark, ISR), producer id
// allocation (zkpaths), transactions (.txnindex), compaction,
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
// OffsetIndex, TimeIndex, LeaderEpochFileCache, CheckpointFile, LogManager,
// ProducerStateManager, ProducerAppendInfo, ProducerStateEntry.
package storage
