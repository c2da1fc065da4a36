package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// The replication proof of issue 4: the fault-matrix rows R1–R8, R10, R11,
// R13–R15, R18, R19 and D1 on a 3-node ZooKeeper ensemble and 3 brokers,
// with the durable producer WP (acks=all, RF=3, min.insync.replicas=2,
// unclean election off, no retries) and the delivery checker after every
// heal, plus the negative controls that prove the checker can fail (W1:
// acks=1 and a leader kill; N1: unclean election).
//
// One cluster serves every step, in order, because a cluster with a
// ZooKeeper ensemble takes long to start; each step heals what it broke and
// waits until every partition has its full ISR again before the checker runs.

const (
	sessionTimeout = 6 * time.Second // zookeeper.session.timeout.ms in CI
	durableTopic   = "durable"
	durableParts   = int32(3)
)

func replicationCluster(t *testing.T) *Cluster {
	if testing.Short() {
		t.Skip("replication faults take minutes; skipped with -short")
	}
	requireIptables(t)
	return newCluster(t, opts{
		Brokers:    3,
		ZooKeepers: 3,
		Overrides: map[string]string{
			"zookeeper.session.timeout.ms":   "6000",
			"replica.lag.time.max.ms":        "10000",
			"min.insync.replicas":            "2",
			"default.replication.factor":     "3",
			"unclean.leader.election.enable": "false",
			"num.partitions":                 "3",
			"replica.fetch.backoff.ms":       "200",
		},
	})
}

// createRF3Topic creates a topic with replication factor 3 and configs and
// waits until every partition has its full ISR.
func createRF3Topic(t testing.TB, c *Cluster, name string, partitions int32, configs map[string]string) {
	t.Helper()
	detail := &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 3, ConfigEntries: map[string]*string{}}
	for k, v := range configs {
		detail.ConfigEntries[k] = &v
	}
	if err := c.Admin(t, nil).CreateTopic(name, detail, false); err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	c.WaitFullISR(t, 60*time.Second, 3, map[string]int32{name: partitions})
}

// followersOf returns a partition's leader and the other brokers.
func followersOf(t testing.TB, c *Cluster, topic string, p int32) (leader int, followers []int) {
	t.Helper()
	leader = c.Leader(t, topic, p)
	for b := 0; b < c.Brokers(); b++ {
		if b != leader {
			followers = append(followers, b)
		}
	}
	return leader, followers
}

// restartDead starts every broker that is not running and resumes paused ones.
func restartDead(c *Cluster) {
	for b := 0; b < c.Brokers(); b++ {
		if !c.Running(b) {
			c.StartBroker(b)
		} else if c.brokers[b].isPaused() {
			c.ResumeBroker(b)
		}
	}
}

// converge heals the network, restarts what is down and waits for the full
// ISR everywhere.
func converge(t *testing.T, c *Cluster, topics map[string]int32) {
	t.Helper()
	c.Heal(t)
	restartDead(c)
	c.WaitReady(t)
	c.WaitFullISR(t, 60*time.Second, 3, topics)
}

// verify runs the checker for w and I-div for its topic.
func verify(t *testing.T, c *Cluster, w *producerWorkload, partitions int32) {
	t.Helper()
	d := w.Check(t, c, partitions)
	t.Logf("checker after %s: %s; producer %s", t.Name(), d, w.Summary())
	if !d.ok() {
		t.Errorf("delivery invariants broken: %s", d)
	}
	CheckReplicasIdentical(t, c, w.topic, partitions)
}

// firstAckAfter waits for an ack on partition p received after t0 and
// returns how long after t0 it came.
func firstAckAfter(t *testing.T, c *Cluster, w *producerWorkload, p int32, t0 time.Time, timeout time.Duration) time.Duration {
	t.Helper()
	var took time.Duration
	c.WaitFor(t, timeout, func() error {
		for _, a := range w.Acks() {
			if a.Partition == p && a.At.After(t0) {
				took = a.At.Sub(t0)
				return nil
			}
		}
		return fmt.Errorf("no ack on %s-%d since %s (%s)", w.topic, p, t0.Format("15:04:05.000"), w.Summary())
	})
	return took
}

