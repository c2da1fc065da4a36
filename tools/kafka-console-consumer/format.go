package main

import (
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"
)

// formatter is Kafka's DefaultMessageFormatter: optional timestamp,
// partition, offset, headers and key columns separated by key.separator,
// then the value and line.separator. A null key or value prints as
// null.literal ("null").
type formatter struct {
	timestamp, key, offset, partition, headers, value bool
	keySep, lineSep, headersSep, nullLiteral          string
}

func newFormatter(props map[string]string) *formatter {
	b := func(k string, def bool) bool {
		if v, ok := props[k]; ok {
			return strings.EqualFold(strings.TrimSpace(v), "true")
		}
		return def
	}
	s := func(k, def string) string {
		if v, ok := props[k]; ok {
			return unescape(v)
		}
		return def
	}
	return &formatter{
		timestamp:   b("print.timestamp", false),
		key:         b("print.key", false),
		offset:      b("print.offset", false),
		partition:   b("print.partition", false),
		headers:     b("print.headers", false),
		value:       b("print.value", true),
		keySep:      s("key.separator", "\t"),
		lineSep:     s("line.separator", "\n"),
		headersSep:  s("headers.separator", ","),
		nullLiteral: s("null.literal", "null"),
	}
}

func unescape(s string) string {
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n", `\r`, "\r", `\\`, `\`).Replace(s)
}

// record is what the formatter needs of a consumed record.
type record struct {
	Partition     int32
	Offset        int64
	Timestamp     time.Time
	LogAppendTime bool
	Key, Value    []byte
	Headers       []*sarama.RecordHeader
}

func fromSarama(m *sarama.ConsumerMessage) record {
	return record{Partition: m.Partition, Offset: m.Offset, Timestamp: m.Timestamp, Key: m.Key, Value: m.Value, Headers: m.Headers}
}

func (f *formatter) write(w io.Writer, r record) {
	var b strings.Builder
	sep := func(more bool) {
		if more {
			b.WriteString(f.keySep)
		} else {
			b.WriteString(f.lineSep)
		}
	}
	bytesOrNull := func(v []byte) string {
		if v == nil {
			return f.nullLiteral
		}
		return string(v)
	}
	if f.timestamp {
		switch {
		case r.Timestamp.IsZero():
			b.WriteString("NO_TIMESTAMP")
		case r.LogAppendTime:
			b.WriteString("LogAppendTime:" + strconv.FormatInt(r.Timestamp.UnixMilli(), 10))
		default:
			b.WriteString("CreateTime:" + strconv.FormatInt(r.Timestamp.UnixMilli(), 10))
		}
		sep(f.partition || f.offset || f.headers || f.key || f.value)
	}
	if f.partition {
		b.WriteString("Partition:" + strconv.Itoa(int(r.Partition)))
		sep(f.offset || f.headers || f.key || f.value)
	}
	if f.offset {
		b.WriteString("Offset:" + strconv.FormatInt(r.Offset, 10))
		sep(f.headers || f.key || f.value)
	}
	if f.headers {
		if len(r.Headers) == 0 {
			b.WriteString("NO_HEADERS")
		} else {
			hs := make([]string, len(r.Headers))
			for i, h := range r.Headers {
				hs[i] = string(h.Key) + ":" + bytesOrNull(h.Value)
			}
			b.WriteString(strings.Join(hs, f.headersSep))
		}
		sep(f.key || f.value)
	}
	if f.key {
		b.WriteString(bytesOrNull(r.Key))
		sep(f.value)
	}
	if f.value {
		b.WriteString(bytesOrNull(r.Value))
		b.WriteString(f.lineSep)
	}
	io.WriteString(w, b.String())
}
