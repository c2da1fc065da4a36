package main

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

func tp(topic string, p int32) cli.TopicPartition {
	return cli.TopicPartition{Topic: topic, Partition: p}
}

// seedJSON is the seeds' reassign.json.
const seedJSON = `{
  "version": 1,
  "partitions": [
    {"topic": "my-topic", "partition": 0, "replicas": [0,1,2]},
    {"topic": "my-topic", "partition": 1, "replicas": [1,2,3]}
  ]
}`

func TestParseReassignmentJSON(t *testing.T) {
	targets, dirs, err := parseReassignmentJSON(seedJSON)
	if err != nil {
		t.Fatal(err)
	}
	want := []target{{tp("my-topic", 0), []int32{0, 1, 2}}, {tp("my-topic", 1), []int32{1, 2, 3}}}
	if !reflect.DeepEqual(targets, want) || len(dirs) != 0 {
		t.Errorf("got %v %v", targets, dirs)
	}
	targets, dirs, err = parseReassignmentJSON(`{"partitions":[{"topic":"foo","partition":1,"replicas":[1,2],"log_dirs":["any","/data/b"]}],"version":1}`)
	if err != nil || len(targets) != 1 || !reflect.DeepEqual(dirs, map[replica]string{{tp("foo", 1), 2}: "/data/b"}) {
		t.Errorf("log_dirs: %v %v %v", targets, dirs, err)
	}

	errCases := []struct{ name, in, want string }{
		{"version 2", `{"version":2,"partitions":[]}`, "org.apache.kafka.server.common.AdminOperationException: Not supported version field value 2"},
		{"log dirs size", `{"partitions":[{"topic":"foo","partition":1,"replicas":[1,2],"log_dirs":["any"]}]}`,
			"org.apache.kafka.server.common.AdminCommandFailedException: Size of replicas list [1, 2] is different from size of log dirs list [any] for partition foo-1"},
		{"no replicas", `{"partitions":[{"topic":"foo","partition":1}]}`, "com.fasterxml.jackson.databind.JsonMappingException: No such field exists: `replicas`"},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := parseReassignmentJSON(tc.in)
			if err == nil || cli.JavaError(err) != tc.want {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestValidateExecute(t *testing.T) {
	cases := []struct {
		name    string
		targets []target
		want    string
	}{
		{"ok", []target{{tp("t", 0), []int32{1, 2}}}, ""},
		{"empty", nil, "Partition reassignment list cannot be empty"},
		{"empty replicas", []target{{tp("t", 0), []int32{}}}, "Partition replica list cannot be empty"},
		{"duplicate partitions", []target{{tp("t", 0), []int32{1}}, {tp("t", 0), []int32{2}}}, "Partition reassignment contains duplicate topic partitions: t-0"},
		{"duplicate replicas", []target{{tp("t", 0), []int32{1, 1}}, {tp("t", 1), []int32{2, 3, 2}}},
			"Partition replica lists may not contain duplicate entries: t-0 contains multiple entries for 1. t-1 contains multiple entries for 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := validateExecute(tc.targets)
			if (err == nil) != (tc.want == "") || (err != nil && err.Error() != tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseTopicsJSON(t *testing.T) {
	got, err := parseTopicsJSON(`{"topics": [{"topic": "my-topic"}, {"topic": "foo1"}], "version": 1}`)
	if err != nil || !reflect.DeepEqual(got, []string{"my-topic", "foo1"}) {
		t.Errorf("got %v %v", got, err)
	}
	if _, err := parseTopicsJSON(`[`); err == nil || err.Error() != "The input string is not a valid JSON" {
		t.Errorf("bad json: %v", err)
	}
}

// TestFormatReassignmentJSON checks the JSON Kafka's tool prints (Jackson,
// compact, keys in this order, log_dirs "any").
func TestFormatReassignmentJSON(t *testing.T) {
	got := formatReassignmentJSON(map[cli.TopicPartition][]int32{tp("t", 1): {1, 2}, tp("t", 0): {0, 1}, tp("a", 0): {2}},
		map[replica]string{{tp("t", 1), 2}: "/data/b"})
	want := `{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[2],"log_dirs":["any"]},` +
		`{"topic":"t","partition":0,"replicas":[0,1],"log_dirs":["any","any"]},` +
		`{"topic":"t","partition":1,"replicas":[1,2],"log_dirs":["any","/data/b"]}]}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := formatReassignmentJSON(nil, nil); got != `{"version":1,"partitions":[]}` {
		t.Errorf("empty: %s", got)
	}
}

// TestThrottles is ReassignPartitionsUnitTest.testMoveMap: ongoing
// reassignments overwritten in every way, plus a new one.
func TestThrottles(t *testing.T) {
	r := func(replicas, adding, removing []int32) reassignment { return reassignment{replicas, adding, removing} }
	current := map[cli.TopicPartition]reassignment{
		tp("foo", 0): r([]int32{1, 2, 3, 4}, []int32{4}, []int32{3}),
		tp("foo", 1): r([]int32{4, 5, 6, 7, 8}, []int32{7, 8}, []int32{4, 5}),
		tp("foo", 2): r([]int32{1, 2, 3, 4}, []int32{3, 4}, []int32{1, 2}),
		tp("foo", 3): r([]int32{1, 2, 3, 4}, []int32{3, 4}, []int32{1, 2}),
		tp("foo", 4): r([]int32{1, 2, 3, 4}, []int32{3, 4}, []int32{1, 2}),
		tp("foo", 5): r([]int32{1, 2, 3, 4}, []int32{3, 4}, []int32{1, 2}),
	}
	proposed := map[cli.TopicPartition][]int32{
		tp("foo", 0): {1, 2, 5},
		tp("foo", 2): {3, 4},
		tp("foo", 3): {5, 6},
		tp("foo", 4): {3},
		tp("foo", 5): {3, 4, 5, 6},
		tp("bar", 0): {1, 2, 3},
	}
	currentParts := map[cli.TopicPartition][]int32{
		tp("foo", 0): {1, 2, 3, 4},
		tp("foo", 1): {4, 5, 6, 7, 8},
		tp("foo", 2): {1, 2, 3, 4},
		tp("foo", 3): {1, 2, 3, 4},
		tp("foo", 4): {1, 2, 3, 4},
		tp("foo", 5): {1, 2, 3, 4},
		tp("bar", 0): {2, 3, 4},
		tp("baz", 0): {1, 2, 3},
	}
	m, err := proposedMoveMap(current, proposed, currentParts)
	if err != nil {
		t.Fatal(err)
	}
	if got := throttles(m, true); !reflect.DeepEqual(got, map[string]string{"foo": "0:1,0:2,0:3,1:4,1:5,1:6,2:1,2:2,3:1,3:2,4:1,4:2,5:1,5:2", "bar": "0:2,0:3,0:4"}) {
		t.Errorf("leader throttles %v", got)
	}
	if got := throttles(m, false); !reflect.DeepEqual(got, map[string]string{"foo": "0:5,1:7,1:8,2:3,2:4,3:5,3:6,4:3,5:3,5:4,5:5,5:6", "bar": "0:1"}) {
		t.Errorf("follower throttles %v", got)
	}
	if got := reassigningBrokers(m); !reflect.DeepEqual(got, []int32{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Errorf("brokers %v", got)
	}
	if _, err := proposedMoveMap(nil, map[cli.TopicPartition][]int32{tp("x", 0): {1}}, nil); err == nil ||
		err.Error() != "Trying to reassign a topic partition x-0 with 0 replicas" {
		t.Errorf("no current replicas: %v", err)
	}
}

func TestFormatStates(t *testing.T) {
	got := formatStates(map[cli.TopicPartition]reassignmentState{
		tp("t", 1): {current: []int32{0, 1, 2}, target: []int32{1, 2, 3}, done: false},
		tp("t", 0): {current: []int32{0, 1, 2}, target: []int32{0, 1, 2}, done: true},
		tp("t", 2): {current: []int32{3, 4}, target: []int32{1, 2}, done: true},
	})
	want := "Status of partition reassignment:\n" +
		"Reassignment of partition t-0 is completed.\n" +
		"Reassignment of partition t-1 is still in progress.\n" +
		"There is no active reassignment of partition t-2, but replica set is 3,4 rather than 1,2."
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestFormatCurrentReassignments(t *testing.T) {
	if got := formatCurrentReassignments(nil); got != "No partition reassignments found." {
		t.Errorf("empty: %q", got)
	}
	got := formatCurrentReassignments(map[cli.TopicPartition]reassignment{
		tp("t", 1): {replicas: []int32{3, 4}},
		tp("t", 0): {replicas: []int32{0, 1, 2, 3}, adding: []int32{3}, removing: []int32{0}},
	})
	want := "Current partition reassignments:\n" +
		"t-0: replicas: 0,1,2,3. adding: 3. removing: 0.\n" +
		"t-1: replicas: 3,4."
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestFormatLogDirMoves(t *testing.T) {
	got := formatLogDirMoves(map[replica]logDirMove{
		{tp("t", 0), 1}: {kind: moveCompleted, current: "/a", target: "/a"},
		{tp("t", 0), 0}: {kind: moveActive, current: "/a", target: "/b", future: "/b"},
		{tp("t", 1), 0}: {kind: moveActive, current: "/a", target: "/b", future: "/c"},
		{tp("t", 2), 0}: {kind: moveCancelled, current: "/a", target: "/b"},
		{tp("t", 3), 0}: {kind: moveMissingReplica, target: "/b"},
	})
	want := "Reassignment of replica t-0-0 is still in progress.\n" +
		"Partition t-1 on broker 0 is being moved to log dir /c instead of /b.\n" +
		"Partition t-2 on broker 0 is not being moved from log dir /a to /b.\n" +
		"Partition t-3 cannot be found in any live log directory on broker 0.\n" +
		"Reassignment of replica t-0-1 completed successfully."
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestAssignRackUnaware checks AdminUtils' properties: every partition gets
// rf distinct brokers from the list, leaders spread evenly, and the fixed
// example of AdminUtilsTest (start 0) is reproduced.
func TestAssignRackUnaware(t *testing.T) {
	brokers := []int32{0, 1, 2, 3, 4}
	got, err := assignRackUnaware(brokers, 10, 3, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	leaders := map[int32]int{}
	for p := int32(0); p < 10; p++ {
		r := got[p]
		if len(r) != 3 || r[0] == r[1] || r[1] == r[2] || r[0] == r[2] {
			t.Errorf("partition %d: %v", p, r)
		}
		for _, b := range r {
			if !slices.Contains(brokers, b) {
				t.Errorf("partition %d: broker %d not in the list", p, b)
			}
		}
		leaders[r[0]]++
	}
	for b, n := range leaders {
		if n != 2 {
			t.Errorf("broker %d leads %d partitions, want 2", b, n)
		}
	}
	if _, err := assignRackUnaware([]int32{1, 2}, 3, 3, rand.New(rand.NewPCG(1, 2))); err == nil ||
		err.Error() != "Replication factor: 3 larger than available brokers: 2." {
		t.Errorf("rf > brokers: %v", err)
	}
}

func TestValidateOptions(t *testing.T) {
	bs := []string{"--bootstrap-server", "localhost:9092"}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no action", bs, "Command must include exactly one action: --generate, --execute, --verify, --cancel, --list"},
		{"two actions", append(bs, "--list", "--verify"), "Command must include exactly one action: --generate, --execute, --verify, --cancel, --list"},
		{"no bootstrap", []string{"--list"}, "Please specify --bootstrap-server"},
		{"execute without file", append(bs, "--execute"), `Missing required argument "[reassignment-json-file]"`},
		{"generate without brokers", append(bs, "--generate", "--topics-to-move-json-file", "f"), `Missing required argument "[broker-list]"`},
		{"throttle with verify", append(bs, "--verify", "--reassignment-json-file", "f", "--throttle", "10"), `Option "[throttle]" can't be used with action "[verify]"`},
		{"ok execute", append(bs, "--execute", "--reassignment-json-file", "f", "--throttle", "10", "--additional"), ""},
		{"ok list", append(bs, "--list"), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := cli.NewParser()
			o := newOptions(p)
			if err := p.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			_, err := o.validate()
			if (err == nil) != (tc.want == "") || (err != nil && err.Error() != tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestRunOutput checks main's error printing without a cluster.
func TestRunOutput(t *testing.T) {
	var out, errb strings.Builder
	code := run([]string{"--bootstrap-server", "localhost:9092", "--verify"}, &out, &errb)
	if code != 1 || !strings.HasPrefix(errb.String(), "Missing required argument \"[reassignment-json-file]\"\nOption") {
		t.Errorf("exit %d\n%s%s", code, out.String(), errb.String())
	}
}
