package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/zkpaths"
)

// reassignThrottle is the replication throttle the reassignments run under
// (bytes/s).
const reassignThrottle = 1 << 20

// TestClusterOpsReassign is issue 7's partition reassignment proof on three
// brokers and a 3-node ZooKeeper ensemble: [0,1] → [1,2] under an acks=all
// producer with a 1 MiB/s replication throttle (listed while in progress,
// no acked record lost, the new replicas identical, the removed replica's
// directory deleted, the achieved rate at most 20% over the throttle),
// cancellation, R22 (the controller SIGKILLed mid-reassignment; the next
// one finishes it) and /admin/reassign_partitions for Kafka's old tooling.
func TestClusterOpsReassign(t *testing.T) {
	c := newCluster(t, opts{
		Brokers:    3,
		ZooKeepers: 3,
		Overrides: map[string]string{
			"replica.fetch.backoff.ms": "200",
			"replica.lag.time.max.ms":  "10000",
		},
	})
	admin := c.Admin(t, nil)
	setThrottleRates(t, admin, reassignThrottle)

	t.Run("throttled under load", func(t *testing.T) {
		const topic, size = "move", 12 << 20
		createAssigned(t, c, topic, []int32{0, 1})
		produceN(t, c, topic, 0, size/(16<<10), 16<<10)
		setTopicConfig(t, admin, topic, "leader.replication.throttled.replicas", "0:0,0:1")
		setTopicConfig(t, admin, topic, "follower.replication.throttled.replicas", "0:2")
		w := startProducer(t, c, topic, "reassign", sarama.WaitForAll, 50)
		w.WaitAcks(c, 20, 30*time.Second)

		start := time.Now()
		if err := admin.AlterPartitionReassignments(topic, [][]int32{{1, 2}}); err != nil {
			t.Fatalf("alter reassignments: %v", err)
		}
		st := listReassignment(t, admin, topic)
		if st == nil || !reflect.DeepEqual(st.AddingReplicas, []int32{2}) || !reflect.DeepEqual(st.RemovingReplicas, []int32{0}) {
			t.Fatalf("reassignment not listed while in progress: %+v", st)
		}
		waitReassigned(t, c, admin, topic, []int32{1, 2}, 120*time.Second)
		took := time.Since(start)
		moved := dirBytes(t, filepath.Join(c.DataDir(2), topic+"-0"))
		rate := float64(moved) / took.Seconds()
		t.Logf("moved %d bytes in %v: %.0f B/s, throttle %d B/s (%.0f%%)", moved, took.Round(time.Millisecond), rate, reassignThrottle, 100*rate/reassignThrottle)
		// The throttle bounds the rate from above (at most 20% over it).
		// Below it, a starved machine (-race brokers sharing 2 cores) can
		// replicate slower than the throttle allows, so the lower bound is
		// looser; bench/reassign_test.go measures the achieved rate
		// precisely (0.995 of the setting).
		if rate < 0.5*reassignThrottle || rate > 1.2*reassignThrottle {
			t.Errorf("achieved rate %.0f B/s, want at most 20%% over %d and at least half of it", rate, reassignThrottle)
		}

		w.WaitAcks(c, 20, 30*time.Second) // acks=all goes on with the new replicas
		w.Stop()
		if d := w.Check(t, c, 1); !d.ok() {
			t.Fatalf("delivery after reassignment: %s\n%s", d, w.Summary())
		}
		c.WaitFor(t, 30*time.Second, func() error { return sameReplicas(c, topic, 1, 2) })
		c.WaitFor(t, 30*time.Second, func() error {
			if _, err := os.Stat(filepath.Join(c.DataDir(0), topic+"-0")); !os.IsNotExist(err) {
				return fmt.Errorf("removed replica's directory on broker 0: %v", err)
			}
			return nil
		})
	})

	t.Run("cancel", func(t *testing.T) {
		const topic = "cancel"
		createAssigned(t, c, topic, []int32{0, 1})
		produceN(t, c, topic, 0, 400, 16<<10)
		setTopicConfig(t, admin, topic, "follower.replication.throttled.replicas", "0:2")
		if err := admin.AlterPartitionReassignments(topic, [][]int32{{1, 2}}); err != nil {
			t.Fatalf("alter reassignments: %v", err)
		}
		if st := listReassignment(t, admin, topic); st == nil {
			t.Fatal("reassignment not listed")
		}
		if code := alterWithKgo(t, c, topic, nil); code != 0 {
			t.Fatalf("cancel: %v", kerr.ErrorForCode(code))
		}
		if code := alterWithKgo(t, c, topic, nil); code != kerr.NoReassignmentInProgress.Code {
			t.Fatalf("second cancel: %v, want NO_REASSIGNMENT_IN_PROGRESS", kerr.ErrorForCode(code))
		}
		waitReassigned(t, c, admin, topic, []int32{1, 0}, 30*time.Second)
		c.WaitFor(t, 30*time.Second, func() error {
			if _, err := os.Stat(filepath.Join(c.DataDir(2), topic+"-0")); !os.IsNotExist(err) {
				return fmt.Errorf("cancelled replica's directory on broker 2: %v", err)
			}
			return nil
		})
	})

	t.Run("R22 controller killed mid-reassignment", func(t *testing.T) {
		// 12.5 MiB at 1 MiB/s outlasts the failover (6 s session timeout),
		// so the next controller must resume the reassignment.
		const topic = "r22"
		createAssigned(t, c, topic, []int32{0, 1})
		produceN(t, c, topic, 0, 800, 16<<10)
		setTopicConfig(t, admin, topic, "follower.replication.throttled.replicas", "0:2")
		if err := admin.AlterPartitionReassignments(topic, [][]int32{{1, 2}}); err != nil {
			t.Fatalf("alter reassignments: %v", err)
		}
		if st := listReassignment(t, admin, topic); st == nil {
			t.Fatal("reassignment not listed")
		}
		ctl, err := c.Controller()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("SIGKILL of the controller, broker %d, mid-reassignment", ctl)
		c.KillBroker(ctl)
		c.WaitFor(t, 60*time.Second, func() error {
			id, err := c.Controller()
			if err != nil || id == ctl {
				return fmt.Errorf("controller %d (%v)", id, err)
			}
			return nil
		})
		fresh := c.Admin(t, nil)
		if st := listReassignment(t, fresh, topic); st == nil || !reflect.DeepEqual(st.AddingReplicas, []int32{2}) {
			t.Fatalf("new controller does not list the reassignment: %+v", st)
		}
		c.StartBroker(ctl)
		waitReassigned(t, c, fresh, topic, []int32{1, 2}, 120*time.Second)
		c.WaitFor(t, 60*time.Second, func() error { return sameReplicas(c, topic, 1, 2) })
		if ctl != 0 { // a removed replica on a dead broker stays (as in Kafka)
			c.WaitFor(t, 30*time.Second, func() error {
				if _, err := os.Stat(filepath.Join(c.DataDir(0), topic+"-0")); !os.IsNotExist(err) {
					return fmt.Errorf("removed replica's directory on broker 0: %v", err)
				}
				return nil
			})
		}
	})

	t.Run("admin reassign_partitions znode", func(t *testing.T) {
		const topic = "zkr"
		createAssigned(t, c, topic, []int32{0, 1})
		produceN(t, c, topic, 0, 50, 1024)
		zc := c.MustZK(t)
		data := zkpaths.EncodeReassignPartitions([]zkpaths.ReassignmentTarget{{Topic: topic, Partition: 0, Replicas: []int32{2, 1}}})
		if _, err := zc.Create(zkpaths.ReassignPartitionsPath, data, 0); err != nil {
			t.Fatalf("create %s: %v", zkpaths.ReassignPartitionsPath, err)
		}
		waitReassigned(t, c, c.Admin(t, nil), topic, []int32{2, 1}, 60*time.Second)
		c.WaitFor(t, 30*time.Second, func() error {
			if ok, _, err := zc.Exists(zkpaths.ReassignPartitionsPath); err != nil || ok {
				return fmt.Errorf("%s still there (%v)", zkpaths.ReassignPartitionsPath, err)
			}
			return nil
		})
	})
}