func TestReplicationFaults(t *testing.T) {
	c := replicationCluster(t)
	createRF3Topic(t, c, durableTopic, durableParts, nil)
	topics := map[string]int32{durableTopic: durableParts}
	w := startProducer(t, c, durableTopic, "wp", sarama.WaitForAll, 200)
	w.WaitAcks(c, 200, 60*time.Second)

	step := func(name string, fault func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			fault(t)
			converge(t, c, topics)
			w.WaitAcks(c, 50, 60*time.Second)
			verify(t, c, w, durableParts)
		})
	}

	// R1, R3: clean bounce (SIGTERM) of the leader, five times in a row,
	// chasing the current leader.
	step("R1_R3_clean_bounce_leader_x5", func(t *testing.T) {
		for i := 0; i < 5; i++ {
			leader := c.Leader(t, durableTopic, 0)
			t0 := time.Now()
			c.StopBroker(leader)
			took := firstAckAfter(t, c, w, 0, t0, 30*time.Second)
			t.Logf("bounce %d: leader %d stopped; first ack on the new leader after %s", i+1, leader, took.Round(time.Millisecond))
			c.StartBroker(leader)
			c.WaitFullISR(t, 60*time.Second, 3, topics)
		}
	})

	// R2, R4: hard bounce (SIGKILL, wait for deregistration, restart) of the
	// leader; produce resumes on a new leader within the session timeout +
	// 5 s (the ducktape grace).
	step("R2_R4_hard_bounce_leader_x5", func(t *testing.T) {
		for i := 0; i < 5; i++ {
			leader := c.Leader(t, durableTopic, 0)
			t0 := time.Now()
			c.KillBroker(leader)
			took := firstAckAfter(t, c, w, 0, t0, 60*time.Second)
			t.Logf("bounce %d: leader %d killed; first ack on the new leader after %s", i+1, leader, took.Round(time.Millisecond))
			if took > sessionTimeout+5*time.Second {
				t.Errorf("R2: produce resumed %s after the leader was killed, want <= session timeout + 5s", took)
			}
			c.StartBroker(leader)
			c.WaitFullISR(t, 60*time.Second, 3, topics)
		}
	})

	// R5–R8: the same aimed at the controller; /controller_epoch +1 per
	// failover.
	step("R5_R8_bounce_controller", func(t *testing.T) {
		for i, hard := range []bool{false, true, false, true} {
			ctrl, err := c.Controller()
			if err != nil {
				t.Fatal(err)
			}
			epoch, err := c.ControllerEpoch()
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Now()
			if hard {
				c.KillBroker(ctrl)
			} else {
				c.StopBroker(ctrl)
			}
			var newCtrl int
			c.WaitFor(t, sessionTimeout+10*time.Second, func() error {
				n, err := c.Controller()
				if err != nil {
					return err
				}
				if n == ctrl {
					return fmt.Errorf("broker %d still controller", n)
				}
				newCtrl = n
				return nil
			})
			took := time.Since(t0)
			e2, err := c.ControllerEpoch()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("failover %d (hard=%v): controller %d → %d in %s, epoch %d → %d", i+1, hard, ctrl, newCtrl, took.Round(time.Millisecond), epoch, e2)
			if e2 != epoch+1 {
				t.Errorf("I-fence: /controller_epoch went %d → %d on one failover, want +1", epoch, e2)
			}
			if took > sessionTimeout+5*time.Second {
				t.Errorf("new controller after %s, want <= session timeout + 5s", took)
			}
			c.StartBroker(ctrl)
			c.WaitFullISR(t, 60*time.Second, 3, topics)
		}
	})

	// R10: SIGSTOP the leader for 2× the session timeout (a zombie leader),
	// then SIGCONT: its in-flight produces must fail, never succeed after the
	// resume (the checker finds any that did and were truncated).
	step("R10_zombie_leader", func(t *testing.T) {
		leader := c.Leader(t, durableTopic, 0)
		t0 := time.Now()
		c.PauseBroker(leader)
		took := firstAckAfter(t, c, w, 0, t0, 60*time.Second)
		t.Logf("leader %d paused; first ack on the new leader after %s", leader, took.Round(time.Millisecond))
		time.Sleep(time.Until(t0.Add(2 * sessionTimeout)))
		c.ResumeBroker(leader)
	})

	// R11: SIGSTOP the controller for 2× the session timeout: a new
	// controller takes over with a higher epoch; the zombie's writes are
	// fenced and it resigns when it wakes.
	step("R11_zombie_controller", func(t *testing.T) {
		ctrl, err := c.Controller()
		if err != nil {
			t.Fatal(err)
		}
		epoch, _ := c.ControllerEpoch()
		t0 := time.Now()
		c.PauseBroker(ctrl)
		c.WaitFor(t, sessionTimeout+10*time.Second, func() error {
			n, err := c.Controller()
			if err != nil {
				return err
			}
			if n == ctrl {
				return fmt.Errorf("paused broker %d still controller", n)
			}
			return nil
		})
		time.Sleep(time.Until(t0.Add(2 * sessionTimeout)))
		c.ResumeBroker(ctrl)
		c.WaitReady(t)
		e2, _ := c.ControllerEpoch()
		if e2 <= epoch {
			t.Errorf("I-fence: /controller_epoch %d after the failover, was %d", e2, epoch)
		}
	})

	// R13: partition one follower from the other brokers: the ISR shrinks
	// within 1.5 × replica.lag.time.max.ms and produce goes on (min ISR 2 is
	// met); after the heal the ISR expands within 30 s.
	step("R13_partition_one_follower", func(t *testing.T) {
		_, followers := followersOf(t, c, durableTopic, 0)
		f := followers[0]
		if ctrl, _ := c.Controller(); ctrl == f {
			f = followers[1] // keep the controller reachable for AlterPartition
		}
		t0 := time.Now()
		for b := 0; b < c.Brokers(); b++ {
			if b != f {
				c.CutBrokers(t, f, b)
			}
		}
		c.WaitFor(t, 25*time.Second, func() error {
			st, err := c.PartitionState(durableTopic, 0)
			if err != nil {
				return err
			}
			if contains(st.ISR, f) {
				return fmt.Errorf("%s-0 ISR %v still holds partitioned broker %d", durableTopic, st.ISR, f)
			}
			return nil
		})
		shrunk := time.Since(t0)
		t.Logf("ISR of %s-0 dropped broker %d after %s", durableTopic, f, shrunk.Round(time.Millisecond))
		if shrunk > 15*time.Second+3*time.Second {
			t.Errorf("ISR shrank after %s, want within 1.5 × replica.lag.time.max.ms (15s)", shrunk)
		}
		firstAckAfter(t, c, w, 0, time.Now(), 30*time.Second)
		c.Heal(t)
		t1 := time.Now()
		c.WaitFor(t, 30*time.Second, func() error {
			st, err := c.PartitionState(durableTopic, 0)
			if err != nil {
				return err
			}
			if !contains(st.ISR, f) {
				return fmt.Errorf("%s-0 ISR %v: broker %d not back", durableTopic, st.ISR, f)
			}
			return nil
		})
		t.Logf("ISR of %s-0 took broker %d back %s after the heal", durableTopic, f, time.Since(t1).Round(time.Millisecond))
	})

	// R14: partition both followers from the leader: the ISR falls to the
	// leader alone, below min.insync.replicas: NOT_ENOUGH_REPLICAS and not
	// one ack while it lasts; produce resumes after the heal.
	step("R14_partition_two_followers", func(t *testing.T) {
		leader, followers := followersOf(t, c, durableTopic, 0)
		// Only the followers' fetches are cut: the leader must still reach
		// the controller, which may be one of them, to shrink the ISR.
		for _, f := range followers {
			c.CutFetches(t, f, leader)
		}
		var shrunkAt time.Time
		c.WaitFor(t, 30*time.Second, func() error {
			st, err := c.PartitionState(durableTopic, 0)
			if err != nil {
				return err
			}
			if len(st.ISR) > 1 {
				return fmt.Errorf("%s-0 ISR %v", durableTopic, st.ISR)
			}
			shrunkAt = time.Now()
			return nil
		})
		time.Sleep(5 * time.Second)
		if n := w.AcksSince(shrunkAt.Add(time.Second), 0); n > 0 {
			t.Errorf("R14: %d acks on %s-0 while its ISR was below min.insync.replicas", n, durableTopic)
		}
		if !strings.Contains(w.Summary(), "NOT_ENOUGH_REPLICAS") {
			t.Errorf("R14: the producer saw no NOT_ENOUGH_REPLICAS: %s", w.Summary())
		}
		c.Heal(t)
		firstAckAfter(t, c, w, 0, time.Now(), 60*time.Second)
	})

	// R18: the leader's ZooKeeper session expires (its ZooKeeper traffic is
	// dropped past the session timeout): it re-registers with a new broker
	// epoch and nothing stays under-replicated.
	step("R18_zk_session_expiry", func(t *testing.T) {
		leader := c.Leader(t, durableTopic, 0)
		zc := c.MustZK(t)
		_, before, err := zc.Exists(fmt.Sprintf("/brokers/ids/%d", leader))
		if err != nil || before == nil {
			t.Fatalf("/brokers/ids/%d: %v", leader, err)
		}
		c.CutFromZK(t, leader)
		c.WaitDeregistered(t, leader)
		c.Heal(t)
		c.WaitFor(t, 60*time.Second, func() error {
			ok, after, err := zc.Exists(fmt.Sprintf("/brokers/ids/%d", leader))
			if err != nil || !ok {
				return fmt.Errorf("/brokers/ids/%d not back: %v", leader, err)
			}
			if after.Czxid == before.Czxid {
				return fmt.Errorf("/brokers/ids/%d has the old czxid", leader)
			}
			return nil
		})
	})

	// R19: ZooKeeper quorum loss: two of three servers stopped for 30 s; the
	// cluster converges after they return.
	step("R19_zk_quorum_loss", func(t *testing.T) {
		c.StopZK(1)
		c.StopZK(2)
		time.Sleep(30 * time.Second)
		c.StartZK(1)
		c.StartZK(2)
	})

	// D1: torn tail: kill -9 a follower, cut bytes off its active segment,
	// restart it: it recovers to the last whole batch and rejoins the ISR
	// only after catching up; replicas stay identical below the HW.
	step("D1_torn_tail", func(t *testing.T) {
		_, followers := followersOf(t, c, durableTopic, 0)
		f := followers[0]
		c.KillBroker(f)
		segs, _ := filepath.Glob(filepath.Join(c.DataDir(f), durableTopic+"-0", "*.log"))
		sort.Strings(segs)
		if len(segs) == 0 {
			t.Fatalf("broker %d has no segment of %s-0", f, durableTopic)
		}
		active := segs[len(segs)-1]
		fi, err := os.Stat(active)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(active, fi.Size()-7); err != nil {
			t.Fatal(err)
		}
		t.Logf("cut 7 bytes off %s (%d bytes)", active, fi.Size())
		c.StartBroker(f)
	})

	w.Stop()
	t.Run("final", func(t *testing.T) {
		converge(t, c, topics)
		verify(t, c, w, durableParts)
	})
}

