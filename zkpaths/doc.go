// Package zkpaths owns Gregor's ZooKeeper layout: every znode path, the JSON
// payload of each znode byte for byte as Apache Kafka (ZooKeeper mode, 2.8 –
// 3.6, Scala 2.13 / Java 11+ builds) writes it, and a small typed layer over
// github.com/go-zookeeper/zk.
//
// It is modelled on Kafka's core/src/main/scala/kafka/zk/ZkData.scala (one
// function per path, one type per payload) and KafkaZkClient.scala (the
// operations: createRecursive, registerBroker with CheckedEphemeral
// semantics, createOrGetClusterId, controller-epoch fenced multi-ops).
//
// What it owns:
//   - paths.go: the path functions and the top-level persistent paths;
//   - types.go, json.go: payload types, Encode (Kafka's exact bytes and key
//     order) and Decode (any key order, older versions);
//   - uuid.go: Kafka Uuid generation and URL-safe base64;
//   - client.go, watch.go: Client, a chroot-aware wrapper over *zk.Conn that
//     keeps zk.Stat visible, offers multi-ops fenced by the /controller_epoch
//     dataVersion, re-arming watches and session events;
//   - broker.go: the broker-side start-up helpers (top-level paths, cluster
//     id, broker registration).
//
// What it does not own: any decision. The controller (package coordinator)
// and the broker wiring (package broker) decide what to write; this package
// only knows how. zktest (sub-package) runs a real ZooKeeper for tests.
package zkpaths
