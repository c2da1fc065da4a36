package handlers

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestFetchLongPollWokenByProduce(t *testing.T) {
	b := newTestBroker(t)
	b.addTopic("t", testBrokerID)
	type result struct {
		p       kmsg.FetchResponseTopicPartition
		elapsed time.Duration
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		req := fetchRequest("t", 0, 0, 20000, 1)
		req.SetVersion(11)
		resp, err := b.h.Handle(context.Background(), serverRequest{APIKey: 1, APIVersion: 11, Body: req, Listener: clientListener}.req())
		if err != nil {
			t.Errorf("fetch: %v", err)
			done <- result{}
			return
		}
		done <- result{resp.(*kmsg.FetchResponse).Topics[0].Partitions[0], time.Since(start)}
	}()
	// The fetch must be parked before the produce; poll until it waits.
	deadline := time.Now().Add(5 * time.Second)
	for {
		select {
		case r := <-done:
			t.Fatalf("fetch returned before the produce: %+v", r.p)
		default:
		}
		if waiting(b, "t", 0) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if p := b.produce("t", 0, makeBatch(batchOpts{}, "hello")); p.ErrorCode != 0 {
		t.Fatalf("produce: %s", codeName(p.ErrorCode))
	}
	select {
	case r := <-done:
		if r.p.ErrorCode != 0 {
			t.Fatalf("fetch: %s", codeName(r.p.ErrorCode))
		}
		if got := readValues(t, r.p.RecordBatches); !slices.Equal(got, []string{"hello"}) {
			t.Fatalf("values %q", got)
		}
		if r.elapsed > 10*time.Second {
			t.Fatalf("fetch took %v: not woken by the produce", r.elapsed)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("fetch not woken by the produce")
	}
}

// waiting reports whether a delayed fetch is parked on the partition.
func waiting(b *testBroker, topic string, partition int32) bool {
	p := b.replicas.Partition(topic, partition)
	return p != nil && p.NumWaiters() > 0
}

func TestFetchLongPollTimesOut(t *testing.T) {
	b := newTestBroker(t)
	b.addTopic("t", testBrokerID)
	start := time.Now()
	p := b.fetch(12, fetchRequest("t", 0, 0, 150, 1))
	if elapsed := time.Since(start); elapsed < 140*time.Millisecond {
		t.Fatalf("returned after %v, before MaxWaitMillis", elapsed)
	}
	if p.ErrorCode != 0 || len(p.RecordBatches) != 0 || p.HighWatermark != 0 {
		t.Fatalf("got %s, %d bytes, hw %d", codeName(p.ErrorCode), len(p.RecordBatches), p.HighWatermark)
	}
}

func TestFetchLongPollEndsWithContext(t *testing.T) {
	b := newTestBroker(t)
	b.addTopic("t", testBrokerID)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	req := fetchRequest("t", 0, 0, 1<<31-1, 1) // max_wait = INT32_MAX
	if _, err := b.doCtx(ctx, clientListener, 12, req); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("fetch outlived its context: %v", elapsed)
	}
}

func TestFetchErrors(t *testing.T) {
	b := newTestBroker(t)
	b.addTopic("t", testBrokerID)
	b.addTopic("elsewhere", 2)
	b.produce("t", 0, makeBatch(batchOpts{}, "a", "b"))
	for _, tc := range []struct {
		name    string
		version int16
		req     func() *kmsg.FetchRequest
		want    *kerr.Error
	}{
		{"beyond end", 12, func() *kmsg.FetchRequest { return fetchRequest("t", 0, 3, 0, 1) }, kerr.OffsetOutOfRange},
		{"negative offset", 12, func() *kmsg.FetchRequest { return fetchRequest("t", 0, -1, 0, 1) }, kerr.OffsetOutOfRange},
		{"unknown topic", 12, func() *kmsg.FetchRequest { return fetchRequest("nope", 0, 0, 0, 1) }, kerr.UnknownTopicOrPartition},
		{"unknown partition", 12, func() *kmsg.FetchRequest { return fetchRequest("t", 9, 0, 0, 1) }, kerr.UnknownTopicOrPartition},
		{"not leader", 12, func() *kmsg.FetchRequest { return fetchRequest("elsewhere", 0, 0, 0, 1) }, kerr.NotLeaderForPartition},
		{"stale leader epoch", 12, func() *kmsg.FetchRequest {
			r := fetchRequest("t", 0, 0, 0, 1)
			r.Topics[0].Partitions[0].CurrentLeaderEpoch = 0
			return r
		}, kerr.FencedLeaderEpoch},
		{"newer leader epoch", 9, func() *kmsg.FetchRequest {
			r := fetchRequest("t", 0, 0, 0, 1)
			r.Topics[0].Partitions[0].CurrentLeaderEpoch = 5
			return r
		}, kerr.UnknownLeaderEpoch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "stale leader epoch" {
				// Re-elect: the leader epoch becomes 1.
				b.addTopic("t", testBrokerID)
			}
			// MaxWait is long: an error must answer at once.
			r := tc.req()
			r.MaxWaitMillis = 30000
			start := time.Now()
			p := b.fetch(tc.version, r)
			if p.ErrorCode != tc.want.Code {
				t.Fatalf("got %s, want %s", codeName(p.ErrorCode), tc.want.Message)
			}
			if time.Since(start) > 10*time.Second {
				t.Fatalf("an error waited for MaxWait")
			}
			if p.HighWatermark != -1 || len(p.RecordBatches) != 0 {
				t.Fatalf("hw %d, %d bytes on error", p.HighWatermark, len(p.RecordBatches))
			}
		})
	}

	t.Run("incremental session", func(t *testing.T) {
		r := fetchRequest("t", 0, 0, 0, 1)
		r.SessionID, r.SessionEpoch = 42, 3
		resp := b.do(clientListener, 12, r).(*kmsg.FetchResponse)
		if resp.ErrorCode != kerr.FetchSessionIDNotFound.Code {
			t.Fatalf("got %s", codeName(resp.ErrorCode))
		}
	})
	t.Run("new session declined", func(t *testing.T) {
		r := fetchRequest("t", 0, 0, 0, 1)
		r.SessionID, r.SessionEpoch = 0, 0
		resp := b.do(clientListener, 12, r).(*kmsg.FetchResponse)
		if resp.ErrorCode != 0 || resp.SessionID != 0 || len(resp.Topics) != 1 {
			t.Fatalf("got %s session %d", codeName(resp.ErrorCode), resp.SessionID)
		}
	})
}

