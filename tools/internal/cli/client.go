package cli

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"

	"github.com/gregor-broker/gregor/broker/config"
)

// LoadProperties reads a Java properties file (--command-config,
// --producer.config, ...). An empty path is no properties.
func LoadProperties(path string) (map[string]string, error) {
	if path == "" {
		return map[string]string{}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, Errorf("IOException", "%s (No such file or directory)", path)
	}
	defer f.Close()
	props, err := config.ParseProperties(f)
	if err != nil {
		return nil, Errorf("IOException", "%s: %v", path, err)
	}
	for k, v := range props {
		props[k] = strings.TrimSpace(v)
	}
	return props, nil
}

// ParseKV adds "k=v" strings (--producer-property, --property ...) to props.
func ParseKV(props map[string]string, kvs []string) error {
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return Errorf("IllegalArgumentException", "Invalid property %q: must be key=value", kv)
		}
		props[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return nil
}

// Bootstrap splits a --bootstrap-server list ("h1:9092,h2:9092").
func Bootstrap(list string) []string {
	var out []string
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// NewConfig is the sarama configuration every tool starts from: Kafka 2.8's
// protocol (the newest Gregor serves for every API sarama uses), the client
// id given, and the Kafka client properties in props applied on top.
// Unknown properties are ignored, as Kafka's clients only warn about them.
func NewConfig(clientID string, props map[string]string) (*sarama.Config, error) {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.ClientID = clientID
	cfg.Net.DialTimeout = 10 * time.Second
	cfg.Net.ReadTimeout = 30 * time.Second
	cfg.Net.WriteTimeout = 30 * time.Second
	cfg.Metadata.Retry.Max = 5
	cfg.Metadata.Retry.Backoff = 250 * time.Millisecond
	cfg.Admin.Timeout = 30 * time.Second
	cfg.Admin.Retry.Max = 5
	cfg.Admin.Retry.Backoff = 250 * time.Millisecond
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	cfg.Consumer.Return.Errors = true
	for k, v := range props {
		if err := apply(cfg, k, v); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

func apply(cfg *sarama.Config, key, val string) error {
	bad := func() error {
		return Errorf("ConfigException", "Invalid value %s for configuration %s", val, key)
	}
	ms := func(d *time.Duration) error {
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil || n < 0 {
			return bad()
		}
		*d = time.Duration(n) * time.Millisecond
		return nil
	}
	num := func(p *int) error {
		n, err := strconv.Atoi(val)
		if err != nil {
			return bad()
		}
		*p = n
		return nil
	}
	switch key {
	case "client.id":
		cfg.ClientID = val
	case "request.timeout.ms":
		if err := ms(&cfg.Net.ReadTimeout); err != nil {
			return err
		}
		cfg.Producer.Timeout = cfg.Net.ReadTimeout
		cfg.Admin.Timeout = cfg.Net.ReadTimeout
	case "socket.connection.setup.timeout.ms":
		return ms(&cfg.Net.DialTimeout)
	case "retry.backoff.ms":
		if err := ms(&cfg.Producer.Retry.Backoff); err != nil {
			return err
		}
		cfg.Metadata.Retry.Backoff = cfg.Producer.Retry.Backoff
		cfg.Admin.Retry.Backoff = cfg.Producer.Retry.Backoff
	case "retries":
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil || n < 0 {
			return bad()
		}
		if n > 1<<20 {
			n = 1 << 20
		}
		cfg.Producer.Retry.Max = int(n)
	case "metadata.max.age.ms":
		return ms(&cfg.Metadata.RefreshFrequency)
	case "acks":
		switch val {
		case "all", "-1":
			cfg.Producer.RequiredAcks = sarama.WaitForAll
		case "0":
			cfg.Producer.RequiredAcks = sarama.NoResponse
		case "1":
			cfg.Producer.RequiredAcks = sarama.WaitForLocal
		default:
			return bad()
		}
	case "compression.type":
		c, ok := Compression(val)
		if !ok {
			return bad()
		}
		cfg.Producer.Compression = c
	case "linger.ms":
		return ms(&cfg.Producer.Flush.Frequency)
	case "batch.size":
		return num(&cfg.Producer.Flush.Bytes)
	case "max.request.size":
		return num(&cfg.Producer.MaxMessageBytes)
	case "enable.idempotence":
		cfg.Producer.Idempotent = strings.EqualFold(val, "true")
		if cfg.Producer.Idempotent {
			cfg.Producer.RequiredAcks = sarama.WaitForAll
			cfg.Net.MaxOpenRequests = 1
		}
	case "security.protocol":
		if !strings.EqualFold(val, "PLAINTEXT") {
			return Errorf("ConfigException", "security.protocol %s is not supported by Gregor's tools (only PLAINTEXT)", val)
		}
	case "fetch.min.bytes":
		n, err := strconv.Atoi(val)
		if err != nil {
			return bad()
		}
		cfg.Consumer.Fetch.Min = int32(n)
	case "fetch.max.wait.ms":
		return ms(&cfg.Consumer.MaxWaitTime)
	case "max.partition.fetch.bytes":
		n, err := strconv.Atoi(val)
		if err != nil {
			return bad()
		}
		cfg.Consumer.Fetch.Default = int32(n)
	case "fetch.max.bytes":
		n, err := strconv.Atoi(val)
		if err != nil {
			return bad()
		}
		cfg.Consumer.Fetch.Max = int32(n)
	case "auto.offset.reset":
		switch val {
		case "earliest":
			cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
		case "latest":
			cfg.Consumer.Offsets.Initial = sarama.OffsetNewest
		case "none":
		default:
			return bad()
		}
	case "enable.auto.commit":
		cfg.Consumer.Offsets.AutoCommit.Enable = strings.EqualFold(val, "true")
	case "auto.commit.interval.ms":
		return ms(&cfg.Consumer.Offsets.AutoCommit.Interval)
	case "session.timeout.ms":
		return ms(&cfg.Consumer.Group.Session.Timeout)
	case "heartbeat.interval.ms":
		return ms(&cfg.Consumer.Group.Heartbeat.Interval)
	case "max.poll.interval.ms":
		return ms(&cfg.Consumer.Group.Rebalance.Timeout)
	case "isolation.level":
		switch val {
		case "read_committed":
			cfg.Consumer.IsolationLevel = sarama.ReadCommitted
		case "read_uncommitted":
			cfg.Consumer.IsolationLevel = sarama.ReadUncommitted
		default:
			return bad()
		}
	case "partition.assignment.strategy":
		var s []sarama.BalanceStrategy
		for _, name := range strings.Split(val, ",") {
			name = strings.TrimSpace(name)
			switch {
			case strings.HasSuffix(name, "RangeAssignor"):
				s = append(s, sarama.NewBalanceStrategyRange())
			case strings.HasSuffix(name, "CooperativeStickyAssignor"), strings.HasSuffix(name, "StickyAssignor"):
				s = append(s, sarama.NewBalanceStrategySticky())
			case strings.HasSuffix(name, "RoundRobinAssignor"):
				s = append(s, sarama.NewBalanceStrategyRoundRobin())
			default:
				return bad()
			}
		}
		cfg.Consumer.Group.Rebalance.GroupStrategies = s
	}
	return nil
}

// Compression maps Kafka's compression.type / --compression-codec names.
func Compression(name string) (sarama.CompressionCodec, bool) {
	switch strings.ToLower(name) {
	case "none", "":
		return sarama.CompressionNone, true
	case "gzip":
		return sarama.CompressionGZIP, true
	case "snappy":
		return sarama.CompressionSnappy, true
	case "lz4":
		return sarama.CompressionLZ4, true
	case "zstd":
		return sarama.CompressionZSTD, true
	}
	return 0, false
}

// NodeString is Kafka's Node.toString: "host:port (id: 0 rack: null)".
func NodeString(addr string, id int32, rack string) string {
	r := "null"
	if rack != "" {
		r = rack
	}
	return fmt.Sprintf("%s (id: %d rack: %s)", addr, id, r)
}
