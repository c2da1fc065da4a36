package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

// consumer runs one console consumer: a source of records (a group or the
// partitions directly) feeding one printing loop.
type consumer struct {
	t *cli.Tool
	s *settings
}

const logger = "kafka.tools.ConsoleConsumer$"

func (c *consumer) run(ctx context.Context) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	records := make(chan record, 256)
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	var closeSource func()
	var err error
	if c.s.group != "" {
		closeSource, err = c.startGroup(ctx, &wg, records, errs)
	} else {
		closeSource, err = c.startPartitions(ctx, &wg, records, errs)
	}
	if err != nil {
		return c.t.Fail(cli.AsKafka(err, ""))
	}
	count := c.loop(ctx, records, errs)
	cancel()
	closeSource()
	wg.Wait()
	fmt.Fprintf(c.t.Stderr, "Processed a total of %d messages\n", count)
	return 0
}

// loop prints records until --max-messages, --timeout-ms, an error or a
// signal, and returns how many it printed.
func (c *consumer) loop(ctx context.Context, records <-chan record, errs <-chan error) int {
	count := 0
	var timeout <-chan time.Time
	var timer *time.Timer
	if c.s.timeout > 0 {
		timer = time.NewTimer(c.s.timeout)
		defer timer.Stop()
		timeout = timer.C
	}
	for c.s.maxMessages < 0 || count < c.s.maxMessages {
		select {
		case <-ctx.Done():
			return count
		case r := <-records:
			c.s.fmt.write(c.t.Stdout, r)
			count++
			if timer != nil {
				timer.Reset(c.s.timeout)
			}
		case err := <-errs:
			c.logError(err)
			return count
		case <-timeout:
			c.logError(cli.Errorf("TimeoutException", ""))
			return count
		}
	}
	return count
}

// logError is ConsoleConsumer.process's "terminating" log line, followed by
// the exception as log4j prints it.
func (c *consumer) logError(err error) {
	now := time.Now()
	k := cli.AsKafka(err, "")
	exc := "org.apache.kafka.common.errors." + k.Class
	if k.Msg != "" {
		exc += ": " + k.Msg
	}
	fmt.Fprintf(c.t.Stderr, "[%s,%03d] ERROR Error processing message, terminating consumer process:  (%s)\n%s\n",
		now.Format("2006-01-02 15:04:05"), now.Nanosecond()/1e6, logger, exc)
}

// startPartitions reads every partition of the topic (or --partition) from
// the start offset, without a group.
func (c *consumer) startPartitions(ctx context.Context, wg *sync.WaitGroup, out chan<- record, errs chan<- error) (func(), error) {
	client, err := sarama.NewClient(c.s.bootstrap, c.s.cfg)
	if err != nil {
		return nil, err
	}
	parts, err := client.Partitions(c.s.topic)
	if err != nil {
		client.Close()
		return nil, err
	}
	if c.s.partition >= 0 {
		found := false
		for _, p := range parts {
			found = found || p == c.s.partition
		}
		if !found {
			client.Close()
			return nil, cli.Errorf("IllegalArgumentException", "Partition %d does not exist in topic %s", c.s.partition, c.s.topic)
		}
		parts = []int32{c.s.partition}
	}
	cons, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		client.Close()
		return nil, err
	}
	var pcs []sarama.PartitionConsumer
	closeAll := func() {
		for _, pc := range pcs {
			pc.AsyncClose()
		}
		cons.Close()
		client.Close()
	}
	for _, p := range parts {
		pc, err := cons.ConsumePartition(c.s.topic, p, c.s.offset)
		if err != nil {
			closeAll()
			return nil, err
		}
		pcs = append(pcs, pc)
		wg.Add(2)
		go func() {
			defer wg.Done()
			for m := range pc.Messages() {
				select {
				case out <- fromSarama(m):
				case <-ctx.Done():
				}
			}
		}()
		go func() {
			defer wg.Done()
			for e := range pc.Errors() {
				select {
				case errs <- e.Err:
				case <-ctx.Done():
				}
			}
		}()
	}
	return closeAll, nil
}

// startGroup joins --group through sarama's ConsumerGroup and forwards the
// records of whatever partitions it is assigned; offsets are committed as
// records are handed to the printing loop (Kafka's auto commit).
func (c *consumer) startGroup(ctx context.Context, wg *sync.WaitGroup, out chan<- record, errs chan<- error) (func(), error) {
	g, err := sarama.NewConsumerGroup(c.s.bootstrap, c.s.group, c.s.cfg)
	if err != nil {
		return nil, err
	}
	h := &handler{ctx: ctx, out: out}
	wg.Add(2)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if err := g.Consume(ctx, []string{c.s.topic}, h); err != nil {
				if errors.Is(err, sarama.ErrClosedConsumerGroup) || ctx.Err() != nil {
					return
				}
				select {
				case errs <- err:
				case <-ctx.Done():
				}
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for e := range g.Errors() {
			select {
			case errs <- e:
			case <-ctx.Done():
			}
		}
	}()
	return func() { g.Close() }, nil
}

type handler struct {
	ctx context.Context
	out chan<- record
}

func (h *handler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *handler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case m, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			select {
			case h.out <- fromSarama(m):
				sess.MarkMessage(m, "")
			case <-sess.Context().Done():
				return nil
			}
		case <-sess.Context().Done():
			return nil
		}
	}
}
