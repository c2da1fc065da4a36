package replica

import (
	"reflect"
	"testing"
	"time"
)

func TestParseThrottledReplicas(t *testing.T) {
	tests := []struct {
		name   string
		v      string
		broker int32
		all    bool
		parts  []int32
	}{
		{"wildcard", "*", 1, true, nil},
		{"this broker", "0:1,1:2,2:1", 1, false, []int32{0, 2}},
		{"other broker", "0:1,1:2", 3, false, nil},
		{"spaces and junk", " 0 : 1 , x:1, 3", 1, false, []int32{0}},
		{"empty", "", 1, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := parseThrottledReplicas(tc.v, tc.broker)
			if s.all != tc.all {
				t.Fatalf("all %v", s.all)
			}
			for p := int32(0); p < 4; p++ {
				want := tc.all
				for _, q := range tc.parts {
					want = want || q == p
				}
				if s.has(p) != want {
					t.Errorf("partition %d throttled %v, want %v", p, s.has(p), want)
				}
			}
		})
	}
}

func TestThrottleRatesFromConfigs(t *testing.T) {
	l, f := ThrottleRatesFromConfigs(map[string]string{LeaderThrottledRateKey: "100", FollowerThrottledRateKey: "200"},
		map[string]string{LeaderThrottledRateKey: "50"})
	if l != 50 || f != 200 {
		t.Fatalf("got %d %d", l, f)
	}
	l, f = ThrottleRatesFromConfigs(nil, map[string]string{LeaderThrottledRateKey: "bad"})
	if l != Unthrottled || f != Unthrottled {
		t.Fatalf("got %d %d", l, f)
	}
}

// TestThrottleBucket drives the bucket with a fake clock: no bound when
// unthrottled, a debt after recording more than the rate allows, paid
// back at the rate, and no more than one second of credit.
func TestThrottleBucket(t *testing.T) {
	now := time.Unix(0, 0)
	b := newThrottleBucket()
	b.now = func() time.Time { return now }
	b.record(1 << 30)
	if b.exceeded() {
		t.Fatal("unthrottled bucket exceeded")
	}
	b.setRate(1000)
	b.record(1500) // 1.5 s worth
	if !b.exceeded() {
		t.Fatal("not exceeded after overdraw")
	}
	if w := b.waitTime(); w != 1500*time.Millisecond {
		t.Fatalf("wait %v", w)
	}
	now = now.Add(1499 * time.Millisecond)
	if !b.exceeded() {
		t.Fatal("debt paid too early")
	}
	now = now.Add(time.Millisecond)
	if b.exceeded() {
		t.Fatal("still exceeded after the debt was paid")
	}
	// An hour idle gives one second of credit, not an hour.
	now = now.Add(time.Hour)
	b.record(1001)
	if !b.exceeded() {
		t.Fatal("credit above one second")
	}
	// Over 10 s of recording in 100-byte steps whenever allowed, the
	// achieved rate is the configured one.
	b.setRate(1000)
	start, sent := now, int64(0)
	for now.Sub(start) < 10*time.Second {
		if !b.exceeded() {
			b.record(100)
			sent += 100
		}
		now = now.Add(10 * time.Millisecond)
	}
	if got := float64(sent) / 10; got < 950 || got > 1110 {
		t.Fatalf("achieved %v B/s, want about 1000", got)
	}
	if !reflect.DeepEqual(b.rate.Load(), int64(1000)) {
		t.Fatal("rate changed")
	}
}

// TestThrottleBucketConcurrent changes the rate while fetch paths ask for it,
// as a dynamic config change does under load (run with -race).
func TestThrottleBucketConcurrent(t *testing.T) {
	b := newThrottleBucket()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 1000 {
			b.setRate(int64(1000 + i%2))
		}
	}()
	for {
		select {
		case <-done:
			return
		default:
			if b.limited() {
				b.record(10)
				_ = b.exceeded()
			}
		}
	}
}
