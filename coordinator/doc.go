// Package coordinator is Gregor's controller, Kafka's ZooKeeper-mode
// KafkaController, started inside every broker process, plus Admin, the
// AdminZkClient side of topic creation and deletion used by the request
// handlers.
//
// Every broker runs a Controller. One wins the ephemeral /controller znode
// and bumps /controller_epoch (reference §2.1); it watches /brokers/ids,
// /brokers/topics and /admin/delete_topics, decides partition leadership
// (pure functions in election.go and assignment.go), writes the partition
// state znodes with multi-ops fenced by the /controller_epoch dataVersion,
// and tells the brokers with LeaderAndIsr, UpdateMetadata and StopReplica
// (kmsg types over TCP, broker_channel.go).
//
// Concurrency: all controller state is owned by one goroutine draining an
// event queue (Kafka's ControllerEventManager); ZooKeeper watches, session
// events, broker responses and AlterPartition requests only enqueue events.
// Only IsActive and Epoch are read from other goroutines (atomics);
// AlterPartition waits for its event's answer.
//
// ZooKeeper trouble (zk.go): every controller operation is retried across
// connection loss while the session lives, so a server restart or a lost
// quorum blocks the controller instead of moving it. Losing the session
// (expiry, or a pause past the session timeout) resigns before anything
// else is written or sent; on expiry the broker re-registers only after the
// resignation. Another controller's epoch fails every write
// (ErrControllerMoved) and the controller resigns.
//
// ISR changes (alter_partition.go): partition leaders propose them with
// AlterPartition; the controller checks epochs, writes the state znode
// conditionally and answers with the new partition epoch.
//
// Operations (controlled_shutdown.go, preferred_election.go, elect_leaders.go,
// auto_rebalance.go, reassign.go, reassign_api.go): ControlledShutdown moves
// leadership off a stopping broker; ElectLeaders, /admin/preferred_replica_election
// and the auto rebalance timer run preferred (or unclean) elections;
// AlterPartitionReassignments and /admin/reassign_partitions move replicas
// with Kafka's phases (adding_replicas/removing_replicas in the topic znode),
// resumed by a new controller.
//
// Not here: log-dir events and the ISR/log-dir notification znodes.
package coordinator
