package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestIdentifier(t *testing.T) {
	for name, want := range map[string]string{
		"kafka-topics":       "cmd_kafka_topics",
		"zookeeper-shell":    "cmd_zookeeper_shell",
		"broker-healthcheck": "cmd_broker_healthcheck",
		"3way":               "cmd__way",
	} {
		if got := identifier(name); got != want {
			t.Errorf("identifier(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestAsLibrary(t *testing.T) {
	src := `// Doc comment of the command.
package main // the package

import "os"

// main says why.
func main() { os.Exit(run()) }

func run() int { return 0 }

type mainer struct{}

// A method called main is not the program's main.
func (mainer) main() {}
`
	want := strings.Replace(src, "package main //", "package cmd_x //", 1)
	want = strings.Replace(want, "func main() {", "func Main() {", 1)
	got, err := asLibrary("x.go", []byte(src), "cmd_x")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("asLibrary:\n%s\nwant:\n%s", got, want)
	}
	if _, err := asLibrary("bad.go", []byte("package main\nfunc {"), "cmd_x"); err == nil {
		t.Error("asLibrary of a file that does not parse: no error")
	}
}

func TestParseCommands(t *testing.T) {
	if _, err := parseCommands([]string{"a=./x", "a=./y"}); err == nil {
		t.Error("a command given twice: no error")
	}
	if _, err := parseCommands([]string{"./x"}); err == nil {
		t.Error("an argument without name=: no error")
	}
	cmds, err := parseCommands([]string{"b=./y", "a=./x"})
	if err != nil || len(cmds) != 2 || cmds[0].Name != "a" || cmds[1].Name != "b" {
		t.Errorf("parseCommands = %+v, %v; want a then b", cmds, err)
	}
}

// TestBuildAndDispatch builds a multicall binary of two of this module's
// commands and runs it under each name, through a symbolic link as the image
// does and as itself with the command as the first argument.
func TestBuildAndDispatch(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a binary")
	}
	// The work directory must be inside the module; '_' keeps ./... off it.
	work, err := os.MkdirTemp(".", "_work")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	work, _ = filepath.Abs(work)
	cmds, err := parseCommands([]string{"broker-healthcheck=../healthcheck", "docker-entrypoint=../entrypoint"})
	if err != nil {
		t.Fatal(err)
	}
	if err := generate(cmds, work); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "gregor")
	if err := compile("go", work, bin); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(filepath.Dir(bin), "broker-healthcheck")
	if err := os.Symlink("gregor", link); err != nil {
		t.Fatal(err)
	}
	// A port nobody listens on: the health check must run and fail.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	tests := []struct {
		name     string
		argv     []string
		wantCode int
		wantErr  string
	}{
		{"symlink name", []string{link, "-timeout", "1s", closed}, 1, "broker-healthcheck: " + closed},
		{"first argument", []string{bin, "broker-healthcheck", "-timeout", "1s", closed}, 1, "broker-healthcheck: " + closed},
		{"unknown command", []string{bin, "no-such-tool"}, 2, "docker-entrypoint"},
		{"no command", []string{bin}, 2, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			cmd := exec.Command(tt.argv[0], tt.argv[1:]...)
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != tt.wantCode {
				t.Fatalf("%v: %v, want exit code %d; stderr: %s", tt.argv, err, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr %q does not mention %q", stderr.String(), tt.wantErr)
			}
		})
	}
}
