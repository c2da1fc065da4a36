package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// zkCli is Debian's ZooKeeper shell, what an operator inspects the tree with.
const zkCli = "/usr/share/zookeeper/bin/zkCli.sh"

var kafkaUUID = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)

// TestZnodesCarryKafkaJSON reads the znodes a Kafka operator inspects, with
// the ZooKeeper client and once with zkCli.sh, and compares them byte for
// byte with what Kafka 2.8–3.6 writes (reference §1.2), only the ids,
// ports and timestamps filled in from the running cluster.
func TestZnodesCarryKafkaJSON(t *testing.T) {
	start := time.Now()
	c := newCluster(t, opts{})
	admin := c.Admin(t, nil)
	createTopic(t, c, admin, "inspected", 3, 1)
	retention := "86400000"
	if err := admin.CreateTopic("with-config", &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1,
		ConfigEntries: map[string]*string{"retention.ms": &retention}}, false); err != nil {
		t.Fatalf("CreateTopic with retention.ms: %v", err)
	}
	waitTopicReady(t, c, "with-config", 1)
	zc := c.MustZK(t)
	get := func(t *testing.T, path string) string {
		t.Helper()
		data, _, err := zc.Get(path)
		if err != nil {
			t.Fatalf("get %s: %v", path, err)
		}
		return string(data)
	}
	md, err := fetchMetadata(c, "inspected")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("top-level paths", func(t *testing.T) {
		for _, p := range []string{"/consumers", "/brokers/ids", "/brokers/topics", "/brokers/seqid",
			"/config/changes", "/config/topics", "/config/clients", "/config/users", "/config/brokers", "/config/ips",
			"/admin/delete_topics", "/isr_change_notification", "/latest_producer_id_block",
			"/log_dir_event_notification", "/cluster/id", "/controller", "/controller_epoch"} {
			if ok, _, err := zc.Exists(p); err != nil || !ok {
				t.Errorf("%s%s: exists=%v err=%v", c.Chroot(), p, ok, err)
			}
		}
	})

	t.Run("/brokers/ids/0", func(t *testing.T) {
		data := get(t, "/brokers/ids/0")
		ts := timestampField(t, data, start)
		want := fmt.Sprintf(`{"features":{},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://%s:%d"],"jmx_port":-1,"port":%d,"host":"%s","version":5,"timestamp":"%s"}`,
			c.Host(0), c.Port(0), c.Port(0), c.Host(0), ts)
		if data != want {
			t.Errorf("/brokers/ids/0\n got %s\nwant %s", data, want)
		}
		_, stat, _ := zc.Get("/brokers/ids/0")
		if stat == nil || stat.EphemeralOwner == 0 {
			t.Errorf("/brokers/ids/0 is not ephemeral: %+v", stat)
		}
	})

	t.Run("/controller and /controller_epoch", func(t *testing.T) {
		data := get(t, "/controller")
		ts := timestampField(t, data, start)
		v1 := fmt.Sprintf(`{"version":1,"brokerid":0,"timestamp":"%s"}`, ts)
		v2 := fmt.Sprintf(`{"version":2,"brokerid":0,"timestamp":"%s","kraftControllerEpoch":-1}`, ts)
		if data != v1 && data != v2 {
			t.Errorf("/controller\n got %s\nwant %s\n  or %s", data, v1, v2)
		}
		_, stat, _ := zc.Get("/controller")
		if stat == nil || stat.EphemeralOwner == 0 {
			t.Errorf("/controller is not ephemeral: %+v", stat)
		}
		if got := get(t, "/controller_epoch"); got != "1" {
			t.Errorf("/controller_epoch of a new cluster is %q, want 1", got)
		}
		if md.ControllerID != 0 {
			t.Errorf("metadata controller id %d, want 0", md.ControllerID)
		}
	})

	t.Run("/cluster/id and meta.properties", func(t *testing.T) {
		data := get(t, "/cluster/id")
		var v struct{ ID string }
		if err := json.Unmarshal([]byte(data), &v); err != nil || !kafkaUUID.MatchString(v.ID) {
			t.Fatalf("/cluster/id %s: no 22-character URL-safe base64 id (%v)", data, err)
		}
		if want := fmt.Sprintf(`{"version":"1","id":"%s"}`, v.ID); data != want {
			t.Errorf("/cluster/id\n got %s\nwant %s", data, want)
		}
		if md.ClusterID == nil || *md.ClusterID != v.ID {
			t.Errorf("metadata cluster id %v, /cluster/id has %s", strOrNil(md.ClusterID), v.ID)
		}
		props := readProperties(t, filepath.Join(c.DataDir(0), "meta.properties"))
		if props["cluster.id"] != v.ID || props["broker.id"] != "0" || props["version"] != "0" {
			t.Errorf("meta.properties = %v, want cluster.id=%s broker.id=0 version=0", props, v.ID)
		}
	})

	t.Run("/brokers/topics/inspected", func(t *testing.T) {
		data := get(t, "/brokers/topics/inspected")
		var v struct {
			TopicID string `json:"topic_id"`
		}
		if err := json.Unmarshal([]byte(data), &v); err != nil || !kafkaUUID.MatchString(v.TopicID) {
			t.Fatalf("/brokers/topics/inspected %s: no topic_id (%v)", data, err)
		}
		want := fmt.Sprintf(`{"partitions":{"0":[0],"1":[0],"2":[0]},"topic_id":"%s","adding_replicas":{},"removing_replicas":{},"version":3}`, v.TopicID)
		if data != want {
			t.Errorf("/brokers/topics/inspected\n got %s\nwant %s", data, want)
		}
		if got := md.Topics[0].Uuid.String(); got != v.TopicID {
			t.Errorf("metadata topic id %s, znode topic_id %s", got, v.TopicID)
		}
		parts, _, err := zc.Children("/brokers/topics/inspected/partitions")
		if err != nil || !equalStrings(sortedCopy(parts), []string{"0", "1", "2"}) {
			t.Errorf("children of /brokers/topics/inspected/partitions: %v (%v), want [0 1 2]", parts, err)
		}
	})

	t.Run("partition state", func(t *testing.T) {
		epoch := get(t, "/controller_epoch")
		for p := 0; p < 3; p++ {
			path := fmt.Sprintf("/brokers/topics/inspected/partitions/%d/state", p)
			want := fmt.Sprintf(`{"controller_epoch":%s,"leader":0,"version":1,"leader_epoch":0,"isr":[0]}`, epoch)
			if data := get(t, path); data != want {
				t.Errorf("%s\n got %s\nwant %s", path, data, want)
			}
		}
	})

	t.Run("/config/topics", func(t *testing.T) {
		if got, want := get(t, "/config/topics/inspected"), `{"version":1,"config":{}}`; got != want {
			t.Errorf("/config/topics/inspected\n got %s\nwant %s", got, want)
		}
		if got, want := get(t, "/config/topics/with-config"), `{"version":1,"config":{"retention.ms":"86400000"}}`; got != want {
			t.Errorf("/config/topics/with-config\n got %s\nwant %s", got, want)
		}
	})

	t.Run("zkCli.sh get", func(t *testing.T) {
		if _, err := os.Stat(zkCli); err != nil {
			t.Fatalf("%s: %v (install Debian's zookeeper package: apt-get install -y zookeeper)", zkCli, err)
		}
		for _, p := range []string{"/brokers/ids/0", "/brokers/topics/inspected"} {
			want := get(t, p)
			out := runZkCli(t, c.ZK().Addrs()[0], "get", c.Chroot()+p)
			if !containsLine(out, want) {
				t.Errorf("zkCli.sh get %s%s does not print %s on a line of its own; output:\n%s", c.Chroot(), p, want, out)
			}
		}
	})
}