// setThrottleRates sets leader/follower.replication.throttled.rate as the
// cluster-wide dynamic broker default.
func setThrottleRates(t *testing.T, admin sarama.ClusterAdmin, rate int) {
	t.Helper()
	v := fmt.Sprint(rate)
	err := admin.AlterConfig(sarama.BrokerResource, "", map[string]*string{
		"leader.replication.throttled.rate":   &v,
		"follower.replication.throttled.rate": &v,
	}, false)
	if err != nil {
		t.Fatalf("set throttle rates: %v", err)
	}
}

// createAssigned creates a one-partition topic on the given replicas.
func createAssigned(t *testing.T, c *Cluster, name string, replicas []int32) {
	t.Helper()
	detail := &sarama.TopicDetail{NumPartitions: -1, ReplicationFactor: -1, ReplicaAssignment: map[int32][]int32{0: replicas}}
	if err := c.Admin(t, nil).CreateTopic(name, detail, false); err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	c.WaitFullISR(t, 60*time.Second, len(replicas), map[string]int32{name: 1})
}

// listReassignment is partition 0's ongoing reassignment, or nil.
func listReassignment(t *testing.T, admin sarama.ClusterAdmin, topic string) *sarama.PartitionReplicaReassignmentsStatus {
	t.Helper()
	st, err := admin.ListPartitionReassignments(topic, []int32{0})
	if err != nil {
		t.Fatalf("list reassignments: %v", err)
	}
	return st[topic][0]
}

