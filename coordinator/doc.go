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
// events and broker responses only enqueue events. Only IsActive and Epoch
// are read from other goroutines (atomics).
//
// Not here yet: partition reassignment, preferred-leader election and auto
// rebalance, controlled shutdown, AlterPartition, partition addition,
// log-dir events and the ISR/log-dir notification znodes.
package coordinator
