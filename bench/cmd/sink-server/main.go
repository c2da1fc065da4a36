// sink-server runs bench.Sink, the client-bound ceiling of the produce
// benchmark, as its own process so it does not share the client's Go runtime
// and its CPU can be read from /proc like a broker's. It prints the address
// it listens on as the first line of stdout and runs until SIGTERM or SIGINT.
//
//	sink-server [-addr 127.0.0.1:0] [-partitions 8]
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/gregor-broker/gregor/bench"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	partitions := flag.Int("partitions", 8, "partitions of every topic")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sink-server:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "sink-server:", err)
			os.Exit(1)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sink-server:", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		ln.Close()
	}()
	s := &bench.Sink{Partitions: int32(*partitions)}
	if err := s.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "sink-server:", err)
		os.Exit(1)
	}
}
