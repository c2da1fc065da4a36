package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/IBM/sarama"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

// service is TopicService: one sarama client and its ClusterAdmin.
type service struct {
	o      *options
	client sarama.Client
	admin  sarama.ClusterAdmin
}

func newService(o *options) (*service, error) {
	props, err := cli.LoadProperties(o.commandConfig.Value())
	if err != nil {
		return nil, err
	}
	cfg, err := cli.NewConfig("adminclient-1", props)
	if err != nil {
		return nil, err
	}
	client, err := sarama.NewClient(cli.Bootstrap(o.bootstrap.Value()), cfg)
	if err != nil {
		return nil, cli.AsKafka(err, callName(o))
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		client.Close()
		return nil, cli.AsKafka(err, callName(o))
	}
	return &service{o: o, client: client, admin: admin}, nil
}

// callName is the AdminClient call a timeout message names.
func callName(o *options) string {
	switch {
	case o.create.Has():
		return "createTopics"
	case o.delete.Has():
		return "deleteTopics"
	case o.alter.Has():
		return "createPartitions"
	}
	return "listTopics"
}

func (s *service) close() { s.admin.Close() }

func (s *service) create(stdout io.Writer) error {
	o := s.o
	name := o.topic.Value()
	detail := &sarama.TopicDetail{NumPartitions: -1, ReplicationFactor: -1}
	if o.rf.Has() {
		rf, err := o.rf.Int()
		if err != nil {
			return err
		}
		if rf < 1 || rf > 32767 {
			return cli.Errorf("IllegalArgumentException", "The replication factor must be between 1 and 32767 inclusive")
		}
		detail.ReplicationFactor = int16(rf)
	}
	if o.partitions.Has() {
		n, err := o.partitions.Int()
		if err != nil {
			return err
		}
		if n < 1 {
			return cli.Errorf("IllegalArgumentException", "The partitions must be greater than 0")
		}
		detail.NumPartitions = int32(n)
	}
	if o.assign.Has() && o.assign.Value() != "" {
		a, err := parseReplicaAssignment(o.assign.Value())
		if err != nil {
			return err
		}
		detail.ReplicaAssignment = a
	}
	cfgs, err := parseConfigs(o.config.Values())
	if err != nil {
		return err
	}
	if len(cfgs) > 0 {
		detail.ConfigEntries = cfgs
	}
	if strings.ContainsAny(name, "._") {
		fmt.Fprintln(stdout, "WARNING: Due to limitations in metric names, topics with a period ('.') or underscore ('_') could collide. To avoid issues it is best to use either, but not both.")
	}
	if err := s.admin.CreateTopic(name, detail, false); err != nil {
		var te *sarama.TopicError
		if errors.As(err, &te) && te.Err == sarama.ErrTopicAlreadyExists && o.ifNotExists.Has() {
			return nil
		}
		return cli.AsKafka(err, "createTopics")
	}
	fmt.Fprintf(stdout, "Created topic %s.\n", name)
	return nil
}

// metadata returns every topic's metadata by name.
func (s *service) metadata() (map[string]*sarama.TopicMetadata, []string, error) {
	md, err := s.admin.DescribeTopics(nil)
	if err != nil {
		return nil, nil, cli.AsKafka(err, "listTopics")
	}
	byName := map[string]*sarama.TopicMetadata{}
	var names []string
	for _, t := range md {
		byName[t.Name] = t
		names = append(names, t.Name)
	}
	return byName, names, nil
}

// topics is TopicService.getTopics plus ensureTopicExists.
func (s *service) topics(requireExists bool) (map[string]*sarama.TopicMetadata, []string, error) {
	byName, all, err := s.metadata()
	if err != nil {
		return nil, nil, err
	}
	sel, err := selectTopics(all, s.o.topic.Value(), s.o.topic.Has(), s.o.excludeInternal.Has())
	if err != nil {
		return nil, nil, err
	}
	if requireExists && s.o.topic.Has() && s.o.topic.Value() != "" && len(sel) == 0 {
		return nil, nil, cli.Errorf("IllegalArgumentException", "Topic '%s' does not exist as expected", s.o.topic.Value())
	}
	return byName, sel, nil
}

