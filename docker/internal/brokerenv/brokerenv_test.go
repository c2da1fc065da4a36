package brokerenv

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestPropertyName(t *testing.T) {
	tests := []struct {
		env  string
		want string
		ok   bool
	}{
		{"KAFKA_BROKER_ID", "broker.id", true},
		{"KAFKA_ZOOKEEPER_CONNECT", "zookeeper.connect", true},
		{"KAFKA_ADVERTISED_LISTENERS", "advertised.listeners", true},
		{"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "listener.security.protocol.map", true},
		{"KAFKA_INTER_BROKER_LISTENER_NAME", "inter.broker.listener.name", true},
		{"KAFKA_LOG_DIRS", "log.dirs", true},
		{"KAFKA_LOG_LEVEL", "log.level", true},
		{"KAFKA_CONFLUENT_SUPPORT__METRICS", "confluent.support_metrics", true},
		{"KAFKA_SOME___DASHED_KEY", "some-dashed.key", true},
		{"KAFKA_A____B", "a-.b", true}, // '___' is taken first, then the lone '_'
		{"KAFKA_HEAP_OPTS", "", false},
		{"KAFKA_OPTS", "", false},
		{"KAFKA_JMX_PORT", "", false},
		{"KAFKA_LOG4J_ROOT_LOGLEVEL", "", false},
		{"KAFKA_", "", false},
		{"KAFKABROKER_ID", "", false},
		{"kafka_broker_id", "", false},
		{"ZOO_MY_ID", "", false},
		{"PATH", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			got, ok := PropertyName(tt.env)
			if got != tt.want || ok != tt.ok {
				t.Errorf("PropertyName(%q) = %q, %v; want %q, %v", tt.env, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestOverrides(t *testing.T) {
	env := []string{
		"PATH=/bin",
		"KAFKA_ZOOKEEPER_CONNECT=zk1:2181,zk2:2181/kafka",
		"KAFKA_BROKER_ID=2",
		"KAFKA_HEAP_OPTS=-Xmx1g",
		"KAFKA_ADVERTISED_LISTENERS=INTERNAL://broker2:29092,EXTERNAL://localhost:9093",
		"KAFKA_EMPTY=",
		"NOEQUALS",
	}
	want := []string{
		"advertised.listeners=INTERNAL://broker2:29092,EXTERNAL://localhost:9093",
		"broker.id=2",
		"empty=",
		"zookeeper.connect=zk1:2181,zk2:2181/kafka", // the value keeps its '=' free text as is
	}
	if got := Overrides(env); !slices.Equal(got, want) {
		t.Errorf("Overrides:\n got %q\nwant %q", got, want)
	}
}

func TestLoadEnvironmentWinsOverFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.properties")
	file := "broker.id=0\nlisteners=PLAINTEXT://:9092\nlog.dirs=/var/lib/gregor/data\n"
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	props, err := Load(path, []string{"KAFKA_BROKER_ID=3", "KAFKA_LISTENERS=INTERNAL://:29092"})
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"broker.id": "3",
		"listeners": "INTERNAL://:29092",
		"log.dirs":  "/var/lib/gregor/data",
	} {
		if props[key] != want {
			t.Errorf("%s = %q, want %q", key, props[key], want)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing"), nil); err == nil {
		t.Error("Load of a missing file: no error")
	}
}
