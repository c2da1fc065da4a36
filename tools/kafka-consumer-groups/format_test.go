package main

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestPrintOffsets(t *testing.T) {
	tests := []struct {
		name string
		rows []offsetRow
		want string
	}{
		{
			name: "no owner, 15-wide minimum",
			rows: []offsetRow{{"g", "t", "0", "1", "3", "2", "-", "-", "-"}},
			want: "\n" +
				"GROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID     HOST            CLIENT-ID\n" +
				"g               t               0          1               3               2               -               -               -\n",
		},
		{
			name: "columns widen to the longest value",
			rows: []offsetRow{
				{"test-consumer-group", "test-consumer-topic", "0", "1", "1", "0", "console-consumer-a68c4fd8", "/127.0.0.1", "console-consumer"},
				{"test-consumer-group", "test-consumer-topic", "1", "-", "0", "-", "console-consumer-a68c4fd8", "/127.0.0.1", "console-consumer"},
			},
			want: "\n" +
				"GROUP               TOPIC               PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID               HOST            CLIENT-ID\n" +
				"test-consumer-group test-consumer-topic 0          1               1               0               console-consumer-a68c4fd8 /127.0.0.1      console-consumer\n" +
				"test-consumer-group test-consumer-topic 1          -               0               -               console-consumer-a68c4fd8 /127.0.0.1      console-consumer\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			printOffsets(&b, tc.rows)
			if b.String() != tc.want {
				t.Errorf("got\n%q\nwant\n%q", b.String(), tc.want)
			}
		})
	}
}

func TestPrintMembers(t *testing.T) {
	d := &groupDesc{id: "g", members: []member{
		{consumerID: "c-1", clientID: "c", host: "/127.0.0.1", assignment: []tp{{"b", 1}, {"a", 2}, {"a", 0}}},
		{consumerID: "c-2", clientID: "c", host: "/127.0.0.1"},
	}}
	tests := []struct {
		verbose bool
		want    string
	}{
		{false, "\n" +
			"GROUP           CONSUMER-ID     HOST            CLIENT-ID       #PARTITIONS     \n" +
			"g               c-1             /127.0.0.1      c               3               \n" +
			"g               c-2             /127.0.0.1      c               0               \n"},
		{true, "\n" +
			"GROUP           CONSUMER-ID     HOST            CLIENT-ID       #PARTITIONS     ASSIGNMENT\n" +
			"g               c-1             /127.0.0.1      c               3               a(0,2), b(1)\n" +
			"g               c-2             /127.0.0.1      c               0               -\n"},
	}
	for _, tc := range tests {
		var b bytes.Buffer
		printMembers(&b, d, tc.verbose)
		if b.String() != tc.want {
			t.Errorf("verbose=%v: got\n%q\nwant\n%q", tc.verbose, b.String(), tc.want)
		}
	}
}