func (s *service) listTopics(stdout io.Writer) error {
	_, sel, err := s.topics(false)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, strings.Join(sel, "\n"))
	return nil
}

func (s *service) deleteTopics() error {
	_, sel, err := s.topics(!s.o.ifExists.Has())
	if err != nil {
		return err
	}
	for _, t := range sel {
		if err := s.admin.DeleteTopic(t); err != nil {
			return cli.AsKafka(err, "deleteTopics")
		}
	}
	return nil
}

func (s *service) alterPartitions() error {
	byName, sel, err := s.topics(!s.o.ifExists.Has())
	if err != nil {
		return err
	}
	n, err := s.o.partitions.Int()
	if err != nil {
		return err
	}
	var assignment map[int32][]int32
	if s.o.assign.Has() && s.o.assign.Value() != "" {
		if assignment, err = parseReplicaAssignment(s.o.assign.Value()); err != nil {
			return err
		}
	}
	if len(sel) == 0 {
		return nil
	}
	controller, err := s.admin.Controller()
	if err != nil {
		return cli.AsKafka(err, "createPartitions")
	}
	if err := cli.RequireAPI(controller, 37); err != nil {
		return err
	}
	for _, t := range sel {
		var newAssign [][]int32
		if assignment != nil {
			for p := int32(len(byName[t].Partitions)); p < int32(len(assignment)); p++ {
				newAssign = append(newAssign, assignment[p])
			}
		}
		if err := s.admin.CreatePartitions(t, int32(n), newAssign, false); err != nil {
			return cli.AsKafka(err, "createPartitions")
		}
	}
	return nil
}

func (s *service) describeTopics(stdout io.Writer) error {
	o := s.o
	byName, sel, err := s.topics(!o.ifExists.Has())
	if err != nil {
		return err
	}
	if o.topicID.Has() {
		sel = nil
		for name, t := range byName {
			if t.Uuid.String() == o.topicID.Value() && !(o.excludeInternal.Has() && internalTopics[name]) {
				sel = append(sel, name)
			}
		}
		if len(sel) == 0 && !o.ifExists.Has() {
			return cli.Errorf("IllegalArgumentException", "TopicId '%s' does not exist as expected", o.topicID.Value())
		}
	}
	describeConfigs := false
	if controller, err := s.admin.Controller(); err == nil && cli.RequireAPI(controller, 32) == nil {
		describeConfigs = true
	}
	var topics []topicDesc
	for _, name := range sel {
		md := byName[name]
		if md.Err != sarama.ErrNoError && md.Err != sarama.ErrLeaderNotAvailable {
			return cli.AsKafka(md.Err, "describeTopics")
		}
		td := topicDesc{Name: name, MinISR: 1}
		if md.Uuid != (sarama.Uuid{}) {
			td.ID = md.Uuid.String()
		}
		if describeConfigs {
			entries, err := s.admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: name})
			if err != nil {
				return cli.AsKafka(err, "describeConfigs")
			}
			for _, e := range entries {
				td.Configs = append(td.Configs, configEntry{Name: e.Name, Value: e.Value, Default: e.Source == sarama.SourceDefault})
				if e.Name == "min.insync.replicas" {
					if n, err := strconv.Atoi(e.Value); err == nil {
						td.MinISR = n
					}
				}
			}
		}
		for _, p := range md.Partitions {
			td.Partitions = append(td.Partitions, partitionDesc{Partition: p.ID, Leader: p.Leader, Replicas: p.Replicas, ISR: p.Isr})
		}
		topics = append(topics, td)
	}
	live := map[int32]bool{}
	for _, b := range s.client.Brokers() {
		live[b.ID()] = true
	}
	writeDescribe(stdout, topics, describeFilter{
		underReplicated: o.underReplicated.Has(),
		unavailable:     o.unavailable.Has(),
		underMinIsr:     o.underMinIsr.Has(),
		atMinIsr:        o.atMinIsr.Has(),
		withOverrides:   o.withOverrides.Has(),
		liveBrokers:     live,
	})
	return nil
}