// TestReplicationNegativeControls proves the checker can fail: W1 (acks=1,
// the leader killed while its followers lag) must show lost acknowledged
// messages, and R15 shows that with unclean.leader.election.enable=false a
// partition whose only in-sync replica dies stays offline and loses nothing,
// while with true it comes back and loses what only that replica had (N1).
func TestReplicationNegativeControls(t *testing.T) {
	c := replicationCluster(t)

	t.Run("W1_acks1_leader_kill", func(t *testing.T) {
		createRF3Topic(t, c, "w1", 1, nil)
		w := startProducer(t, c, "w1", "w1", sarama.WaitForLocal, 200)
		w.WaitAcks(c, 100, 60*time.Second)
		leader, followers := followersOf(t, c, "w1", 0)
		for _, f := range followers {
			c.CutFetches(t, f, leader)
		}
		// Shorter than replica.lag.time.max.ms: the followers stay in the
		// ISR and one of them is elected cleanly, without the acks=1 tail.
		time.Sleep(3 * time.Second)
		w.WaitAcks(c, 50, 30*time.Second)
		c.KillBroker(leader)
		c.Heal(t)
		firstAckAfter(t, c, w, 0, time.Now(), 60*time.Second)
		w.Stop()
		converge(t, c, map[string]int32{"w1": 1})
		d := w.Check(t, c, 1)
		t.Logf("checker (acks=1, leader killed): %s", d)
		if len(d.Lost) == 0 {
			t.Errorf("N1/W1: the checker found no loss after an acks=1 leader kill with lagging followers: the harness cannot see loss")
		}
	})

	// R15: kill the followers so the ISR is the leader alone (min ISR 1),
	// write more, kill the leader, start the followers again.
	r15 := func(t *testing.T, topic string, unclean bool) delivery {
		createRF3Topic(t, c, topic, 1, map[string]string{
			"min.insync.replicas":            "1",
			"unclean.leader.election.enable": fmt.Sprint(unclean),
		})
		w := startProducer(t, c, topic, topic, sarama.WaitForAll, 200)
		w.WaitAcks(c, 100, 60*time.Second)
		leader, followers := followersOf(t, c, topic, 0)
		for _, f := range followers {
			c.KillBroker(f)
		}
		c.WaitFor(t, 30*time.Second, func() error {
			st, err := c.PartitionState(topic, 0)
			if err != nil {
				return err
			}
			if len(st.ISR) != 1 || st.ISR[0] != leader {
				return fmt.Errorf("%s-0 ISR %v, want [%d]", topic, st.ISR, leader)
			}
			return nil
		})
		firstAckAfter(t, c, w, 0, time.Now(), 30*time.Second)
		w.WaitAcks(c, 100, 30*time.Second)
		c.KillBroker(leader)
		for _, f := range followers {
			c.StartBroker(f)
		}
		if !unclean {
			// Offline: no leader while the only ISR member is down.
			deadline := time.Now().Add(8 * time.Second)
			for time.Now().Before(deadline) {
				st, err := c.PartitionState(topic, 0)
				if err == nil && st.Leader >= 0 {
					t.Fatalf("R15: %s-0 got leader %d (ISR %v) with unclean election off and its only ISR member %d down", topic, st.Leader, st.ISR, leader)
				}
				time.Sleep(500 * time.Millisecond)
			}
		} else {
			firstAckAfter(t, c, w, 0, time.Now(), 60*time.Second)
		}
		c.StartBroker(leader)
		firstAckAfter(t, c, w, 0, time.Now(), 60*time.Second)
		w.Stop()
		converge(t, c, map[string]int32{topic: 1})
		d := w.Check(t, c, 1)
		t.Logf("checker (unclean=%v): %s", unclean, d)
		return d
	}
	t.Run("R15_unclean_false_offline_no_loss", func(t *testing.T) {
		if d := r15(t, "r15clean", false); !d.ok() {
			t.Errorf("R15: loss with unclean election off: %s", d)
		}
	})
	t.Run("R15_N1_unclean_true_loss_detected", func(t *testing.T) {
		if d := r15(t, "r15unclean", true); len(d.Lost) == 0 {
			t.Errorf("N1: unclean election lost nothing the checker could see: %s", d)
		}
	})
}
