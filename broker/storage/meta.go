package storage

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const (
	metaPropertiesFile    = "meta.properties"
	partitionMetadataFile = "partition.metadata"
)

// MetaProperties is meta.properties (ZK mode, version 0).
type MetaProperties struct {
	BrokerID  int32
	ClusterID string
}

// encodeMetaProperties renders meta.properties the way Kafka's
// java.util.Properties.store(out, "") does on Java 11+: an empty comment, a
// date comment, then broker.id, version, cluster.id.
func encodeMetaProperties(mp MetaProperties, now time.Time) []byte {
	var b bytes.Buffer
	b.WriteString("#\n#")
	b.WriteString(now.Format("Mon Jan 02 15:04:05 MST 2006"))
	b.WriteByte('\n')
	fmt.Fprintf(&b, "broker.id=%d\nversion=0\n", mp.BrokerID)
	if mp.ClusterID != "" {
		b.WriteString("cluster.id=" + escapeProperty(mp.ClusterID) + "\n")
	}
	return b.Bytes()
}

// escapeProperty escapes a value as Properties.store does for the characters
// that can occur in a cluster id.
func escapeProperty(v string) string {
	r := strings.NewReplacer(`\`, `\\`, "=", `\=`, ":", `\:`, "#", `\#`, "!", `\!`)
	return r.Replace(v)
}

// parseProperties reads Java properties text: comments (# or !), key=value,
// key:value or key value; backslash escapes; continuation lines are not used
// by Kafka's meta.properties and are not supported.
func parseProperties(data []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimLeft(sc.Text(), " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		var key strings.Builder
		i := 0
		for ; i < len(line); i++ {
			c := line[i]
			if c == '\\' && i+1 < len(line) {
				i++
				key.WriteByte(line[i])
				continue
			}
			if c == '=' || c == ':' || c == ' ' || c == '\t' {
				break
			}
			key.WriteByte(c)
		}
		rest := strings.TrimLeft(line[i:], " \t\f")
		if rest != "" && (rest[0] == '=' || rest[0] == ':') {
			rest = strings.TrimLeft(rest[1:], " \t\f")
		}
		var val strings.Builder
		for j := 0; j < len(rest); j++ {
			if rest[j] == '\\' && j+1 < len(rest) {
				j++
			}
			val.WriteByte(rest[j])
		}
		out[key.String()] = val.String()
	}
	return out
}

// decodeMetaProperties parses meta.properties, accepting only version 0 (ZK
// mode refuses KRaft's version 1).
func decodeMetaProperties(data []byte) (MetaProperties, error) {
	p := parseProperties(data)
	if v := p["version"]; v != "0" {
		return MetaProperties{}, fmt.Errorf("meta.properties: version %q, want 0", v)
	}
	id, err := strconv.ParseInt(p["broker.id"], 10, 32)
	if err != nil {
		return MetaProperties{}, fmt.Errorf("meta.properties: broker.id %q: %w", p["broker.id"], err)
	}
	return MetaProperties{BrokerID: int32(id), ClusterID: p["cluster.id"]}, nil
}

func readMetaProperties(dir string) (MetaProperties, bool, error) {
	data, err := os.ReadFile(filepath.Join(dir, metaPropertiesFile))
	if os.IsNotExist(err) {
		return MetaProperties{}, false, nil
	}
	if err != nil {
		return MetaProperties{}, false, err
	}
	mp, err := decodeMetaProperties(data)
	if err != nil {
		return MetaProperties{}, false, fmt.Errorf("%s: %w", dir, err)
	}
	return mp, true, nil
}

// encodePartitionMetadata renders partition.metadata exactly as Kafka's
// PartitionMetadataFile: "version: 0\ntopic_id: <base64url uuid>".
func encodePartitionMetadata(id [16]byte) []byte {
	return []byte("version: 0\ntopic_id: " + base64.RawURLEncoding.EncodeToString(id[:]))
}

func decodePartitionMetadata(data []byte) ([16]byte, error) {
	var id [16]byte
	lines := strings.Split(strings.TrimRight(string(data), "\r\n"), "\n")
	if len(lines) != 2 {
		return id, fmt.Errorf("partition.metadata: %d lines, want 2", len(lines))
	}
	kv := func(line, key string) (string, error) {
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(k) != key {
			return "", fmt.Errorf("partition.metadata: want %s, got %q", key, line)
		}
		return strings.TrimSpace(v), nil
	}
	v, err := kv(lines[0], "version")
	if err != nil {
		return id, err
	}
	if v != "0" {
		return id, fmt.Errorf("partition.metadata: version %q, want 0", v)
	}
	t, err := kv(lines[1], "topic_id")
	if err != nil {
		return id, err
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(t, "="))
	if err != nil || len(raw) != 16 {
		return id, fmt.Errorf("partition.metadata: bad topic_id %q", t)
	}
	copy(id[:], raw)
	return id, nil
}
