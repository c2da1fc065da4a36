package integration

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// checkAPIVersionsOutput compares kafka-broker-api-versions' output with
// what sarama's own ApiVersions request to each broker returns: one block
// per broker, "localhost:909x (id: i rack: null) -> (", a line per
// advertised API with its range, then ")".
func checkAPIVersionsOutput(t *testing.T, c *Cluster, out string) {
	t.Helper()
	for i := 0; i < c.Brokers(); i++ {
		head := fmt.Sprintf("localhost:%d (id: %d rack: null) -> (\n", 9092+i, i)
		start := strings.Index(out, head)
		if start < 0 {
			t.Errorf("no block starting %q in\n%s", head, out)
			continue
		}
		block := out[start+len(head):]
		block = block[:strings.Index(block, "\n)\n")]
		b := sarama.NewBroker(c.Addr(i))
		if err := b.Open(c.SaramaConfig()); err != nil {
			t.Fatal(err)
		}
		res, err := b.ApiVersions(&sarama.ApiVersionsRequest{})
		b.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range res.ApiKeys {
			rng := fmt.Sprintf("%d to %d", k.MinVersion, k.MaxVersion)
			if k.MinVersion == k.MaxVersion {
				rng = fmt.Sprint(k.MinVersion)
			}
			re := regexp.MustCompile(fmt.Sprintf(`(?m)^\t[A-Za-z]+\(%d\): %s \[usable: \d+\],?$`, k.ApiKey, rng))
			if !re.MatchString(block) {
				t.Errorf("broker %d: no line for API %d %s in\n%s", i, k.ApiKey, rng, block)
			}
		}
		for _, l := range []string{"\tProduce(0): ", "\tMetadata(3): ", "\tApiVersions(18): "} {
			if !strings.Contains(block, l) {
				t.Errorf("broker %d: no %q line", i, l)
			}
		}
	}
}

