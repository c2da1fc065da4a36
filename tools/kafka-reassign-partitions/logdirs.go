package main

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

// moveKind is the LogDirMoveState subclass.
type moveKind int

const (
	moveMissingReplica moveKind = iota
	moveActive
	moveCancelled
	moveCompleted
)

// logDirMove is a LogDirMoveState: where a replica is, where it should be,
// and where it is being copied to.
type logDirMove struct {
	kind                    moveKind
	current, target, future string
}

func (m logDirMove) done() bool { return m.kind != moveActive }

// findLogDirMoves is findLogDirMoveStates, from each broker's
// DescribeLogDirs answer: a replica's directory holds its partition, a
// temporary ("future") copy is an ongoing move.
func (s *service) findLogDirMoves(targets map[replica]string) (map[replica]logDirMove, error) {
	out := map[replica]logDirMove{}
	if len(targets) == 0 {
		return out, nil
	}
	var brokers []int32
	for r := range targets {
		if !slices.Contains(brokers, r.broker) {
			brokers = append(brokers, r.broker)
		}
	}
	type dirs struct{ current, future string }
	found := map[replica]*dirs{}
	for _, b := range brokers {
		broker, err := s.client.Broker(b)
		if err != nil {
			return nil, &execError{cli.AsKafka(err, "describeReplicaLogDirs")}
		}
		req := kmsg.NewPtrDescribeLogDirsRequest()
		ctx, cancel := s.ctx()
		res, err := req.RequestWith(ctx, s.kc.Broker(int(broker.ID())))
		cancel()
		if err != nil {
			return nil, &execError{cli.AsKafka(err, "describeReplicaLogDirs")}
		}
		for _, d := range res.Dirs {
			if d.ErrorCode != 0 {
				continue
			}
			for _, t := range d.Topics {
				for _, p := range t.Partitions {
					r := replica{cli.TopicPartition{Topic: t.Topic, Partition: p.Partition}, b}
					if _, want := targets[r]; !want {
						continue
					}
					if found[r] == nil {
						found[r] = &dirs{}
					}
					if p.IsFuture {
						found[r].future = d.Dir
					} else {
						found[r].current = d.Dir
					}
				}
			}
		}
	}
	for r, target := range targets {
		f := found[r]
		switch {
		case f == nil || f.current == "":
			out[r] = logDirMove{kind: moveMissingReplica, target: target}
		case f.future == "" && f.current == target:
			out[r] = logDirMove{kind: moveCompleted, current: f.current, target: target}
		case f.future == "":
			out[r] = logDirMove{kind: moveCancelled, current: f.current, target: target}
		default:
			out[r] = logDirMove{kind: moveActive, current: f.current, target: target, future: f.future}
		}
	}
	return out, nil
}

// formatLogDirMoves is replicaMoveStatesToString, replicas by broker,
// topic, partition.
func formatLogDirMoves(moves map[replica]logDirMove) string {
	rs := make([]replica, 0, len(moves))
	for r := range moves {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.broker != b.broker {
			return a.broker < b.broker
		}
		if a.tp.Topic != b.tp.Topic {
			return a.tp.Topic < b.tp.Topic
		}
		return a.tp.Partition < b.tp.Partition
	})
	var lines []string
	for _, r := range rs {
		m := moves[r]
		switch m.kind {
		case moveMissingReplica:
			lines = append(lines, fmt.Sprintf("Partition %s cannot be found in any live log directory on broker %d.", r.tp, r.broker))
		case moveActive:
			if m.target == m.future {
				lines = append(lines, fmt.Sprintf("Reassignment of replica %s is still in progress.", r))
			} else {
				lines = append(lines, fmt.Sprintf("Partition %s on broker %d is being moved to log dir %s instead of %s.", r.tp, r.broker, m.future, m.target))
			}
		case moveCancelled:
			lines = append(lines, fmt.Sprintf("Partition %s on broker %d is not being moved from log dir %s to %s.", r.tp, r.broker, m.current, m.target))
		case moveCompleted:
			lines = append(lines, fmt.Sprintf("Reassignment of replica %s completed successfully.", r))
		}
	}
	return strings.Join(lines, "\n")
}

// executeMoves is ReassignPartitionsCommand.executeMoves: AlterReplicaLogDirs
// on each replica's broker until every move has started or --timeout passes;
// REPLICA_NOT_AVAILABLE (the replica has not arrived yet) is retried.
func (s *service) executeMoves(moves map[replica]string) error {
	timeout, err := s.o.timeout.Int64()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(time.Duration(timeout) * time.Millisecond)
	pending := map[replica]string{}
	for r, d := range moves {
		pending[r] = d
	}
	for {
		var started []replica
		byBroker := map[int32][]replica{}
		for r := range pending {
			byBroker[r.broker] = append(byBroker[r.broker], r)
		}
		for b, rs := range byBroker {
			broker, err := s.client.Broker(b)
			if err != nil {
				return &execError{cli.AsKafka(err, "alterReplicaLogDirs")}
			}
			if err := cli.RequireAPI(broker, 34); err != nil {
				return &execError{err}
			}
			req := kmsg.NewPtrAlterReplicaLogDirsRequest()
			for _, r := range rs {
				d := kmsg.NewAlterReplicaLogDirsRequestDir()
				d.Dir = pending[r]
				t := kmsg.NewAlterReplicaLogDirsRequestDirTopic()
				t.Topic, t.Partitions = r.tp.Topic, []int32{r.tp.Partition}
				d.Topics = append(d.Topics, t)
				req.Dirs = append(req.Dirs, d)
			}
			ctx, cancel := s.ctx()
			res, err := req.RequestWith(ctx, s.kc.Broker(int(b)))
			cancel()
			if err != nil {
				return &execError{cli.AsKafka(err, "alterReplicaLogDirs")}
			}
			for _, t := range res.Topics {
				for _, p := range t.Partitions {
					r := replica{cli.TopicPartition{Topic: t.Topic, Partition: p.Partition}, b}
					switch p.ErrorCode {
					case 0:
						started = append(started, r)
					case kerr.ReplicaNotAvailable.Code:
					default:
						return cli.Errorf(adminCommandFailed, "Failed to alter dir for %s", r)
					}
				}
			}
		}
		if len(started) > 0 {
			sort.Slice(started, func(i, j int) bool { return started[i].String() < started[j].String() })
			names := make([]string, len(started))
			for i, r := range started {
				names[i] = r.String()
				delete(pending, r)
			}
			fmt.Fprintf(s.out, "Successfully started log directory move%s for: %s\n", plural(len(started)), strings.Join(names, ","))
		}
		if len(pending) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			var names []string
			for r := range pending {
				names = append(names, r.String())
			}
			sort.Strings(names)
			return &terseError{fmt.Sprintf("Timed out before log directory move%s could be started for: %s", plural(len(pending)), strings.Join(names, ","))}
		}
		time.Sleep(100 * time.Millisecond)
	}
}
