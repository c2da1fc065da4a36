// Command groupmember is a consumer-group member process for the
// integration tests that must kill a member with SIGKILL: a sarama
// ConsumerGroup that prints each assignment and each record to stdout and
// marks a record for commit only after its line is written, so what the
// test reads from stdout is what was processed (at-least-once). It lives in
// testdata so that `go build ./...` skips it; the tests build it by path.
//
// Output, one line per event:
//
//	ASSIGN <generation> <member id> <partition,partition,...>
//	MSG <partition> <offset> <value>
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/IBM/sarama"
)

func main() {
	bootstrap := flag.String("bootstrap-server", "", "comma-separated broker addresses")
	group := flag.String("group", "", "consumer group id")
	topic := flag.String("topic", "", "topic to consume")
	instance := flag.String("instance-id", "", "group.instance.id (static membership); empty for a dynamic member")
	session := flag.Duration("session-timeout", 10*time.Second, "session.timeout.ms")
	flag.Parse()

	cfg := sarama.NewConfig()
	cfg.ClientID = "groupmember"
	cfg.Version = sarama.V2_8_0_0
	cfg.Metadata.Retry.Max = 10
	cfg.Metadata.Retry.Backoff = 200 * time.Millisecond
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
	cfg.Consumer.Group.Session.Timeout = *session
	cfg.Consumer.Group.Heartbeat.Interval = 500 * time.Millisecond
	cfg.Consumer.Group.Rebalance.Timeout = 20 * time.Second
	cfg.Consumer.Group.Rebalance.Retry.Max = 20
	cfg.Consumer.Group.Rebalance.Retry.Backoff = 200 * time.Millisecond
	cfg.Consumer.Group.InstanceId = *instance

	cg, err := sarama.NewConsumerGroup(strings.Split(*bootstrap, ","), *group, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "groupmember:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		for err := range cg.Errors() {
			fmt.Fprintln(os.Stderr, "groupmember: group error:", err)
		}
	}()
	h := &handler{}
	for ctx.Err() == nil {
		if err := cg.Consume(ctx, []string{*topic}, h); err != nil {
			if errors.Is(err, sarama.ErrClosedConsumerGroup) {
				break
			}
			fmt.Fprintln(os.Stderr, "groupmember: consume:", err)
			time.Sleep(200 * time.Millisecond)
		}
	}
	_ = cg.Close()
}

// handler prints under a lock so that lines from different partitions
// never interleave.
type handler struct{ mu sync.Mutex }

func (h *handler) println(s string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, _ = os.Stdout.WriteString(s + "\n")
}

func (h *handler) Setup(s sarama.ConsumerGroupSession) error {
	var ps []string
	var parts []int32
	for _, p := range s.Claims() {
		parts = append(parts, p...)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	for _, p := range parts {
		ps = append(ps, fmt.Sprint(p))
	}
	h.println(fmt.Sprintf("ASSIGN %d %s %s", s.GenerationID(), s.MemberID(), strings.Join(ps, ",")))
	return nil
}

func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *handler) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for msg := range claim.Messages() {
		h.println(fmt.Sprintf("MSG %d %d %s", msg.Partition, msg.Offset, msg.Value))
		s.MarkMessage(msg, "")
	}
	return nil
}