// TestToolClusterOps covers kafka-broker-api-versions, kafka-get-offsets,
// the two perf tests, zookeeper-shell's commands and kafka-server-stop on
// one broker.
func TestToolClusterOps(t *testing.T) {
	c := newCluster(t, opts{})
	bs := bootstrapFlag(c)
	addrs := kafkaAddrs(c)
	connect := c.ZK().ConnectString() + c.Chroot()

	t.Run("broker-api-versions", func(t *testing.T) {
		r := runTool(t, "", "kafka-broker-api-versions", "--bootstrap-server", bs)
		if r.Code != 0 {
			t.Fatal(r)
		}
		checkAPIVersionsOutput(t, c, normalize(r.Stdout, addrs))
		r = runTool(t, "", "kafka-broker-api-versions")
		if r.Code != 1 || !strings.HasPrefix(r.Stderr, "This tool helps to retrieve broker version information.") {
			t.Errorf("no arguments:\n%s", r)
		}
	})

	t.Run("get-offsets", func(t *testing.T) {
		if r := runTool(t, "", "kafka-topics", "--bootstrap-server", bs, "--create", "--topic", "offsets", "--partitions", "2"); r.Code != 0 {
			t.Fatal(r)
		}
		waitTopicReady(t, c, "offsets", 2)
		cfg := c.SaramaConfig()
		cfg.Producer.Partitioner = sarama.NewManualPartitioner
		p, err := sarama.NewSyncProducer(c.Bootstrap(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, part := range []int32{0, 0, 0, 1} {
			if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "offsets", Partition: part, Value: sarama.StringEncoder("x")}); err != nil {
				t.Fatal(err)
			}
		}
		p.Close()
		cases := []struct {
			args   []string
			code   int
			stdout string
			stderr string
		}{
			{[]string{"--topic", "offsets"}, 0, "offsets:0:3\noffsets:1:1\n", ""},
			{[]string{"--topic", "offsets", "--time", "-1"}, 0, "offsets:0:3\noffsets:1:1\n", ""},
			{[]string{"--topic", "offsets", "--time", "earliest"}, 0, "offsets:0:0\noffsets:1:0\n", ""},
			{[]string{"--topic", "offsets", "--partitions", "1"}, 0, "offsets:1:1\n", ""},
			{[]string{"--topic-partitions", "offsets:0"}, 0, "offsets:0:3\n", ""},
			{[]string{"--topic-partitions", "off.*:1-"}, 0, "offsets:1:1\n", ""},
			{[]string{"--topic", "offsets", "--time", "0"}, 0, "offsets:0:0\noffsets:1:0\n", ""},
			{[]string{"--topic", "offsets", "--time", fmt.Sprint(time.Now().Add(time.Hour).UnixMilli())}, 0, "offsets:0:\noffsets:1:\n", ""},
			{[]string{"--topic", "nope"}, 1, "", "Error occurred: Could not match any topic-partitions with the specified filters\n"},
			{[]string{"--topic", "offsets", "--time", "soon"}, 1, "", "Error occurred: Malformed time argument soon. Please use -1 or latest / -2 or earliest / -3 or max-timestamp, or a specified long format timestamp\n"},
		}
		for _, tc := range cases {
			r := runTool(t, "", "kafka-get-offsets", append([]string{"--bootstrap-server", bs}, tc.args...)...)
			if r.Code != tc.code {
				t.Errorf("%v: exit %d, want %d\n%s", tc.args, r.Code, tc.code, r)
			}
			compareLines(t, fmt.Sprintf("%v stdout", tc.args), r.Stdout, tc.stdout)
			compareLines(t, fmt.Sprintf("%v stderr", tc.args), r.Stderr, tc.stderr)
		}
	})

	t.Run("perf tests", func(t *testing.T) {
		if r := runTool(t, "", "kafka-topics", "--bootstrap-server", bs, "--create", "--topic", "perf", "--partitions", "3"); r.Code != 0 {
			t.Fatal(r)
		}
		waitTopicReady(t, c, "perf", 3)
		final := regexp.MustCompile(`^(\d+) records sent, \d+\.\d{6} records/sec \(\d+\.\d{2} MB/sec\), \d+\.\d{2} ms avg latency, \d+\.\d{2} ms max latency, \d+ ms 50th, \d+ ms 95th, \d+ ms 99th, \d+ ms 99\.9th\.$`)
		progress := regexp.MustCompile(`^\d+ records sent, \d+\.\d records/sec \(\d+\.\d{2} MB/sec\), \d+\.\d ms avg latency, \d+\.\d ms max latency\.$`)
		r := runTool(t, "", "kafka-producer-perf-test", "--topic", "perf", "--num-records", "2000", "--record-size", "100", "--throughput", "-1", "--producer-props", "bootstrap.servers="+bs, "acks=1")
		lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
		if m := final.FindStringSubmatch(lines[len(lines)-1]); r.Code != 0 || m == nil || m[1] != "2000" {
			t.Errorf("producer perf test, final line:\n%s", r)
		}
		// 3000 records at 500/s take 6 s: one progress line after 5 s.
		r = runTool(t, "", "kafka-producer-perf-test", "--topic", "perf", "--num-records", "3000", "--record-size", "10", "--throughput", "500", "--producer-props", "bootstrap.servers="+bs)
		lines = strings.Split(strings.TrimSpace(r.Stdout), "\n")
		if r.Code != 0 || len(lines) < 2 || !progress.MatchString(lines[0]) || !final.MatchString(lines[len(lines)-1]) {
			t.Errorf("producer perf test with throttling: want a progress line then the final line\n%s", r)
		}
		r = runTool(t, "", "kafka-producer-perf-test", "--topic", "perf", "--record-size", "10", "--throughput", "500")
		if r.Code != 1 || !strings.HasPrefix(r.Stderr, "kafka-producer-perf-test: error: argument --num-records is required") {
			t.Errorf("missing --num-records:\n%s", r)
		}

		const header = "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"
		data := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}, \d+\.\d{4}, \d+\.\d{4}, 5000, \d+\.\d{4}, \d+, \d+, \d+\.\d{4}, \d+\.\d{4}$`)
		r = runTool(t, "", "kafka-consumer-perf-test", "--bootstrap-server", bs, "--topic", "perf", "--messages", "5000")
		lines = strings.Split(strings.TrimSpace(r.Stdout), "\n")
		if r.Code != 0 || len(lines) != 2 || lines[0] != header || !data.MatchString(lines[1]) {
			t.Errorf("consumer perf test:\n%s", r)
		}
		const detailedHeader = "time, threadId, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"
		detail := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}, 0, \d+\.\d{4}, \d+\.\d{4}, \d+, \d+\.\d{4}, \d+, \d+, \d+\.\d{4}, \d+\.\d{4}$`)
		r = runTool(t, "", "kafka-consumer-perf-test", "--bootstrap-server", bs, "--topic", "perf", "--messages", "6000", "--show-detailed-stats", "--reporting-interval", "1000", "--timeout", "2500")
		lines = strings.Split(strings.TrimSpace(r.Stdout), "\n")
		warn := "WARNING: Exiting before consuming the expected number of messages: timeout (2500 ms) exceeded. You can use the --timeout option to increase the timeout."
		if r.Code != 0 || len(lines) < 3 || lines[0] != detailedHeader || lines[len(lines)-1] != warn {
			t.Errorf("consumer perf test with --show-detailed-stats and a timeout:\n%s", r)
		} else {
			for _, l := range lines[1 : len(lines)-1] {
				if !detail.MatchString(l) {
					t.Errorf("detailed stats line %q", l)
				}
			}
		}
	})

	t.Run("zookeeper-shell", func(t *testing.T) {
		zs := func(stdin string, args ...string) toolResult {
			return runTool(t, stdin, "zookeeper-shell", append([]string{connect}, args...)...)
		}
		const banner = "\nWATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null\n"
		r := zs("", "get", "/controller")
		if r.Code != 0 || !regexp.MustCompile(`(?m)^\{"version":\d+,"brokerid":0,"timestamp":"\d+"\}$`).MatchString(r.Stdout) {
			t.Errorf("get /controller:\n%s", r)
		}
		r = zs("", "stat", "/brokers/ids/0")
		stat := regexp.MustCompile(`cZxid = 0x[0-9a-f]+\nctime = \w{3} \w{3} \d\d \d\d:\d\d:\d\d \w+ \d{4}\nmZxid = 0x[0-9a-f]+\nmtime = .*\npZxid = 0x[0-9a-f]+\ncversion = 0\ndataVersion = \d+\naclVersion = 0\nephemeralOwner = 0x[1-9a-f][0-9a-f]*\ndataLength = \d+\nnumChildren = 0\n$`)
		if r.Code != 0 || !stat.MatchString(r.Stdout) {
			t.Errorf("stat of an ephemeral broker znode:\n%s", r)
		}
		r = zs("", "ls", "-R", "/brokers/topics/offsets")
		compareLines(t, "ls -R", strings.TrimPrefix(r.Stdout, "Connecting to "+connect+"\n"+banner),
			"/brokers/topics/offsets\n/brokers/topics/offsets/partitions\n/brokers/topics/offsets/partitions/0\n/brokers/topics/offsets/partitions/1\n/brokers/topics/offsets/partitions/0/state\n/brokers/topics/offsets/partitions/1/state\n")
		r = zs("", "get", "/nope")
		if r.Code != 1 || r.Stderr != "Node does not exist: /nope\n" {
			t.Errorf("get /nope:\n%s", r)
		}
		r = zs("", "ls", "brokers")
		if r.Code != 1 || r.Stderr != "Path must start with / character\n" {
			t.Errorf("ls brokers:\n%s", r)
		}
		r = zs("ls /brokers/ids\nget /nope\nquit\nls /\n")
		if r.Code != 0 || r.Stderr != "Node does not exist: /nope\n" {
			t.Errorf("interactive:\n%s", r)
		}
		checkGolden(t, "zookeeper_shell_interactive.golden", r.Stdout, map[string]string{"connect": connect})
		r = zs("", "create", "/tools-test", "hello")
		if r.Code != 0 || !strings.HasSuffix(r.Stdout, "Created /tools-test\n") {
			t.Errorf("create:\n%s", r)
		}
		if r = zs("", "get", "/tools-test"); !strings.HasSuffix(r.Stdout, banner+"hello\n") {
			t.Errorf("get after create:\n%s", r)
		}
		if r = zs("", "delete", "/tools-test"); r.Code != 0 {
			t.Errorf("delete:\n%s", r)
		}
	})

	t.Run("server-stop", func(t *testing.T) {
		b := c.brokers[0]
		pidPath := filepath.Join(c.DataDir(0), "kafka-server.pid")
		data, err := os.ReadFile(pidPath)
		if err != nil || strings.TrimSpace(string(data)) != fmt.Sprint(c.Pid(0)) {
			t.Fatalf("pid file %s holds %q (%v), want the broker's pid %d", pidPath, data, err, c.Pid(0))
		}
		// Tell the harness the coming exit is wanted (signal 0 sends nothing).
		done, err := b.signal(syscall.Signal(0), true)
		if err != nil {
			t.Fatal(err)
		}
		r := runTool(t, "", "kafka-server-stop", b.props)
		if r.Code != 0 || r.Stdout != "" || r.Stderr != "" {
			t.Fatalf("kafka-server-stop: %s", r)
		}
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Fatal("the broker did not stop within 60 s of kafka-server-stop")
		}
		if err := b.reap(); err != nil {
			t.Errorf("broker exit after kafka-server-stop: %v, want a clean exit", err)
		}
		if _, err := os.Stat(pidPath); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("pid file still there after the broker stopped: %v", err)
		}
		r = runTool(t, "", "kafka-server-stop", b.props)
		if r.Code != 1 || r.Stdout != "No kafka server to stop\n" {
			t.Errorf("second kafka-server-stop: %s", r)
		}
	})
}
