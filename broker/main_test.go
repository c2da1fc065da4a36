package broker

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad arguments and bad configuration exit 2 with a message naming the key,
// before anything touches ZooKeeper or the log dirs.
func TestMainRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	good := "broker.id=0\nzookeeper.connect=127.0.0.1:1\nlog.dirs=" + filepath.Join(dir, "logs") + "\n"
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	goodPath := write("good.properties", good)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no args", nil, "missing server.properties"},
		{"missing file", []string{filepath.Join(dir, "nope.properties")}, "server.properties:"},
		{"unknown option", []string{goodPath, "--bogus"}, "unknown option --bogus"},
		{"override without value", []string{goodPath, "--override"}, "--override needs property=value"},
		{"bad segment size", []string{write("seg.properties", good+"log.segment.bytes=3\n")}, "log.segment.bytes: must be >= 14, got 3"},
		{"bad override", []string{goodPath, "--override", "num.partitions=zero"}, "num.partitions:"},
		{"no zookeeper", []string{write("nozk.properties", "broker.id=0\n")}, "zookeeper.connect"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := Main(tc.args, &stderr)
			if code != exitConfig {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitConfig, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("stderr %q does not contain %q", stderr.String(), tc.want)
			}
		})
	}
}

func TestParseArgs(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.properties")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	path, overrides, err := parseArgs([]string{p, "--override", "broker.id=3", "--override=log.dirs=/x"})
	if err != nil {
		t.Fatal(err)
	}
	if path != p || len(overrides) != 2 || overrides[0] != "broker.id=3" || overrides[1] != "log.dirs=/x" {
		t.Fatalf("got %q %q", path, overrides)
	}
}
