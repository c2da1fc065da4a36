package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// missing is MISSING_COLUMN_VALUE.
const missing = "-"

// offsetRow is one PartitionAssignmentState, already as the strings shown.
type offsetRow struct {
	group, topic, partition, current, end, lag, consumerID, host, clientID string
}

// printGroupStates is "--list --state": GROUP (at least 15 wide) and STATE.
func printGroupStates(w io.Writer, ls []groupListing) {
	width := 15
	for _, l := range ls {
		width = max(width, len(l.id))
	}
	fmt.Fprintf(w, "%-*s %s\n", width, "GROUP", "STATE")
	for _, l := range ls {
		fmt.Fprintf(w, "%-*s %s\n", width, l.id, l.state)
	}
}

// printOffsets is printOffsets for one group: a blank line, the header and
// a row per partition, the variable columns at least 15 wide.
func printOffsets(w io.Writer, rows []offsetRow) {
	g, t, c, h := 15, 15, 15, 15
	for _, r := range rows {
		g, t, c, h = max(g, len(r.group)), max(t, len(r.topic)), max(c, len(r.consumerID)), max(h, len(r.host))
	}
	line := func(r offsetRow) {
		fmt.Fprintf(w, "%-*s %-*s %-10s %-15s %-15s %-15s %-*s %-*s %s\n",
			g, r.group, t, r.topic, r.partition, r.current, r.end, r.lag, c, r.consumerID, h, r.host, r.clientID)
	}
	fmt.Fprintln(w)
	line(offsetRow{"GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"})
	for _, r := range rows {
		line(r)
	}
}

// printMembers is printMembers for one group: GROUP CONSUMER-ID
// [GROUP-INSTANCE-ID] HOST CLIENT-ID #PARTITIONS, and with --verbose the
// ASSIGNMENT ("t1(0,1), t2(0)"). Each cell is padded and followed by a
// space, as Kafka's format does, so lines end in spaces.
func printMembers(w io.Writer, d *groupDesc, verbose bool) {
	g, c, gi, h, cl := 15, 15, 17, 15, 15
	withInstance := false
	for _, m := range d.members {
		g, c, gi = max(g, len(d.id)), max(c, len(m.consumerID)), max(gi, len(m.instanceID))
		h, cl = max(h, len(m.host)), max(cl, len(m.clientID))
		withInstance = withInstance || m.instanceID != ""
	}
	cells := func(group, consumer, instance, host, client, parts string) string {
		if withInstance {
			return fmt.Sprintf("%-*s %-*s %-*s %-*s %-*s %-15s ", g, group, c, consumer, gi, instance, h, host, cl, client, parts)
		}
		return fmt.Sprintf("%-*s %-*s %-*s %-*s %-15s ", g, group, c, consumer, h, host, cl, client, parts)
	}
	header := cells("GROUP", "CONSUMER-ID", "GROUP-INSTANCE-ID", "HOST", "CLIENT-ID", "#PARTITIONS")
	if verbose {
		header += "ASSIGNMENT"
	}
	fmt.Fprintf(w, "\n%s\n", header)
	for _, m := range d.members {
		line := cells(d.id, m.consumerID, m.instanceID, m.host, m.clientID, fmt.Sprint(len(m.assignment)))
		if verbose {
			line += assignmentString(m.assignment)
		}
		fmt.Fprintln(w, line)
	}
}

// assignmentString is "t1(0,1), t2(0)", topics sorted, or "-".
func assignmentString(ps []tp) string {
	if len(ps) == 0 {
		return missing
	}
	byTopic := map[string][]int32{}
	for _, p := range ps {
		byTopic[p.topic] = append(byTopic[p.topic], p.partition)
	}
	var out []string
	for t, parts := range byTopic {
		sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
		s := make([]string, len(parts))
		for i, p := range parts {
			s[i] = fmt.Sprint(p)
		}
		out = append(out, t+"("+strings.Join(s, ",")+")")
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// printState is printStates for one group. Kafka sizes the first column by
// the coordinator's width (at least 25) and the COORDINATOR (ID) column 25
// wide; this keeps its layout.
func printState(w io.Writer, d *groupDesc) {
	coordinator := missing
	if d.coordinator != nil {
		coordinator = fmt.Sprintf("%s (%d)", d.coordinator.Addr(), d.coordinator.ID())
	}
	width := max(25, len(coordinator))
	f := func(a, b, c, e, n string) string {
		return fmt.Sprintf("\n%-*s %-25s %-20s %-15s %s", width, a, b, c, e, n)
	}
	io.WriteString(w, f("GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS"))
	io.WriteString(w, f(d.id, coordinator, d.assignor, d.state, fmt.Sprint(len(d.members))))
	fmt.Fprintln(w)
}

// printOffsetsToReset is printOffsetsToReset: the header (after a blank
// line) when any group was handled, then GROUP TOPIC PARTITION NEW-OFFSET.
func printOffsetsToReset(w io.Writer, groups []string, plans map[string]map[tp]int64) {
	const f = "%-30s %-30s %-10s %-15s\n"
	if len(groups) > 0 {
		fmt.Fprintf(w, "\n"+f, "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET")
	}
	for _, g := range groups {
		for _, p := range sortedKeys(plans[g]) {
			fmt.Fprintf(w, f, g, p.topic, fmt.Sprint(p.partition), fmt.Sprint(plans[g][p]))
		}
	}
}

// exportCSV is exportOffsetsToCsv: "topic,partition,offset" lines for one
// --group, "group,topic,partition,offset" otherwise.
func exportCSV(groups []string, plans map[string]map[tp]int64, singleGroup bool) string {
	var b strings.Builder
	for _, g := range groups {
		for _, p := range sortedKeys(plans[g]) {
			if !singleGroup {
				fmt.Fprintf(&b, "%s,", g)
			}
			fmt.Fprintf(&b, "%s,%d,%d\n", p.topic, p.partition, plans[g][p])
		}
	}
	return b.String()
}

// printDeleteOffsets is deleteOffsets' table: TOPIC PARTITION STATUS, a
// topic that could not be described as partition "Not Provided".
func printDeleteOffsets(w io.Writer, results map[tp]string) {
	const f = "%-30s %-15s %-15s\n"
	fmt.Fprintf(w, "\n"+f, "TOPIC", "PARTITION", "STATUS")
	keys := sortedKeys(results)
	// Kafka sorts by topic + partition as one string.
	sort.SliceStable(keys, func(i, j int) bool {
		return keys[i].topic+fmt.Sprint(keys[i].partition) < keys[j].topic+fmt.Sprint(keys[j].partition)
	})
	for _, p := range keys {
		part := "Not Provided"
		if p.partition >= 0 {
			part = fmt.Sprint(p.partition)
		}
		status := "Successful"
		if msg := results[p]; msg != "" {
			status = "Error: " + msg
		}
		fmt.Fprintf(w, f, p.topic, part, status)
	}
}

func sortedKeys[V any](m map[tp]V) []tp {
	out := make([]tp, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	sortTPs(out)
	return out
}
