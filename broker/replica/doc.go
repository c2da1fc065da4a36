// Package replica is the broker's replica manager, Kafka's ReplicaManager and
// Partition (core/src/main/scala/kafka/server/ReplicaManager.scala,
// core/src/main/scala/kafka/cluster/Partition.scala).
//
// It owns the Partitions this broker hosts: their leader and partition epochs,
// assignment, ISR, role (leader or follower), high watermark and storage.Log.
// The controller drives it through LeaderAndIsr (BecomeLeaderOrFollower) and
// StopReplica (StopReplicas); it records the highest controller epoch seen and
// fences older controllers (CheckControllerEpoch, also used for
// UpdateMetadata).
//
// Data path: AppendRecords appends to a led partition and advances the high
// watermark; WaitForAcks is the delayed produce for acks=all (it completes
// when the high watermark passes each append). Fetch reads below the high
// watermark (or the log end offset for replica fetches) and long-polls as
// Kafka's DelayedFetch does, woken by appends. ListOffset answers
// ListOffsets.
//
// Replication (issue 4) plugs in here: followers' fetch state is recorded by
// Fetch (updateFollowerFetchState) and the high watermark is computed by
// maybeIncrementHighWatermarkLocked from the ISR members' log end offsets;
// follower fetchers, ISR shrink/expand and AlterPartition are not
// implemented yet, so a partition whose ISR names other brokers does not
// advance its high watermark until they fetch.
//
// It does not talk to ZooKeeper or parse requests; the handlers package
// translates kmsg requests into calls here. Errors a client should see are
// *kerr.Error values (NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION,
// FENCED_LEADER_EPOCH, ...) or storage sentinels; handlers/errors.go maps
// them to codes.
//
// Locks, in the order they may be taken: Manager.stateMu (the replica state
// change lock, held across a whole control request) → Partition.mu
// (leadership, ISR, log) → Partition.hwMu (high watermark and follower state)
// → Partition.waitMu (waiters). Manager.mu guards only the partition map and
// is never held while another lock is taken.
package replica