func TestFetchByteLimits(t *testing.T) {
	b := newTestBroker(t)
	b.addTopic("t", testBrokerID, testBrokerID)
	big := strings.Repeat("x", 2000)
	for i := 0; i < 3; i++ {
		b.produce("t", 0, makeBatch(batchOpts{}, big))
		b.produce("t", 1, makeBatch(batchOpts{}, big))
	}
	twoParts := func(partMax, max int32) *kmsg.FetchRequest {
		r := fetchRequest("t", 0, 0, 0, 1)
		r.MaxBytes = max
		r.Topics[0].Partitions[0].PartitionMaxBytes = partMax
		p1 := r.Topics[0].Partitions[0]
		p1.Partition = 1
		r.Topics[0].Partitions = append(r.Topics[0].Partitions, p1)
		return r
	}
	for _, tc := range []struct {
		name         string
		partMax, max int32
		want0, want1 int // records per partition
	}{
		{"everything", 1 << 20, 1 << 20, 3, 3},
		{"partition max 0 still gives one batch", 0, 1 << 20, 1, 0},
		{"partition max below a batch", 100, 1 << 20, 1, 0},
		{"response max below a batch", 1 << 20, 100, 1, 0},
		{"negative response max", 1 << 20, -1, 1, 0},
		{"response max two batches", 1 << 20, 4200, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := b.do(clientListener, 11, twoParts(tc.partMax, tc.max)).(*kmsg.FetchResponse)
			ps := resp.Topics[0].Partitions
			for i, want := range []int{tc.want0, tc.want1} {
				if ps[i].ErrorCode != 0 {
					t.Fatalf("partition %d: %s", i, codeName(ps[i].ErrorCode))
				}
				if got := len(readValues(t, ps[i].RecordBatches)); got != want {
					t.Errorf("partition %d: %d records, want %d", i, got, want)
				}
			}
		})
	}
}

// An empty fetch carries an empty record set, never a null one: librdkafka
// (kcat) fails with "invalid MessageSetSize -1" on null.
func TestFetchEmptyRecordSetIsNotNull(t *testing.T) {
	b := newTestBroker(t)
	b.addTopic("t", testBrokerID)
	for _, version := range []int16{4, 11, 12} {
		req := fetchRequest("t", 0, 0, 0, 1)
		resp, err := b.doCtx(t.Context(), clientListener, version, req)
		if err != nil {
			t.Fatal(err)
		}
		wire := resp.AppendTo(nil)
		decoded := kmsg.NewPtrFetchResponse()
		decoded.SetVersion(version)
		if err := decoded.ReadFrom(wire); err != nil {
			t.Fatalf("v%d: decode: %v", version, err)
		}
		p := decoded.Topics[0].Partitions[0]
		if p.RecordBatches == nil {
			t.Fatalf("v%d: record set encoded as null", version)
		}
	}
}
