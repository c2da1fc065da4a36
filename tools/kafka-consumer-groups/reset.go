package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

// logger is the class ConsumerGroupCommand's log lines name.
const logger = "kafka.admin.ConsumerGroupCommand$"

// warn writes a log4j WARN line on stderr, as Kafka's tools log.
func (s *service) warn(msg string) {
	now := time.Now()
	fmt.Fprintf(s.t.stderr, "[%s,%03d] WARN %s (%s)\n", now.Format("2006-01-02 15:04:05"), now.Nanosecond()/1e6, msg, logger)
}

// resetOffsetsCommand is the --reset-offsets action: plan (and with
// --execute commit) the new offsets of every inactive group, then print
// them as a table or, with --export, as CSV.
func (s *service) resetOffsetsCommand() error {
	o := s.o
	if !o.allTopics.Has() && !o.topic.Has() && !o.fromFile.Has() {
		return illegalf("One of the reset scopes should be defined: --all-topics, --topic.")
	}
	used := false
	for _, sc := range o.scenarios() {
		used = used || sc.Has()
	}
	if !used {
		return illegalf(fmt.Sprintf("Option '%s' requires one of the following scenarios: HashSet(%s, %s, %s, %s, %s, %s, %s, %s)",
			o.resetOffsets, o.toOffset, o.shiftBy, o.toDatetime, o.byDuration, o.toEarliest, o.toLatest, o.toCurrent, o.fromFile))
	}
	var fromFile map[string]map[tp]int64
	if o.fromFile.Has() {
		var err error
		if fromFile, err = s.readResetPlan(o.fromFile.Value()); err != nil {
			return err
		}
	}
	ids, err := s.groupIDs()
	if err != nil {
		return err
	}
	descs, err := s.describeAll(ids)
	if err != nil {
		return err
	}
	var groups []string
	plans := map[string]map[tp]int64{}
	for _, d := range descs {
		groups = append(groups, d.id)
		if d.state != "Empty" && d.state != "Dead" {
			s.t.printError(fmt.Sprintf("Assignments can only be reset if the group '%s' is inactive, but the current state is %s.", d.id, d.state), nil)
			plans[d.id] = map[tp]int64{}
			continue
		}
		parts, err := s.partitionsToReset(d.id)
		if err != nil {
			return err
		}
		plan, err := s.prepare(d.id, parts, fromFile)
		if err != nil {
			return err
		}
		if o.execute.Has() && !o.dryRun.Has() {
			if err := s.commit(d.id, plan); err != nil {
				return err
			}
		}
		plans[d.id] = plan
	}
	if o.export.Has() {
		fmt.Fprintln(s.t.stdout, exportCSV(groups, plans, len(o.group.Values()) == 1))
		return nil
	}
	printOffsetsToReset(s.t.stdout, groups, plans)
	return nil
}

// partitionsToReset is getPartitionsToReset: the committed partitions for
// --all-topics, else the --topic partitions ("t" is all of t's).
func (s *service) partitionsToReset(group string) ([]tp, error) {
	o := s.o
	switch {
	case o.allTopics.Has():
		committed, err := s.committed(group)
		if err != nil {
			return nil, err
		}
		return sortedKeys(committed), nil
	case o.topic.Has():
		var out []tp
		var whole []string
		for _, t := range o.topic.Values() {
			if strings.Contains(t, ":") {
				ps, err := parseTopicPartitions(t)
				if err != nil {
					return nil, err
				}
				out = append(out, ps...)
				continue
			}
			whole = append(whole, t)
		}
		for _, t := range whole {
			ps, err := s.topicPartitions(t)
			if err != nil {
				return nil, err
			}
			out = append(out, ps...)
		}
		return out, nil
	}
	return nil, nil
}

