// kfake-server runs franz-go's in-memory fake Kafka (pkg/kfake) as its own
// process: the kfake baseline of the benchmarks in bench/. It prints the
// address it listens on as the first line of stdout and runs until SIGTERM
// or SIGINT.
//
//	kfake-server [-port 0] [-partitions 8] [-topic bench]
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	port := flag.Int("port", 0, "port to listen on at 127.0.0.1 (0 picks a free one)")
	partitions := flag.Int("partitions", 8, "partitions of the seeded topic")
	topic := flag.String("topic", "bench", "topic to seed")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "kfake-server:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "kfake-server:", err)
			os.Exit(1)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}

	c, err := kfake.NewCluster(
		kfake.Ports(*port),
		kfake.NumBrokers(1),
		kfake.SeedTopics(int32(*partitions), *topic),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfake-server:", err)
		os.Exit(1)
	}
	fmt.Println(c.ListenAddrs()[0])

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	c.Close()
}