func TestPrintResetAndDeleteOffsets(t *testing.T) {
	var b bytes.Buffer
	printOffsetsToReset(&b, []string{"g"}, map[string]map[tp]int64{"g": {{"t", 1}: 5, {"t", 0}: 7}})
	want := "\n" +
		"GROUP                          TOPIC                          PARTITION  NEW-OFFSET     \n" +
		"g                              t                              0          7              \n" +
		"g                              t                              1          5              \n"
	if b.String() != want {
		t.Errorf("reset: got\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	printDeleteOffsets(&b, map[tp]string{{"t", 0}: "", {"u", -1}: "x"})
	want = "\n" +
		"TOPIC                          PARTITION       STATUS         \n" +
		"t                              0               Successful     \n" +
		"u                              Not Provided    Error: x       \n"
	if b.String() != want {
		t.Errorf("delete-offsets: got\n%q\nwant\n%q", b.String(), want)
	}
}

func TestStateArgs(t *testing.T) {
	tests := []struct{ in, want []string }{
		{[]string{"--list", "--state"}, []string{"--list", "--state="}},
		{[]string{"--list", "--state", "stable,empty"}, []string{"--list", "--state=stable,empty"}},
		{[]string{"--describe", "--state", "--group", "g"}, []string{"--describe", "--state=", "--group", "g"}},
		{[]string{"--sta", "x"}, []string{"--state=x"}},
		{[]string{"--state=x", "--shift-by", "1"}, []string{"--state=x", "--shift-by", "1"}},
		{[]string{"--group", "state"}, []string{"--group", "state"}},
	}
	for _, tc := range tests {
		if got := stateArgs(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("stateArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"PT1H", time.Hour, true},
		{"P1DT2H3M4.5S", 26*time.Hour + 3*time.Minute + 4500*time.Millisecond, true},
		{"pt10m", 10 * time.Minute, true},
		{"-PT5S", -5 * time.Second, true},
		{"P2D", 48 * time.Hour, true},
		{"PT", 0, false},
		{"P", 0, false},
		{"1h", 0, false},
	}
	for _, tc := range tests {
		got, err := parseDuration(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseDateTime(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"2024-01-02T03:04:05.006", time.Date(2024, 1, 2, 3, 4, 5, 6e6, time.UTC).UnixMilli(), true},
		{"2024-01-02T03:04:05.006Z", time.Date(2024, 1, 2, 3, 4, 5, 6e6, time.UTC).UnixMilli(), true},
		{"2024-01-02T03:04:05.006+01:00", time.Date(2024, 1, 2, 2, 4, 5, 6e6, time.UTC).UnixMilli(), true},
		{"2024-01-02T03:04:05.006+0100", time.Date(2024, 1, 2, 2, 4, 5, 6e6, time.UTC).UnixMilli(), true},
		{"2024-01-02", 0, false},
		{"2024-01-02T03:04", 0, false},
	}
	for _, tc := range tests {
		got, err := parseDateTime(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseDateTime(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string // first stderr line
	}{
		{[]string{"--list"}, `Missing required argument "[bootstrap-server]"`},
		{[]string{"--bootstrap-server", "x"}, "Command must include exactly one action: --list, --describe, --delete, --reset-offsets, --delete-offsets"},
		{[]string{"--bootstrap-server", "x", "--describe"}, "Option [describe] takes one of these options: [group], [all-groups]"},
		{[]string{"--bootstrap-server", "x", "--describe", "--group", "g", "--members", "--state"}, "Option [describe] takes at most one of these options: [members], [offsets], [state]"},
		{[]string{"--bootstrap-server", "x", "--describe", "--group", "g", "--state", "Stable"}, "Option [describe] does not take a value for [state]"},
		{[]string{"--bootstrap-server", "x", "--list", "--members"}, "Option(s) [members] are unavailable given other options on the command line"},
		{[]string{"--bootstrap-server", "x", "--delete"}, "Option [delete] takes one of these options: [group], [all-groups]"},
		{[]string{"--bootstrap-server", "x", "--delete", "--group", "g", "--topic", "t"}, "The consumer does not support topic-specific offset deletion from a consumer group."},
		{[]string{"--bootstrap-server", "x", "--delete-offsets", "--group", "g"}, "Option [delete-offsets] takes the following options: [group], [topic]"},
		{[]string{"--bootstrap-server", "x", "--reset-offsets", "--group", "g", "--dry-run", "--execute"}, "Option [reset-offsets] only accepts one of [execute] and [dry-run]"},
		{[]string{"--bootstrap-server", "x", "--reset-offsets", "--group", "g", "--to-earliest", "--to-latest", "--dry-run"}, `Option "[to-earliest]" can't be used with option "[to-latest]"`},
		{[]string{"--bootstrap-server", "x", "--describe", "--group", "g", "--all-groups"}, `Option "[group]" can't be used with option "[all-groups]"`},
		{[]string{"--bootstrap-server", "x", "--list", "--group", "g"}, `Option "[group]" can't be used with option "[list]"`},
		{[]string{"--bootstrap-server", "x", "--frobnicate"}, "frobnicate is not a recognized option"},
	}
	for _, tc := range tests {
		var out, errb bytes.Buffer
		code := run(tc.args, &out, &errb)
		first, rest, _ := strings.Cut(errb.String(), "\n")
		if code != 1 || first != tc.want || !strings.HasPrefix(rest, "Option ") || out.Len() != 0 {
			t.Errorf("%q: exit %d, stdout %q, stderr starts %q; want exit 1, %q and the option table", tc.args, code, out.String(), first, tc.want)
		}
	}
}

func TestHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--help"}, &out, &errb); code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	help := errb.String()
	if !strings.HasPrefix(help, purpose+"\nOption") {
		t.Errorf("help starts %q", help[:min(len(help), 200)])
	}
	for _, s := range []string{"--state [String]", "--timeout <Long: timeout (ms)>", "(default: 5000)", "--reset-offsets", "--to-datetime <String: datetime>", "--all-groups"} {
		if !strings.Contains(help, s) {
			t.Errorf("help lacks %q", s)
		}
	}
}
