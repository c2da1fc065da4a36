package integration

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// TestSoak is the long randomized run behind `make soak` (fault-matrix J1
// with the WP workload): every 15 s a random fault — kill -9, SIGSTOP past
// the session timeout, a clean bounce, a follower's fetches cut, a broker cut
// from ZooKeeper — hits a random broker, is healed after a random while, and
// the checker runs after each heal. GREGOR_SOAK=<duration> enables it
// (make soak sets 10m).
func TestSoak(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("GREGOR_SOAK"))
	if err != nil || d <= 0 {
		t.Skip("set GREGOR_SOAK=<duration> (make soak) to run the randomized fault soak")
	}
	c := replicationCluster(t)
	createRF3Topic(t, c, durableTopic, durableParts, nil)
	topics := map[string]int32{durableTopic: durableParts}
	w := startProducer(t, c, durableTopic, "soak", sarama.WaitForAll, 200)
	w.WaitAcks(c, 200, 60*time.Second)

	seed := time.Now().UnixNano()
	t.Logf("soak for %s, seed %d", d, seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	faults := []struct {
		name   string
		inject func(b int)
	}{
		{"kill -9", func(b int) { c.KillBroker(b) }},
		{"SIGTERM", func(b int) { c.StopBroker(b) }},
		{"SIGSTOP", func(b int) { c.PauseBroker(b) }},
		{"cut fetches", func(b int) {
			for o := 0; o < c.Brokers(); o++ {
				if o != b {
					c.CutFetches(t, b, o)
				}
			}
		}},
		{"cut from ZooKeeper", func(b int) { c.CutFromZK(t, b) }},
	}
	end := time.Now().Add(d)
	for round := 1; time.Now().Before(end); round++ {
		f := faults[rng.IntN(len(faults))]
		b := rng.IntN(c.Brokers())
		hold := time.Duration(2+rng.IntN(13)) * time.Second
		t.Logf("round %d: %s broker %d for %s", round, f.name, b, hold)
		f.inject(b)
		time.Sleep(hold)
		converge(t, c, topics)
		d := w.Check(t, c, durableParts)
		t.Logf("round %d: %s; producer %s", round, d, w.Summary())
		if !d.ok() {
			t.Fatalf("round %d (%s broker %d): delivery invariants broken: %s", round, f.name, b, d)
		}
		if rest := 15*time.Second - hold; rest > 0 {
			time.Sleep(rest) // a fault every 15 s at most
		}
	}
	w.Stop()
	converge(t, c, topics)
	verify(t, c, w, durableParts)
}