// prepare is prepareOffsetsToReset: the new offset of each partition for
// the scenario given.
func (s *service) prepare(group string, parts []tp, fromFile map[string]map[tp]int64) (map[tp]int64, error) {
	o := s.o
	plan := map[tp]int64{}
	fromLog := func(spec int64, what string) (map[tp]int64, error) {
		offs := s.listOffsets(parts, spec)
		for _, p := range parts {
			off, ok := offs[p]
			if !ok {
				return nil, illegalf(fmt.Sprintf("Error getting %s offset of topic partition: %s", what, p))
			}
			plan[p] = off
		}
		return plan, nil
	}
	switch {
	case o.toOffset.Has():
		off, err := o.toOffset.Int64()
		if err != nil {
			return nil, err
		}
		for _, p := range parts {
			plan[p] = off
		}
		return s.checkRange(plan), nil
	case o.toEarliest.Has():
		return fromLog(sarama.OffsetOldest, "starting")
	case o.toLatest.Has():
		return fromLog(sarama.OffsetNewest, "ending")
	case o.shiftBy.Has():
		shift, err := o.shiftBy.Int64()
		if err != nil {
			return nil, err
		}
		committed, err := s.committed(group)
		if err != nil {
			return nil, err
		}
		for _, p := range parts {
			cur, ok := committed[p]
			if !ok || cur < 0 {
				return nil, illegalf(fmt.Sprintf("Cannot shift offset for partition %s since there is no current committed offset", p))
			}
			plan[p] = cur + shift
		}
		return s.checkRange(plan), nil
	case o.toDatetime.Has():
		ts, err := parseDateTime(o.toDatetime.Value())
		if err != nil {
			return nil, err
		}
		return s.byTimestamp(parts, ts), nil
	case o.byDuration.Has():
		d, err := parseDuration(o.byDuration.Value())
		if err != nil {
			return nil, err
		}
		return s.byTimestamp(parts, time.Now().Add(-d).UnixMilli()), nil
	case fromFile != nil:
		p, ok := fromFile[group]
		if !ok {
			s.t.printError(fmt.Sprintf("No reset plan for group %s found", group), nil)
			return plan, nil
		}
		for k, v := range p {
			plan[k] = v
		}
		return s.checkRange(plan), nil
	case o.toCurrent.Has():
		committed, err := s.committed(group)
		if err != nil {
			return nil, err
		}
		var without []tp
		for _, p := range parts {
			if off, ok := committed[p]; ok && off >= 0 {
				plan[p] = off
			} else {
				without = append(without, p)
			}
		}
		ends := s.listOffsets(without, sarama.OffsetNewest)
		for _, p := range without {
			off, ok := ends[p]
			if !ok {
				return nil, illegalf(fmt.Sprintf("Error getting ending offset of topic partition: %s", p))
			}
			plan[p] = off
		}
		return plan, nil
	}
	return plan, nil
}

// byTimestamp is getLogTimestampOffsets: the first offset at or after ts,
// or the log end offset (with Kafka's warning) where there is none.
func (s *service) byTimestamp(parts []tp, ts int64) map[tp]int64 {
	plan := map[tp]int64{}
	offs := s.listOffsets(parts, ts)
	var fallback []tp
	for _, p := range parts {
		if off, ok := offs[p]; ok && off >= 0 {
			plan[p] = off
			continue
		}
		fallback = append(fallback, p)
	}
	for _, p := range fallback {
		fmt.Fprintf(s.t.stdout, "\nWarn: Partition %d from topic %s is empty. Falling back to latest known offset.\n", p.partition, p.topic)
	}
	for p, off := range s.listOffsets(fallback, sarama.OffsetNewest) {
		plan[p] = off
	}
	return plan
}

// checkRange is checkOffsetsRange: offsets past the log end or before the
// log start are moved to it, with Kafka's warning.
func (s *service) checkRange(plan map[tp]int64) map[tp]int64 {
	parts := sortedKeys(plan)
	starts := s.listOffsets(parts, sarama.OffsetOldest)
	ends := s.listOffsets(parts, sarama.OffsetNewest)
	for _, p := range parts {
		off := plan[p]
		if end, ok := ends[p]; ok && off > end {
			s.warn(fmt.Sprintf("New offset (%d) is higher than latest offset for topic partition %s. Value will be set to %d", off, p, end))
			plan[p] = end
			continue
		}
		if start, ok := starts[p]; ok && off < start {
			s.warn(fmt.Sprintf("New offset (%d) is lower than earliest offset for topic partition %s. Value will be set to %d", off, p, start))
			plan[p] = start
		}
	}
	return plan
}

