package zkpaths

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestAllocateProducerIDBlockSequence(t *testing.T) {
	chroot := testChroot(t)
	c := connect(t, testZK.ConnectString(), chroot, 8*time.Second)
	tests := []struct {
		name       string
		broker     int32
		start, end int64
		json       string
	}{
		{"first block when the znode is missing", 0, 0, 999, `{"version":1,"broker":0,"block_start":"0","block_end":"999"}`},
		{"second block follows the first", 2, 1000, 1999, `{"version":1,"broker":2,"block_start":"1000","block_end":"1999"}`},
		{"third block", 1, 2000, 2999, `{"version":1,"broker":1,"block_start":"2000","block_end":"2999"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := c.AllocateProducerIDBlock(tt.broker)
			if err != nil {
				t.Fatal(err)
			}
			if b.BlockStart != tt.start || b.BlockEnd != tt.end || b.Broker != tt.broker {
				t.Fatalf("block %+v, want broker %d [%d, %d]", b, tt.broker, tt.start, tt.end)
			}
			data, _, err := c.Get(ProducerIDBlockPath)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != tt.json {
				t.Fatalf("znode data %s, want %s", data, tt.json)
			}
		})
	}
}

func TestAllocateProducerIDBlockNullData(t *testing.T) {
	chroot := testChroot(t)
	c := connect(t, testZK.ConnectString(), chroot, 8*time.Second)
	// What the broker's start-up creates (createTopLevelPaths): null data.
	if err := c.CreateRecursive(ProducerIDBlockPath, nil); err != nil {
		t.Fatal(err)
	}
	b, err := c.AllocateProducerIDBlock(7)
	if err != nil {
		t.Fatal(err)
	}
	if b.BlockStart != 0 || b.BlockEnd != 999 {
		t.Fatalf("block %+v, want [0, 999]", b)
	}
}

// Several brokers (each its own session) allocating at once must never get
// overlapping ids: the conditional write makes all but one retry.
func TestProducerIDManagersUniqueAcrossBrokers(t *testing.T) {
	chroot := testChroot(t)
	const brokers, perBroker = 4, 2500 // three blocks each
	var (
		mu   sync.Mutex
		seen = map[int64]int32{}
		wg   sync.WaitGroup
		errs = make(chan error, brokers)
	)
	for i := int32(0); i < brokers; i++ {
		c := connect(t, testZK.ConnectString(), chroot, 8*time.Second)
		m := NewProducerIDManager(c, i, testLog(t))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < perBroker; n++ {
				id, err := m.GenerateProducerID()
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				if other, dup := seen[id]; dup {
					mu.Unlock()
					errs <- fmt.Errorf("producer id %d handed out to broker %d and again to broker %d", id, other, i)
					return
				}
				seen[id] = i
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != brokers*perBroker {
		t.Fatalf("%d ids, want %d", len(seen), brokers*perBroker)
	}
	// Twelve blocks were taken, so the znode names the last one.
	c := connect(t, testZK.ConnectString(), chroot, 8*time.Second)
	data, _, err := c.Get(ProducerIDBlockPath)
	if err != nil {
		t.Fatal(err)
	}
	last, ok, err := DecodeProducerIDBlock(data)
	if err != nil || !ok {
		t.Fatalf("decode %s: %v", data, err)
	}
	if last.BlockEnd != brokers*3*ProducerIDBlockSize-1 {
		t.Fatalf("last block %+v, want end %d", last, brokers*3*ProducerIDBlockSize-1)
	}
}

// A restarted broker (a new manager) never reuses ids of its old block.
func TestProducerIDManagerRestartTakesNewBlock(t *testing.T) {
	chroot := testChroot(t)
	c := connect(t, testZK.ConnectString(), chroot, 8*time.Second)
	m := NewProducerIDManager(c, 1, testLog(t))
	first, err := m.GenerateProducerID()
	if err != nil {
		t.Fatal(err)
	}
	m2 := NewProducerIDManager(c, 1, testLog(t))
	second, err := m2.GenerateProducerID()
	if err != nil {
		t.Fatal(err)
	}
	if first != 0 || second != ProducerIDBlockSize {
		t.Fatalf("ids %d then %d after a restart, want 0 then %d", first, second, ProducerIDBlockSize)
	}
}
