// Package brokerenv maps a container's environment to server.properties keys
// with the convention of the common Kafka images (confluentinc/cp-kafka,
// wurstmeister): KAFKA_ADVERTISED_LISTENERS is advertised.listeners.
//
// The rule for a variable KAFKA_<NAME>: strip KAFKA_, lower-case, then '___'
// stands for '-', '__' for '_' and '_' for '.'. So KAFKA_BROKER_ID is
// broker.id and KAFKA_LOG_SEGMENT__BYTES would be log.segment_bytes.
// Variables those images use for the JVM or log4j rather than the broker
// (KAFKA_HEAP_OPTS, KAFKA_OPTS, KAFKA_JMX_PORT, ...) are not properties and
// are skipped, so an environment written for them does not turn into unknown
// keys.
package brokerenv

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/gregor-broker/gregor/broker/config"
)

const prefix = "KAFKA_"

// notProperties are KAFKA_* variables of the Kafka images that configure the
// JVM, log4j or the image itself, never server.properties.
var notProperties = map[string]bool{
	"KAFKA_VERSION":                 true,
	"KAFKA_HOME":                    true,
	"KAFKA_DEBUG":                   true,
	"KAFKA_HEAP_OPTS":               true,
	"KAFKA_OPTS":                    true,
	"KAFKA_JMX_OPTS":                true,
	"KAFKA_JMX_PORT":                true,
	"KAFKA_JMX_HOSTNAME":            true,
	"KAFKA_JVM_PERFORMANCE_OPTS":    true,
	"KAFKA_GC_LOG_OPTS":             true,
	"KAFKA_LOG4J_OPTS":              true,
	"KAFKA_LOG4J_ROOT_LOGLEVEL":     true,
	"KAFKA_LOG4J_LOGGERS":           true,
	"KAFKA_TOOLS_LOG4J_LOGLEVEL":    true,
	"KAFKA_CONFIG_FILE":             true,
	"KAFKA_CREATE_TOPICS":           true, // wurstmeister's topic list, not a broker key
	"KAFKA_ADVERTISED_HOST_NAME":    true, // wurstmeister's pre-listener shorthand
	"KAFKA_ADVERTISED_PORT":         true,
	"KAFKA_PORT_COMMAND":            true,
	"KAFKA_HOSTNAME_COMMAND":        true,
	"KAFKA_BROKER_ID_COMMAND":       true,
	"KAFKA_LOG_RETENTION_BYTES_CMD": true,
}

// PropertyName returns the server.properties key for an environment variable
// name, and false when the variable is not a broker property.
func PropertyName(env string) (string, bool) {
	if !strings.HasPrefix(env, prefix) || len(env) == len(prefix) || notProperties[env] {
		return "", false
	}
	name := strings.ToLower(strings.TrimPrefix(env, prefix))
	// Placeholders keep the three rules from rewriting each other's output.
	name = strings.ReplaceAll(name, "___", "\x00")
	name = strings.ReplaceAll(name, "__", "\x01")
	name = strings.ReplaceAll(name, "_", ".")
	name = strings.ReplaceAll(name, "\x00", "-")
	name = strings.ReplaceAll(name, "\x01", "_")
	return name, true
}

// Overrides turns environ ("NAME=value" entries, as os.Environ returns them)
// into kafka-server-start --override arguments, "key=value", sorted by key so
// the broker's command line is the same for the same environment.
func Overrides(environ []string) []string {
	var out []string
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if key, ok := PropertyName(name); ok {
			out = append(out, key+"="+value)
		}
	}
	slices.Sort(out)
	return out
}

// Load reads the properties file at path and applies the overrides environ
// implies: the configuration the broker of this container runs with.
func Load(path string, environ []string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	props, err := config.ParseProperties(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return config.ApplyOverrides(props, Overrides(environ))
}
