// Package metadata is the broker's metadata cache: its only view of the live
// brokers, the controller and the topics' partition states. It is Kafka's
// ZkMetadataCache (core/src/main/scala/kafka/server/metadata/ZkMetadataCache.scala).
//
// It is fed only by UpdateMetadata requests from the controller (Cache.Update,
// called by handlers/update_metadata.go after the epoch checks). Readers (the
// Metadata, Produce and CreateTopics handlers, the replica manager) take an
// immutable *Snapshot with one atomic load and never lock; Update builds the
// next snapshot and swaps the pointer. Waiters (CreateTopics until leaders
// exist, DeleteTopics until the topic is gone) use Cache.Wait, which is woken
// by every update.
//
// The package does not talk to ZooKeeper and does not decide anything: it
// records what the controller said.
package metadata
