// Package group is the broker's group coordinator: Kafka's GroupCoordinator
// and GroupMetadataManager (core/src/main/scala/kafka/coordinator/group/,
// reference §7.1).
//
// It owns the consumer groups whose __consumer_offsets partition this broker
// leads: their membership state machine (Empty, PreparingRebalance,
// CompletingRebalance, Stable, Dead), the delayed joins, sync and heartbeat
// expirations (Kafka's purgatories, here timers from an injectable Clock),
// static membership (KIP-345), the member id handshake (KIP-394), and the
// committed offsets.
//
// Durability: group metadata and offsets are written as Kafka's records
// (kmsg GroupMetadataKey/Value, OffsetCommitKey/Value) in uncompressed
// record batches appended to __consumer_offsets through the replica manager
// with acks=-1 semantics (AppendRecords + WaitForAcks). When the replica
// manager makes this broker leader of an offsets partition (a
// replica.LeadershipListener call), the partition's log is read from its
// start to its end to rebuild the groups and offsets; requests for its groups
// get COORDINATOR_LOAD_IN_PROGRESS meanwhile. Losing the leadership unloads
// them (NOT_COORDINATOR).
//
// It does not parse requests (the handlers package translates kmsg requests
// into the calls here and back), create __consumer_offsets (FindCoordinator
// does, through the controller's admin path) or talk to ZooKeeper.
//
// Locks, in the order they may be taken: Coordinator.mu (the group map and
// owned partitions) → groupMeta.mu (one group). Neither is held while
// appending to the log or waiting for a client. Timer callbacks take only
// the group lock.
//
// Not implemented: transactional offset commits (TxnOffsetCommit), the
// KIP-848 consumer protocol, removal of offsets of deleted topics on
// UpdateMetadata, compressed batches in __consumer_offsets (we write none;
// a compressed batch found while loading is skipped with an error log).
package group
