package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/IBM/sarama"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

// service is ConsumerGroupService: one sarama client, its ClusterAdmin, and
// the group calls Kafka's AdminClient makes, sent to each group's
// coordinator.
type service struct {
	o       *options
	t       *tool
	client  sarama.Client
	admin   sarama.ClusterAdmin
	timeout time.Duration
}

func newService(o *options, t *tool) (*service, error) {
	timeout, err := o.timeout.Int64()
	if err != nil {
		return nil, err
	}
	props, err := cli.LoadProperties(o.commandConfig.Value())
	if err != nil {
		return nil, err
	}
	cfg, err := cli.NewConfig("adminclient-1", props)
	if err != nil {
		return nil, err
	}
	call := callName(o)
	client, err := sarama.NewClient(cli.Bootstrap(o.bootstrap.Value()), cfg)
	if err != nil {
		return nil, callFailed(err, call)
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		client.Close()
		return nil, callFailed(err, call)
	}
	return &service{o: o, t: t, client: client, admin: admin, timeout: time.Duration(timeout) * time.Millisecond}, nil
}

func (s *service) close() { s.admin.Close() }

// callName is the AdminClient call a timeout message names.
func callName(o *options) string {
	switch {
	case o.list.Has(), o.allGroups.Has():
		return "listConsumerGroups"
	case o.describe.Has(), o.resetOffsets.Has():
		return "describeConsumerGroups"
	case o.delete.Has():
		return "deleteConsumerGroups"
	case o.deleteOffsets.Has():
		return "deleteConsumerGroupOffsets"
	}
	return "listConsumerGroups"
}

// tp is a TopicPartition; String is its toString, "t-0".
type tp struct {
	topic     string
	partition int32
}

func (p tp) String() string { return fmt.Sprintf("%s-%d", p.topic, p.partition) }

func sortTPs(ps []tp) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].topic != ps[j].topic {
			return ps[i].topic < ps[j].topic
		}
		return ps[i].partition < ps[j].partition
	})
}

// retriable are the coordinator errors Kafka's AdminClient retries until
// the call's timeout: the coordinator is loading, moving or not elected yet.
func retriable(err error) bool {
	var ke sarama.KError
	if !errors.As(err, &ke) {
		return false
	}
	switch ke {
	case sarama.ErrConsumerCoordinatorNotAvailable, sarama.ErrNotCoordinatorForConsumer,
		sarama.ErrOffsetsLoadInProgress, sarama.ErrRequestTimedOut, sarama.ErrNotEnoughReplicas,
		sarama.ErrNotEnoughReplicasAfterAppend, sarama.ErrLeaderNotAvailable, sarama.ErrNotLeaderForPartition:
		return true
	}
	return false
}

