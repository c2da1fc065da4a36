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
// Replication (fetcher.go, isr.go, alter_partition.go): a follower runs
// fetchers (one goroutine per leader broker and fetcher id) that send Fetch
// v12 with ReplicaID = this broker and LastFetchedEpoch to the leader's
// inter-broker listener, truncate on the leader's DivergingEpoch
// (KIP-101/279/320), append with the log's follower append and take the
// leader's high watermark. The leader tracks each follower's LEO and
// lastCaughtUpTime (Fetch → updateFollowerFetchState), moves the high
// watermark to the smallest LEO of the maximal ISR, proposes ISR expansion
// when a follower reaches the high watermark and shrink when one lags more
// than replica.lag.time.max.ms, and sends the changes to the controller with
// AlterPartition (alterPartitionSender), committing the ISR and partition
// epoch it answers. acks=all waits for the high watermark and checks
// min.insync.replicas before and after the append. High watermarks are
// checkpointed to replication-offset-checkpoint (Start's periodic task and
// Close) and read back when a log is opened. Topic overrides
// (/config/topics, Config.TopicConfig) are applied when a log is opened and
// at start-up (LoadTopicConfigs).
//
// It does not talk to ZooKeeper or serve requests: the handlers package
// translates kmsg requests into calls here (topic overrides come through
// Config.TopicConfig). It does send requests to peers through kconn: Fetch
// and ListOffsets to leaders, AlterPartition to the controller. Errors a client should see are
// *kerr.Error values (NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION,
// FENCED_LEADER_EPOCH, ...) or storage sentinels; handlers/errors.go maps
// them to codes.
//
// Locks, in the order they may be taken: Manager.stateMu (the replica state
// change lock, held across a whole control request) → Partition.mu
// (leadership, committed ISR, log) → fetcherManager.mu → fetcher.mu, and
// Partition.mu → Partition.hwMu (high watermark, follower state, pending ISR
// change) → Partition.waitMu (waiters). Manager.mu guards only the partition
// map and is never held while another lock is taken; a fetcher goroutine
// never holds fetcher.mu while it takes Partition.mu, and the AlterPartition
// sender holds none of its own locks while it applies an answer.
package replica