// runZkCli runs zkCli.sh non-interactively. It retries when the shell ran the
// command before its session was connected (a zkCli quirk, not the broker's).
func runZkCli(t testing.TB, server string, args ...string) string {
	t.Helper()
	var out []byte
	for attempt := 0; attempt < 3; attempt++ {
		cmd := exec.Command(zkCli, append([]string{"-server", server}, args...)...)
		cmd.Env = append(os.Environ(), "JVMFLAGS=-Xmx64m -XX:TieredStopAtLevel=1")
		var err error
		out, err = cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("zkCli.sh %v: %v\n%s", args, err, out)
		}
		if !strings.Contains(string(out), "ConnectionLoss") {
			break
		}
	}
	return string(out)
}

func containsLine(out, line string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimRight(l, "\r") == line {
			return true
		}
	}
	return false
}

// timestampField returns the "timestamp" string of a znode's JSON and checks
// it is epoch milliseconds between since and now.
func timestampField(t testing.TB, data string, since time.Time) string {
	t.Helper()
	var v struct {
		Timestamp string `json:"timestamp"`
	}
	if err := json.Unmarshal([]byte(data), &v); err != nil {
		t.Fatalf("%s: %v", data, err)
	}
	ms, err := strconv.ParseInt(v.Timestamp, 10, 64)
	if err != nil {
		t.Fatalf("%s: timestamp %q is not a string of epoch milliseconds", data, v.Timestamp)
	}
	if ts := time.UnixMilli(ms); ts.Before(since.Add(-time.Second)) || ts.After(time.Now().Add(time.Second)) {
		t.Errorf("%s: timestamp %s is not during this test (%s – now)", data, ts, since)
	}
	return v.Timestamp
}

// readProperties parses a Java properties file of key=value lines.
func readProperties(t testing.TB, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	props := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			props[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return props
}

func strOrNil(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
