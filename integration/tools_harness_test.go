package integration

// The tools' half of the harness: every Kafka tool in tools/ is built once
// per test binary (next to the broker, so TestMain's clean-up removes it),
// run as a process against the harness's brokers, and its output compared
// line by line with golden files in testdata/tools/ written from Kafka's
// documented outputs, after the variable parts (topic ids, addresses, log
// timestamps) are normalised.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// toolNames are the main packages under tools/ the tests run.
var toolNames = []string{
	"kafka-topics", "kafka-console-producer", "kafka-console-consumer",
	"kafka-broker-api-versions", "kafka-get-offsets", "kafka-producer-perf-test",
	"kafka-consumer-perf-test", "zookeeper-shell", "kafka-server-stop",
	"kafka-consumer-groups", "kafka-configs", "kafka-delete-records",
	"kafka-leader-election", "kafka-reassign-partitions",
}

var (
	toolsOnce sync.Once
	toolsDir  string
	toolsErr  error
)

// buildTools builds every tool into one directory, once.
func buildTools(t testing.TB) string {
	t.Helper()
	toolsOnce.Do(func() {
		base := os.TempDir()
		if brokerBin != "" {
			base = filepath.Dir(brokerBin)
		}
		toolsDir = filepath.Join(base, "tools")
		if toolsErr = os.MkdirAll(toolsDir, 0o755); toolsErr != nil {
			return
		}
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(getenv("GOROOT", "/usr/local/go"), "bin", "go")
		}
		args := []string{"build", "-o", toolsDir + "/"}
		if brokerRace() {
			args = append(args, "-race")
		}
		for _, n := range toolNames {
			args = append(args, "github.com/gregor-broker/gregor/tools/"+n)
		}
		cmd := exec.Command(goBin, args...)
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if err := cmd.Run(); err != nil {
			toolsErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, buf.String())
		}
	})
	if toolsErr != nil {
		t.Fatalf("the tools could not be built:\n%v", toolsErr)
	}
	return toolsDir
}

// toolResult is what one run of a tool printed and how it exited.
type toolResult struct {
	Stdout, Stderr string
	Code           int
}

func (r toolResult) String() string {
	return fmt.Sprintf("exit %d\n--- stdout ---\n%s--- stderr ---\n%s", r.Code, r.Stdout, r.Stderr)
}

// runTool runs tools/<name> with args and stdin, and fails t if it does not
// finish within two minutes.
func runTool(t testing.TB, stdin string, name string, args ...string) toolResult {
	t.Helper()
	dir := buildTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(dir, name), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "GORACE=halt_on_error=1")
	err := cmd.Run()
	res := toolResult{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%s %s: did not finish in 2 minutes\n%s", name, strings.Join(args, " "), res)
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v", name, err)
	}
	if strings.Contains(res.Stderr, "WARNING: DATA RACE") {
		t.Errorf("%s %s: data race\n%s", name, strings.Join(args, " "), res.Stderr)
	}
	return res
}

var (
	topicIDRe   = regexp.MustCompile(`TopicId: [A-Za-z0-9_-]{22}`)
	logTimeRe   = regexp.MustCompile(`(?m)^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\]`)
	goldenNoise = []*regexp.Regexp{topicIDRe, logTimeRe}
)

// normalize replaces the parts of a tool's output that change from run to
// run: topic ids become <topic-id>, log timestamps [<time>], and each
// address in addrs the name it maps to (e.g. 127.0.0.1:40123 -> localhost:9092).
func normalize(s string, addrs map[string]string) string {
	s = topicIDRe.ReplaceAllString(s, "TopicId: <topic-id>")
	s = logTimeRe.ReplaceAllString(s, "[<time>]")
	for from, to := range addrs {
		s = strings.ReplaceAll(s, from, to)
	}
	return s
}

// kafkaAddrs maps the harness's broker i to localhost:9092+i, the addresses
// Kafka's documentation and the seeds use.
func kafkaAddrs(c *Cluster) map[string]string {
	m := map[string]string{}
	for i := 0; i < c.Brokers(); i++ {
		m[c.Addr(i)] = fmt.Sprintf("localhost:%d", 9092+i)
	}
	return m
}

// checkGolden compares got with testdata/tools/<name> line by line, after
// substituting each {{key}} of the golden file from vars.
func checkGolden(t testing.TB, name, got string, vars map[string]string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "tools", name))
	if err != nil {
		t.Fatal(err)
	}
	want := string(data)
	for k, v := range vars {
		want = strings.ReplaceAll(want, "{{"+k+"}}", v)
	}
	compareLines(t, name, got, want)
}

// compareLines reports every line where got and want differ.
func compareLines(t testing.TB, what, got, want string) {
	t.Helper()
	g := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	w := strings.Split(strings.TrimSuffix(want, "\n"), "\n")
	bad := 0
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			bad++
			t.Errorf("%s line %d:\n got: %q\nwant: %q", what, i+1, gl, wl)
		}
	}
	if bad > 0 {
		t.Logf("%s: full output:\n%s", what, got)
	}
}

// bootstrapFlag is the cluster's --bootstrap-server value.
func bootstrapFlag(c *Cluster) string { return strings.Join(c.Bootstrap(), ",") }