// waitReassigned waits until partition 0 is no longer listed and the
// metadata shows replicas.
func waitReassigned(t *testing.T, c *Cluster, admin sarama.ClusterAdmin, topic string, replicas []int32, timeout time.Duration) {
	t.Helper()
	client := c.Client(t, nil)
	c.WaitFor(t, timeout, func() error {
		st, err := admin.ListPartitionReassignments(topic, []int32{0})
		if err != nil {
			return err
		}
		if s := st[topic][0]; s != nil {
			return fmt.Errorf("still reassigning: %+v", s)
		}
		if err := client.RefreshMetadata(topic); err != nil {
			return err
		}
		got, err := client.Replicas(topic, 0)
		if err != nil {
			return err
		}
		if !slices.Equal(got, replicas) {
			return fmt.Errorf("replicas %v, want %v", got, replicas)
		}
		return nil
	})
}

// alterWithKgo sends AlterPartitionReassignments for partition 0 with
// franz-go (sarama cannot send null replicas, i.e. a cancellation) and
// returns the partition's error code.
func alterWithKgo(t *testing.T, c *Cluster, topic string, replicas []int32) int16 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.LiveBootstrap()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
	rp.Partition, rp.Replicas = 0, replicas
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("AlterPartitionReassignments: %v", err)
	}
	if resp.ErrorCode != 0 {
		return resp.ErrorCode
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

// dirBytes is the size of the .log files in a partition directory.
func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	files, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// sameReplicas compares partition 0's batches below the high watermark on
// two brokers (I-div on the new replica set).
func sameReplicas(c *Cluster, topic string, a, b int) error {
	client, err := newQuietClient(c)
	if err != nil {
		return err
	}
	defer client.Close()
	hw, err := client.GetOffset(topic, 0, sarama.OffsetNewest)
	if err != nil {
		return err
	}
	ra, err := replicaBatches(c.DataDir(a), topic, 0, hw)
	if err != nil {
		return err
	}
	rb, err := replicaBatches(c.DataDir(b), topic, 0, hw)
	if err != nil {
		return err
	}
	if !bytes.Equal(ra, rb) {
		return fmt.Errorf("%s-0 below HW %d: broker %d has %d bytes, broker %d %d, and they differ", topic, hw, a, len(ra), b, len(rb))
	}
	return nil
}
