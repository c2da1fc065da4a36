// broker-healthcheck is the broker image's HEALTHCHECK: it sends an
// ApiVersions request to the broker's first listener and exits 0 when the
// broker answers without an error, 1 otherwise. The image is FROM scratch, so
// this replaces the `nc`/`kafka-broker-api-versions.sh` checks of JVM images.
//
//	broker-healthcheck [-config server.properties] [-timeout 3s] [host:port]
//
// Without an address it reads the listener the way the entrypoint configures
// the broker (the properties file, then KAFKA_* variables) and connects to
// 127.0.0.1 when the listener binds every interface.
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/docker/internal/brokerenv"
)

func main() {
	// Its own flag set: in the image this runs inside the multicall binary,
	// next to every tool's flags.
	flags := flag.NewFlagSet("broker-healthcheck", flag.ExitOnError)
	configPath := flags.String("config", "/etc/gregor/server.properties", "the broker's properties file")
	timeout := flags.Duration("timeout", 3*time.Second, "time allowed to connect and get the answer")
	flags.Parse(os.Args[1:]) // ExitOnError: never returns an error

	addr := flags.Arg(0)
	if addr == "" {
		props, err := brokerenv.Load(*configPath, os.Environ())
		if err != nil {
			fail(err)
		}
		if addr, err = listenerAddress(props["listeners"]); err != nil {
			fail(err)
		}
	}
	if err := check(addr, *timeout); err != nil {
		fail(fmt.Errorf("%s: %w", addr, err))
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "broker-healthcheck: %v\n", err)
	os.Exit(1)
}

// listenerRE is Kafka's listener syntax, NAME://host:port.
var listenerRE = regexp.MustCompile(`^(.+)://\[?([0-9a-zA-Z\-%._:]*)\]?:([0-9]+)$`)

// listenerAddress returns the address to reach the first listener of a
// `listeners` value from inside the container; Kafka's default listener
// (PLAINTEXT://:9092) when it is empty.
func listenerAddress(listeners string) (string, error) {
	first, _, _ := strings.Cut(listeners, ",")
	first = strings.TrimSpace(first)
	if first == "" {
		first = "PLAINTEXT://:9092"
	}
	m := listenerRE.FindStringSubmatch(first)
	if m == nil {
		return "", fmt.Errorf("listener %q must look like NAME://host:port", first)
	}
	host := m[2]
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, m[3]), nil
}

// check sends one ApiVersions v3 request and reads the answer.
func check(addr string, timeout time.Duration) error {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}

	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName = "gregor-healthcheck"
	req.ClientSoftwareVersion = "1.0.0"
	const correlationID = 1
	formatter := kmsg.NewRequestFormatter(kmsg.FormatterClientID("gregor-healthcheck"))
	if _, err := conn.Write(formatter.AppendRequest(nil, req, correlationID)); err != nil {
		return err
	}

	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return fmt.Errorf("reading the response size: %w", err)
	}
	n := binary.BigEndian.Uint32(size[:])
	if n < 4 || n > 1<<20 {
		return fmt.Errorf("response size %d out of range", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(conn, body); err != nil {
		return fmt.Errorf("reading the response: %w", err)
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != correlationID {
		return fmt.Errorf("correlation id %d, want %d", got, correlationID)
	}
	// ApiVersions responses always use header v0: the body follows the
	// correlation id directly, even for flexible versions.
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.Version = req.Version
	if err := resp.ReadFrom(body[4:]); err != nil {
		return fmt.Errorf("decoding ApiVersions: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return err
	}
	if len(resp.ApiKeys) == 0 {
		return errors.New("ApiVersions lists no APIs")
	}
	return nil
}