// withCoordinator runs fn against group's coordinator, finding it again
// and retrying while the error is retriable, for at least --timeout.
func (s *service) withCoordinator(group string, fn func(b *sarama.Broker) error) error {
	deadline := time.Now().Add(max(s.timeout, 5*time.Second))
	for {
		b, err := s.client.Coordinator(group)
		if err == nil {
			err = fn(b)
		}
		if err == nil || !retriable(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
		_ = s.client.RefreshCoordinator(group)
	}
}

// groupListing is one ConsumerGroupListing.
type groupListing struct {
	id, state string
}

// listGroupListings is AdminClient.listConsumerGroups: ListGroups to every
// broker (v4 with the states filter), the consumer groups only (protocol
// type "consumer" or none), sorted by id.
func (s *service) listGroupListings(states []string) ([]groupListing, error) {
	if err := s.client.RefreshMetadata(); err != nil {
		return nil, callFailed(err, "listConsumerGroups")
	}
	seen := map[string]groupListing{}
	for _, b := range s.client.Brokers() {
		if ok, _ := b.Connected(); !ok {
			if err := b.Open(s.client.Config()); err != nil && !errors.Is(err, sarama.ErrAlreadyConnected) {
				return nil, callFailed(err, "listConsumerGroups")
			}
		}
		deadline := time.Now().Add(max(s.timeout, 5*time.Second))
		for {
			resp, err := b.ListGroups(&sarama.ListGroupsRequest{Version: 4, StatesFilter: states})
			if err == nil && resp.Err != sarama.ErrNoError {
				err = resp.Err
			}
			if err != nil {
				if retriable(err) && time.Now().Before(deadline) {
					time.Sleep(200 * time.Millisecond)
					continue
				}
				return nil, callFailed(err, "listConsumerGroups")
			}
			for id, protocolType := range resp.Groups {
				if protocolType != "consumer" && protocolType != "" {
					continue
				}
				seen[id] = groupListing{id: id, state: resp.GroupsData[id].GroupState}
			}
			break
		}
	}
	out := make([]groupListing, 0, len(seen))
	for _, g := range seen {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out, nil
}

func (s *service) listGroupIDs() ([]string, error) {
	ls, err := s.listGroupListings(nil)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(ls))
	for i, l := range ls {
		ids[i] = l.id
	}
	return ids, nil
}

// groupIDs are the groups to act on: --all-groups or every --group.
func (s *service) groupIDs() ([]string, error) {
	if s.o.allGroups.Has() {
		return s.listGroupIDs()
	}
	var ids []string
	seen := map[string]bool{}
	for _, g := range s.o.group.Values() {
		if !seen[g] {
			seen[g] = true
			ids = append(ids, g)
		}
	}
	return ids, nil
}

// member is one MemberDescription.
type member struct {
	consumerID, instanceID, clientID, host string
	assignment                             []tp
}

// groupDesc is one ConsumerGroupDescription.
type groupDesc struct {
	id, state, assignor string
	coordinator         *sarama.Broker
	members             []member
}

// describeGroup is AdminClient.describeConsumerGroups for one group: a
// DescribeGroups request to its coordinator.
func (s *service) describeGroup(group string) (*groupDesc, error) {
	var d *groupDesc
	err := s.withCoordinator(group, func(b *sarama.Broker) error {
		resp, err := b.DescribeGroups(&sarama.DescribeGroupsRequest{Version: 5, Groups: []string{group}})
		if err != nil {
			return err
		}
		if len(resp.Groups) != 1 {
			return sarama.ErrIncompleteResponse
		}
		g := resp.Groups[0]
		if kerr := sarama.KError(g.ErrorCode); kerr != sarama.ErrNoError {
			return kerr
		}
		if g.ProtocolType != "consumer" && g.ProtocolType != "" {
			return cli.Errorf("IllegalArgumentException", "GroupId %s is not a consumer group (%s).", group, g.ProtocolType)
		}
		d = &groupDesc{id: group, state: g.State, assignor: g.Protocol, coordinator: b}
		for id, m := range g.Members {
			mm := member{consumerID: id, clientID: m.ClientId, host: m.ClientHost}
			if m.GroupInstanceId != nil {
				mm.instanceID = *m.GroupInstanceId
			}
			a, err := m.GetMemberAssignment()
			if err != nil {
				return fmt.Errorf("member %s: bad assignment: %w", id, err)
			}
			if a != nil {
				for topic, ps := range a.Topics {
					for _, p := range ps {
						mm.assignment = append(mm.assignment, tp{topic, p})
					}
				}
			}
			sortTPs(mm.assignment)
			d.members = append(d.members, mm)
		}
		sort.Slice(d.members, func(i, j int) bool { return d.members[i].consumerID < d.members[j].consumerID })
		return nil
	})
	if err != nil {
		return nil, callFailed(err, "describeConsumerGroups")
	}
	return d, nil
}

// describeGroups describes each group, in id order.
func (s *service) describeAll(ids []string) ([]*groupDesc, error) {
	sorted := append([]string(nil), ids...)
	sort.Strings(sorted)
	var out []*groupDesc
	for _, id := range sorted {
		d, err := s.describeGroup(id)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// committed is listConsumerGroupOffsets: every committed offset of the
// group; a negative offset (none committed) is kept as -1.
func (s *service) committed(group string) (map[tp]int64, error) {
	out := map[tp]int64{}
	err := s.withCoordinator(group, func(b *sarama.Broker) error {
		clear(out)
		resp, err := b.FetchOffset(sarama.NewOffsetFetchRequest(s.client.Config().Version, group, nil))
		if err != nil {
			return err
		}
		if gerr := resp.GroupError(); gerr != sarama.ErrNoError {
			return gerr
		}
		blocks := resp.Blocks
		if len(resp.Groups) > 0 {
			blocks = nil
			for _, g := range resp.Groups {
				if g.GroupId == group {
					blocks = g.Blocks
				}
			}
		}
		for topic, ps := range blocks {
			for p, blk := range ps {
				if blk.Err != sarama.ErrNoError {
					continue // Kafka's AdminClient skips it with a warning
				}
				off := blk.Offset
				if off < 0 {
					off = -1
				}
				out[tp{topic, p}] = off
			}
		}
		return nil
	})
	if err != nil {
		return nil, callFailed(err, "listConsumerGroupOffsets")
	}
	return out, nil
}

// listOffsets is AdminClient.listOffsets with one spec for every
// partition (sarama.OffsetNewest, OffsetOldest or a timestamp). A
// partition whose offset cannot be read is absent from the result.
func (s *service) listOffsets(ps []tp, spec int64) map[tp]int64 {
	out := map[tp]int64{}
	for _, p := range ps {
		off, err := s.client.GetOffset(p.topic, p.partition, spec)
		if err != nil {
			continue
		}
		out[p] = off
	}
	return out
}

// topicPartitions are the partitions of topic, from the metadata; an
// unknown topic is UnknownTopicOrPartitionException.
func (s *service) topicPartitions(topic string) ([]tp, error) {
	md, err := s.admin.DescribeTopics([]string{topic})
	if err != nil {
		return nil, callFailed(err, "describeTopics")
	}
	if len(md) != 1 {
		return nil, callFailed(sarama.ErrUnknownTopicOrPartition, "describeTopics")
	}
	if md[0].Err != sarama.ErrNoError {
		return nil, callFailed(md[0].Err, "describeTopics")
	}
	var out []tp
	for _, p := range md[0].Partitions {
		out = append(out, tp{topic, p.ID})
	}
	sortTPs(out)
	return out, nil
}

// statesFromString is consumerGroupStatesFromString. Kafka 3.7 matches the
// names exactly; like Kafka 3.8 (and the documented "--state stable,empty")
// this accepts any case.
func statesFromString(input string) ([]string, error) {
	valid := []string{"PreparingRebalance", "CompletingRebalance", "Stable", "Dead", "Empty"}
	var out []string
	for _, s := range strings.Split(input, ",") {
		s = strings.TrimSpace(s)
		found := ""
		for _, v := range valid {
			if strings.EqualFold(v, s) {
				found = v
			}
		}
		if found == "" {
			return nil, illegalf(fmt.Sprintf("Invalid state list '%s'. Valid states are: %s", input, strings.Join(valid, ", ")))
		}
		out = append(out, found)
	}
	return out, nil
}

func (s *service) listGroups() error {
	o := s.o
	if !o.state.Has() {
		ids, err := s.listGroupIDs()
		if err != nil {
			return err
		}
		for _, id := range ids {
			fmt.Fprintln(s.t.stdout, id)
		}
		return nil
	}
	var states []string
	if v := o.state.Value(); v != "" {
		var err error
		if states, err = statesFromString(v); err != nil {
			return err
		}
	}
	ls, err := s.listGroupListings(states)
	if err != nil {
		return err
	}
	printGroupStates(s.t.stdout, ls)
	return nil
}

// describeGroups is ConsumerGroupService.describeGroups: the offsets view
// (the default, or --offsets), --members, or --state.
func (s *service) describeGroups() error {
	ids, err := s.groupIDs()
	if err != nil {
		return err
	}
	descs, err := s.describeAll(ids)
	if err != nil {
		return err
	}
	o := s.o
	switch {
	case o.members.Has():
		for _, d := range descs {
			if s.shouldPrintMemberState(d.id, d.state, len(d.members)) {
				printMembers(s.t.stdout, d, o.verbose.Has())
			}
		}
	case o.state.Has():
		for _, d := range descs {
			if s.shouldPrintMemberState(d.id, d.state, 1) {
				printState(s.t.stdout, d)
			}
		}
	default:
		for _, d := range descs {
			rows, err := s.collectOffsets(d)
			if err != nil {
				return err
			}
			if s.shouldPrintMemberState(d.id, d.state, len(rows)) {
				printOffsets(s.t.stdout, rows)
			}
		}
	}
	return nil
}

// shouldPrintMemberState prints what Kafka prints about the group's state
// before its table, and says whether the table follows.
func (s *service) shouldPrintMemberState(group, state string, rows int) bool {
	switch state {
	case "Dead":
		s.t.printError(fmt.Sprintf("Consumer group '%s' does not exist.", group), nil)
		return false
	case "Empty":
		fmt.Fprintf(s.t.stderr, "\nConsumer group '%s' has no active members.\n", group)
	case "PreparingRebalance", "CompletingRebalance":
		fmt.Fprintf(s.t.stderr, "\nWarning: Consumer group '%s' is rebalancing.\n", group)
	case "Stable":
	default:
		s.t.printError(fmt.Sprintf("Executing consumer group command failed due to Expected a valid consumer group state, but found '%s'.", state),
			cli.Errorf("KafkaException", "Expected a valid consumer group state, but found '%s'.", state))
		return false
	}
	return rows > 0
}

// collectOffsets is collectGroupsOffsets for one group: a row per assigned
// partition (members with the most partitions first), then a row per
// partition with a committed offset and no owner.
func (s *service) collectOffsets(d *groupDesc) ([]offsetRow, error) {
	committed, err := s.committed(d.id)
	if err != nil {
		return nil, err
	}
	var rows []offsetRow
	members := append([]member(nil), d.members...)
	sort.SliceStable(members, func(i, j int) bool { return len(members[i].assignment) > len(members[j].assignment) })
	assigned := map[tp]bool{}
	for _, m := range members {
		if len(m.assignment) == 0 {
			continue
		}
		for _, p := range m.assignment {
			assigned[p] = true
		}
		rows = append(rows, s.partitionRows(d.id, m.assignment, committed, m.consumerID, m.host, m.clientID)...)
	}
	var unassigned []tp
	for p := range committed {
		if !assigned[p] {
			unassigned = append(unassigned, p)
		}
	}
	sortTPs(unassigned)
	if len(unassigned) > 0 {
		rows = append(rows, s.partitionRows(d.id, unassigned, committed, missing, missing, missing)...)
	}
	return rows, nil
}

func (s *service) partitionRows(group string, ps []tp, committed map[tp]int64, consumerID, host, clientID string) []offsetRow {
	ends := s.listOffsets(ps, sarama.OffsetNewest)
	rows := make([]offsetRow, 0, len(ps))
	for _, p := range ps {
		r := offsetRow{group: group, topic: p.topic, partition: fmt.Sprint(p.partition),
			current: missing, end: missing, lag: missing, consumerID: consumerID, host: host, clientID: clientID}
		off, hasOff := committed[p]
		hasOff = hasOff && off >= 0
		if hasOff {
			r.current = fmt.Sprint(off)
		}
		end, hasEnd := ends[p]
		if hasEnd {
			r.end = fmt.Sprint(end)
		}
		if hasOff && hasEnd {
			r.lag = fmt.Sprint(end - off)
		}
		rows = append(rows, r)
	}
	return rows
}

// deleteGroups is ConsumerGroupService.deleteGroups.
func (s *service) deleteGroups() error {
	ids, err := s.groupIDs()
	if err != nil {
		return err
	}
	var ok []string
	var failed []string
	errs := map[string]error{}
	for _, id := range ids {
		err := s.withCoordinator(id, func(b *sarama.Broker) error {
			resp, err := b.DeleteGroups(&sarama.DeleteGroupsRequest{Version: 2, Groups: []string{id}})
			if err != nil {
				return err
			}
			gerr, found := resp.GroupErrorCodes[id]
			if !found {
				return sarama.ErrIncompleteResponse
			}
			if gerr != sarama.ErrNoError {
				return gerr
			}
			return nil
		})
		if err != nil {
			failed = append(failed, id)
			errs[id] = err
			continue
		}
		ok = append(ok, id)
	}
	quoted := func(ids []string) string { return "'" + strings.Join(ids, "', '") + "'" }
	if len(failed) == 0 {
		fmt.Fprintf(s.t.stdout, "Deletion of requested consumer groups (%s) was successful.\n", quoted(ok))
		return nil
	}
	s.t.printError("Deletion of some consumer groups failed:", nil)
	for _, id := range failed {
		fmt.Fprintf(s.t.stdout, "* Group '%s' could not be deleted due to: %s\n", id, throwableString(errs[id]))
	}
	if len(ok) > 0 {
		fmt.Fprintf(s.t.stdout, "\nThese consumer groups were deleted successfully: %s\n", quoted(ok))
	}
	return nil
}

// deleteOffsets is ConsumerGroupService.deleteOffsets: one OffsetDelete
// request for the partitions of every --topic (t or t:0,1).
func (s *service) deleteOffsets() error {
	group := s.o.group.Value()
	topics := s.o.topic.Values()
	results := map[tp]string{} // partition -> "" (success) or the error message
	var partitions []tp
	for _, t := range topics {
		if strings.Contains(t, ":") {
			ps, err := parseTopicPartitions(t)
			if err != nil {
				return err
			}
			partitions = append(partitions, ps...)
			continue
		}
		ps, err := s.topicPartitions(t)
		if err != nil {
			results[tp{t, -1}] = failureMessage(err)
			continue
		}
		partitions = append(partitions, ps...)
	}
	top := sarama.ErrNoError
	err := s.withCoordinator(group, func(b *sarama.Broker) error {
		req := &sarama.DeleteOffsetsRequest{Group: group}
		for _, p := range partitions {
			req.AddPartition(p.topic, p.partition)
		}
		resp, err := b.DeleteOffsets(req)
		if err != nil {
			return err
		}
		if resp.ErrorCode != sarama.ErrNoError {
			if retriable(resp.ErrorCode) {
				return resp.ErrorCode
			}
			top = resp.ErrorCode
		}
		for _, p := range partitions {
			perr := top
			if top == sarama.ErrNoError {
				perr = sarama.ErrNoError
				if e, ok := resp.Errors[p.topic][p.partition]; ok {
					perr = e
				}
			}
			if perr == sarama.ErrNoError {
				results[p] = ""
				continue
			}
			results[p] = failureMessage(callFailed(perr, "deleteConsumerGroupOffsets"))
			if top == sarama.ErrNoError {
				top = perr // KafkaFuture.all fails with the first partition's error
			}
		}
		return nil
	})
	if err != nil {
		return callFailed(err, "deleteConsumerGroupOffsets")
	}
	switch top {
	case sarama.ErrNoError:
		fmt.Fprintf(s.t.stdout, "Request succeed for deleting offsets with topic %s group %s\n", strings.Join(topics, ", "), group)
	case sarama.ErrInvalidGroupId:
		s.t.printError(fmt.Sprintf("'%s' is not valid.", group), nil)
	case sarama.ErrGroupIDNotFound:
		s.t.printError(fmt.Sprintf("'%s' does not exist.", group), nil)
	case sarama.ErrGroupAuthorizationFailed:
		s.t.printError(fmt.Sprintf("Access to '%s' is not authorized.", group), nil)
	case sarama.ErrNonEmptyGroup:
		s.t.printError(fmt.Sprintf("Deleting offsets of a consumer group '%s' is forbidden if the group is not empty.", group), nil)
	case sarama.ErrGroupSubscribedToTopic, sarama.ErrTopicAuthorizationFailed, sarama.ErrUnknownTopicOrPartition:
		s.t.printError("Encounter some partition level error, see the follow-up details:", nil)
	default:
		s.t.printError(fmt.Sprintf("Encounter some unknown error: %s", errorsName(top)), nil)
	}
	for _, msg := range results {
		if msg != "" {
			s.t.failed = true
		}
	}
	printDeleteOffsets(s.t.stdout, results)
	return nil
}

// errorsName is the Errors enum constant of a Kafka error, as Scala prints
// it ("NOT_COORDINATOR").
func errorsName(k sarama.KError) string {
	s := cli.AsKafka(k, "").Class
	s = strings.TrimSuffix(s, "Exception")
	var b strings.Builder
	for i, c := range s {
		if c >= 'A' && c <= 'Z' && i > 0 {
			b.WriteByte('_')
		}
		b.WriteString(strings.ToUpper(string(c)))
	}
	return b.String()
}

// parseTopicPartitions is parseTopicsWithPartitions: "t:0,1,2".
func parseTopicPartitions(arg string) ([]tp, error) {
	parts := strings.Split(arg, ":")
	if len(parts) != 2 {
		return nil, illegalf(fmt.Sprintf("Invalid topic arg '%s', expected topic name and partitions", arg))
	}
	var out []tp
	for _, ps := range strings.Split(parts[1], ",") {
		var n int32
		if _, err := fmt.Sscan(ps, &n); err != nil || fmt.Sprint(n) != strings.TrimSpace(ps) {
			return nil, illegalf(fmt.Sprintf("Invalid partition '%s' specified in topic arg '%s''", ps, arg))
		}
		out = append(out, tp{parts[0], n})
	}
	return out, nil
}
