package main

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestCommand(t *testing.T) {
	props := filepath.Join(t.TempDir(), "mine.properties")
	if err := os.WriteFile(props, []byte("broker.id=9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lookPath := func(name string) (string, error) {
		switch name {
		case "kafka-server-start", "kafka-topics":
			return "/bin/" + name, nil
		}
		return "", errors.New("executable file not found in $PATH")
	}
	env := []string{"KAFKA_BROKER_ID=2", "KAFKA_ZOOKEEPER_CONNECT=zk1:2181", "HOME=/"}
	tests := []struct {
		name    string
		args    []string
		want    []string
		wantErr bool
	}{
		{
			name: "image defaults",
			want: []string{"/bin/kafka-server-start", defaultConfig,
				"--override", "broker.id=2", "--override", "zookeeper.connect=zk1:2181"},
		},
		{
			name: "mounted file, then command-line overrides last",
			args: []string{props, "--override", "broker.id=5"},
			want: []string{"/bin/kafka-server-start", props,
				"--override", "broker.id=2", "--override", "zookeeper.connect=zk1:2181",
				"--override", "broker.id=5"},
		},
		{
			name: "overrides only",
			args: []string{"--override", "log.level=debug"},
			want: []string{"/bin/kafka-server-start", defaultConfig,
				"--override", "broker.id=2", "--override", "zookeeper.connect=zk1:2181",
				"--override", "log.level=debug"},
		},
		{
			name: "a tool",
			args: []string{"kafka-topics", "--bootstrap-server", "broker1:29092", "--list"},
			want: []string{"/bin/kafka-topics", "--bootstrap-server", "broker1:29092", "--list"},
		},
		{
			name:    "neither file nor program",
			args:    []string{"/nonexistent/server.properties"},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := command(tt.args, env, lookPath)
			if (err != nil) != tt.wantErr {
				t.Fatalf("command(%q) error = %v, wantErr %v", tt.args, err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("command(%q):\n got %q\nwant %q", tt.args, got, tt.want)
			}
		})
	}
}

func TestRedacted(t *testing.T) {
	argv := []string{"/bin/kafka-server-start", "/etc/gregor/server.properties",
		"--override", "broker.id=1",
		"--override", "ssl.keystore.password=hunter2",
		"--override", "listener.name.internal.plain.sasl.jaas.config=x required password=p;"}
	want := []string{"/bin/kafka-server-start", "/etc/gregor/server.properties",
		"--override", "broker.id=1",
		"--override", "ssl.keystore.password=[hidden]",
		"--override", "listener.name.internal.plain.sasl.jaas.config=[hidden]"}
	if got := redacted(argv); !slices.Equal(got, want) {
		t.Errorf("redacted:\n got %q\nwant %q", got, want)
	}
}