// commit is alterConsumerGroupOffsets: an OffsetCommit outside any
// generation (generation -1, no member id), which the coordinator accepts
// only for a group without members.
func (s *service) commit(group string, plan map[tp]int64) error {
	if len(plan) == 0 {
		return nil
	}
	err := s.withCoordinator(group, func(b *sarama.Broker) error {
		req := sarama.NewOffsetCommitRequest(s.client.Config(), group)
		for p, off := range plan {
			req.AddBlock(p.topic, p.partition, off, 0, "")
		}
		resp, err := b.CommitOffset(req)
		if err != nil {
			return err
		}
		for _, p := range sortedKeys(plan) {
			if e, ok := resp.Errors[p.topic][p.partition]; ok && e != sarama.ErrNoError {
				return e
			}
		}
		return nil
	})
	if err != nil {
		return callFailed(err, "alterConsumerGroupOffsets")
	}
	return nil
}

// readResetPlan is parseResetPlan: "topic,partition,offset" lines for a
// single --group, else "group,topic,partition,offset".
func (s *service) readResetPlan(path string) (map[string]map[tp]int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, cli.Errorf("java.nio.file.NoSuchFileException", "%s", path)
	}
	plans := map[string]map[tp]int64{}
	single := len(s.o.group.Values()) == 1
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		f := strings.Split(line, ",")
		group := ""
		switch {
		case single && len(f) == 3:
			group = s.o.group.Value()
		case len(f) == 4:
			group, f = f[0], f[1:]
		default:
			return nil, cli.Errorf("RuntimeException", "Invalid reset plan line: %s", line)
		}
		p, err1 := strconv.ParseInt(f[1], 10, 32)
		off, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, cli.Errorf("RuntimeException", "Invalid reset plan line: %s", line)
		}
		if plans[group] == nil {
			plans[group] = map[tp]int64{}
		}
		plans[group][tp{f[0], int32(p)}] = off
	}
	return plans, nil
}

// parseDateTime is Utils.getDateTime: "yyyy-MM-dd'T'HH:mm:ss.SSS" with an
// optional zone (Z, +hh, +hhmm, +hh:mm); without one, UTC.
func parseDateTime(v string) (int64, error) {
	_, clock, ok := strings.Cut(v, "T")
	if !ok || clock == "" {
		return 0, cli.Errorf("java.text.ParseException", "Error parsing timestamp. It does not contain a 'T' according to ISO8601 format")
	}
	if !strings.ContainsAny(clock, "+-Z") {
		v += "Z"
	}
	for _, layout := range []string{"2006-01-02T15:04:05.000Z07:00", "2006-01-02T15:04:05.000Z0700", "2006-01-02T15:04:05.000Z07"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UnixMilli(), nil
		}
	}
	return 0, cli.Errorf("java.text.ParseException", "Unparseable date: \"%s\"", v)
}

var durationRe = regexp.MustCompile(`^([-+]?)P(?:([-+]?[0-9]+)D)?(T(?:([-+]?[0-9]+)H)?(?:([-+]?[0-9]+)M)?(?:([-+]?[0-9]+)(?:[.,]([0-9]{0,9}))?S)?)?$`)

// parseDuration is java.time.Duration.parse: "PnDTnHnMn.nS" (upper or
// lower case letters, optional signs).
func parseDuration(v string) (time.Duration, error) {
	bad := cli.Errorf("java.time.format.DateTimeParseException", "Text cannot be parsed to a Duration")
	m := durationRe.FindStringSubmatch(strings.ToUpper(v))
	if m == nil || m[3] == "T" || (m[2] == "" && m[3] == "") {
		return 0, bad
	}
	num := func(s string) int64 {
		n, _ := strconv.ParseInt(s, 10, 64)
		return n
	}
	d := time.Duration(num(m[2]))*24*time.Hour + time.Duration(num(m[4]))*time.Hour +
		time.Duration(num(m[5]))*time.Minute + time.Duration(num(m[6]))*time.Second
	if m[7] != "" {
		frac := (m[7] + "000000000")[:9]
		ns := time.Duration(num(frac))
		if strings.HasPrefix(m[6], "-") {
			ns = -ns
		}
		d += ns
	}
	if m[1] == "-" {
		d = -d
	}
	return d, nil
}
