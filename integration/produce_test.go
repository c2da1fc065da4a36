package integration

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

var codecs = []sarama.CompressionCodec{
	sarama.CompressionNone,
	sarama.CompressionGZIP,
	sarama.CompressionSnappy,
	sarama.CompressionLZ4,
	sarama.CompressionZSTD,
}

// TestProduceConsumeEveryCodec produces keyed and unkeyed messages with every
// compression codec to topics of 1, 3 and 64 partitions, consumes them from
// the oldest offset, and reads everything again after a clean restart and
// after kill -9 and restart.
func TestProduceConsumeEveryCodec(t *testing.T) {
	c := newCluster(t, opts{})
	admin := c.Admin(t, nil)
	topics := []struct {
		name       string
		partitions int32
	}{{"one-partition", 1}, {"three-partitions", 3}, {"sixty-four-partitions", 64}}

	acked := map[string][]record{}
	for _, tp := range topics {
		createTopic(t, c, admin, tp.name, tp.partitions, 1)
		for _, codec := range codecs {
			for _, keyed := range []bool{false, true} {
				name := fmt.Sprintf("produce/%s/%s/keyed=%v", tp.name, codec, keyed)
				t.Run(name, func(t *testing.T) {
					cfg := c.SaramaConfig()
					cfg.Producer.Compression = codec
					msgs := makeMessages(fmt.Sprintf("%s-%s-%v", tp.name, codec, keyed), 80, keyed)
					acked[tp.name] = append(acked[tp.name], produce(t, c, cfg, tp.name, msgs)...)
				})
			}
		}
	}

	checkAll := func(t *testing.T) {
		for _, tp := range topics {
			t.Run(tp.name, func(t *testing.T) {
				got := consumeAll(t, c, nil, tp.name)
				if len(got) != int(tp.partitions) {
					t.Errorf("consumed %d partitions, topic has %d", len(got), tp.partitions)
				}
				checkExactly(t, acked[tp.name], got)
			})
		}
	}
	t.Run("consume from oldest", checkAll)

	t.Run("SIGTERM and restart: everything read again", func(t *testing.T) {
		c.RestartBroker(0)
		for _, tp := range topics {
			waitTopicReady(t, c, tp.name, int(tp.partitions))
		}
		checkAll(t)
	})

	t.Run("SIGKILL and restart: everything read again, offsets continue", func(t *testing.T) {
		c.KillBroker(0)
		c.StartBroker(0)
		for _, tp := range topics {
			waitTopicReady(t, c, tp.name, int(tp.partitions))
		}
		checkAll(t)
		// The recovered log continues where it ended: the next message on
		// each partition of the 3-partition topic gets the next offset.
		cfg := c.SaramaConfig()
		cfg.Producer.Partitioner = sarama.NewManualPartitioner
		var more []message
		for p := int32(0); p < 3; p++ {
			more = append(more, message{Partition: p, Value: fmt.Sprintf("after-kill-%d", p)})
		}
		acked["three-partitions"] = append(acked["three-partitions"], produce(t, c, cfg, "three-partitions", more)...)
		got := consumeAll(t, c, nil, "three-partitions")
		checkExactly(t, acked["three-partitions"], got)
	})
}

// TestKillDuringProduce kills -9 the only broker while a producer (acks=all)
// keeps sending, restarts it, and checks that every message the broker
// acknowledged, before or after the crash, is there at its offset: a killed
// process does not lose the page cache, so nothing acknowledged may vanish.
func TestKillDuringProduce(t *testing.T) {
	c := newCluster(t, opts{})
	const topic = "kill-during-produce"
	createTopic(t, c, c.Admin(t, nil), topic, 3, 1)

	var (
		mu      sync.Mutex
		acked   []record
		sent    = map[string]bool{}
		lastErr error
		batch   int
	)
	ackedCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			cfg := c.SaramaConfig()
			cfg.Producer.Retry.Max = 2
			cfg.Producer.Retry.Backoff = 100 * time.Millisecond
			cfg.Metadata.Retry.Max = 2
			cfg.Metadata.Retry.Backoff = 100 * time.Millisecond
			cfg.Producer.Compression = codecs[batch%len(codecs)]
			msgs := makeMessages(fmt.Sprintf("batch%04d", batch), 20, batch%2 == 0)
			batch++
			mu.Lock()
			for _, m := range msgs {
				sent[m.Value] = true
			}
			mu.Unlock()
			got, err := produceSome(c, cfg, topic, msgs)
			mu.Lock()
			acked = append(acked, got...)
			if err != nil {
				lastErr = err
			}
			mu.Unlock()
			if err != nil {
				time.Sleep(50 * time.Millisecond) // back off while the broker is down
			}
		}
	}()
	defer func() {
		select {
		case <-done:
		default:
			close(stop)
			<-done
		}
	}()

	c.WaitFor(t, 60*time.Second, func() error {
		if n := ackedCount(); n < 300 {
			return fmt.Errorf("%d messages acknowledged before the kill, want 300", n)
		}
		return nil
	})
	c.KillBroker(0)
	beforeRestart := ackedCount()
	c.StartBroker(0)
	c.WaitFor(t, 60*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if n := len(acked) - beforeRestart; n < 200 {
			return fmt.Errorf("%d messages acknowledged after the restart, want 200 (last producer error: %v)", n, lastErr)
		}
		return nil
	})
	close(stop)
	<-done

	got := consumeAll(t, c, nil, topic)
	mu.Lock()
	defer mu.Unlock()
	extra := checkAcked(t, acked, sent, got)
	t.Logf("%d acknowledged messages all consumed; %d unacknowledged ones were also stored", len(acked), extra)
}

// TestSaramaVersions produces and consumes with sarama speaking the protocol
// of several Kafka versions, from 0.11 (the first with record batches) to the
// newest ZooKeeper-mode Kafka, with a codec each version allows.
func TestSaramaVersions(t *testing.T) {
	c := newCluster(t, opts{})
	cases := []struct {
		version sarama.KafkaVersion
		codec   sarama.CompressionCodec
	}{
		{sarama.V0_11_0_0, sarama.CompressionGZIP},
		{sarama.V1_0_0_0, sarama.CompressionSnappy},
		{sarama.V2_0_0_0, sarama.CompressionLZ4},
		{sarama.V2_8_0_0, sarama.CompressionZSTD},
		{sarama.V3_6_0_0, sarama.CompressionZSTD},
	}
	for _, tc := range cases {
		t.Run(tc.version.String(), func(t *testing.T) {
			cfg := c.SaramaConfig()
			cfg.Version = tc.version
			cfg.Producer.Compression = tc.codec
			topic := "version-" + sanitize(tc.version.String())
			admin := c.Admin(t, cfg)
			createTopic(t, c, admin, topic, 3, 1)
			var acked []record
			acked = append(acked, produce(t, c, cfg, topic, makeMessages(topic+"-keyed", 50, true))...)
			acked = append(acked, produce(t, c, cfg, topic, makeMessages(topic+"-unkeyed", 50, false))...)
			cfg.Producer.Compression = sarama.CompressionNone
			acked = append(acked, produce(t, c, cfg, topic, makeMessages(topic+"-plain", 20, true))...)
			checkExactly(t, acked, consumeAll(t, c, cfg, topic))
		})
	}
}
