// Package bench holds Gregor's end-to-end benchmarks and the figures of
// docs/benchmarks.md, "One broker (produce/consume)". Run them with
//
//	make bench
//	go test -run '^$' -bench OneBroker -benchtime 2x ./bench/
//
// Every figure is measured with the same client (franz-go kgo: 1 KiB records,
// linger 5 ms, 8 partitions, acks=1, no idempotence, no compression, RF=1)
// against peers started in the same run, each its own process on the same
// machine:
//
//   - sink: [Sink] in bench/cmd/sink-server, answering ApiVersions, Metadata
//     and Produce without storing anything: the client-bound ceiling;
//   - kfake: franz-go's in-memory fake cluster in bench/cmd/kfake-server;
//   - gregor: tools/kafka-server-start with one real ZooKeeper (zkpaths/zktest).
//
// Produce and consume interleave the targets round by round, so background
// load on the shared machine hits them alike. The benchmark prints one
// "figure:" line per figure after the runs, and a "machine:" line with the
// load. Environment knobs (GREGOR_BENCH_MB, GREGOR_BENCH_ROUNDS, ...) are
// listed in docs/benchmarks.md.
//
// Only [Sink] is exported, for bench/cmd/sink-server; the harness lives in
// the _test.go files.
package bench
