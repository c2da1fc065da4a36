package integration

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// kcatBin finds Debian's kcat (librdkafka) or fails with an install hint.
func kcatBin(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat not found: install Debian's package (apt-get install -y kcat): %v", err)
	}
	return p
}

// kcat runs kcat with args and stdin and returns its stdout; a non-zero exit
// or a run over 60 s fails t.
func kcat(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcatBin(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	if e := stderr.String(); strings.Contains(e, "ERROR") || strings.Contains(e, "Delivery failed") || strings.Contains(e, "%3|") {
		t.Errorf("kcat %s reported on stderr:\n%s", strings.Join(args, " "), stderr.String())
	}
	return stdout.String()
}

// TestKcat drives the broker with kcat (librdkafka): -L lists the broker and
// topics, -P then -C round-trips keyed and unkeyed messages, and messages
// produced by sarama read back with kcat.
func TestKcat(t *testing.T) {
	kcatBin(t)
	c := newCluster(t, opts{})
	const topic = "kcat-topic"
	createTopic(t, c, c.Admin(t, nil), topic, 3, 1)
	bootstrap := strings.Join(c.Bootstrap(), ",")

	t.Run("list metadata", func(t *testing.T) {
		out := kcat(t, "", "-b", bootstrap, "-L")
		for _, want := range []string{
			" 1 brokers:",
			fmt.Sprintf("  broker 0 at %s (controller)", c.Addr(0)),
			fmt.Sprintf("  topic %q with 3 partitions:", topic),
			"    partition 0, leader 0, replicas: 0, isrs: 0",
			"    partition 1, leader 0, replicas: 0, isrs: 0",
			"    partition 2, leader 0, replicas: 0, isrs: 0",
		} {
			if !containsLine(out, want) {
				t.Errorf("kcat -L does not print %q; output:\n%s", want, out)
			}
		}
	})

	t.Run("produce and consume", func(t *testing.T) {
		var keyed, unkeyed []string
		for i := 0; i < 12; i++ {
			keyed = append(keyed, fmt.Sprintf("kcat-key-%d:keyed value %d", i%4, i))
			unkeyed = append(unkeyed, fmt.Sprintf("unkeyed value %d", i))
		}
		kcat(t, strings.Join(keyed, "\n")+"\n", "-b", bootstrap, "-P", "-t", topic, "-K:", "-z", "snappy")
		kcat(t, strings.Join(unkeyed, "\n")+"\n", "-b", bootstrap, "-P", "-t", topic, "-z", "none")

		// sarama's messages must read back through librdkafka too.
		cfg := c.SaramaConfig()
		cfg.Producer.Compression = sarama.CompressionZSTD
		fromSarama := produce(t, c, cfg, topic, makeMessages("sarama", 6, true))

		out := kcat(t, "", "-b", bootstrap, "-C", "-t", topic, "-e", "-o", "beginning", "-f", "%p|%o|%k|%s\n")
		type line struct {
			p   int
			off int64
			kv  string
		}
		var got []line
		for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
			parts := strings.SplitN(l, "|", 4)
			if len(parts) != 4 {
				t.Fatalf("kcat -C printed %q, not partition|offset|key|value", l)
			}
			p, _ := strconv.Atoi(parts[0])
			off, _ := strconv.ParseInt(parts[1], 10, 64)
			kv := parts[3]
			if parts[2] != "" {
				kv = parts[2] + ":" + parts[3]
			}
			got = append(got, line{p, off, kv})
		}
		lastOffset := map[int]int64{}
		seen := map[string]int{}
		for _, l := range got {
			if prev, ok := lastOffset[l.p]; ok && l.off != prev+1 {
				t.Errorf("partition %d: offset %d follows %d", l.p, l.off, prev)
			}
			lastOffset[l.p] = l.off
			seen[l.kv]++
		}
		want := append(append([]string{}, keyed...), unkeyed...)
		for _, r := range fromSarama {
			want = append(want, string(r.Key)+":"+r.Value)
		}
		for _, w := range want {
			if seen[w] != 1 {
				t.Errorf("kcat -C saw %q %d times, want once", w, seen[w])
			}
		}
		if len(got) != len(want) {
			keys := make([]string, 0, len(seen))
			for k := range seen {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			t.Errorf("kcat -C read %d messages, %d were produced: %v", len(got), len(want), keys)
		}
		// Messages with one key stay in produce order (one partition each).
		byKey := map[string][]int{}
		for _, l := range got {
			if k, v, ok := strings.Cut(l.kv, ":"); ok && strings.HasPrefix(k, "kcat-key-") {
				n, _ := strconv.Atoi(strings.TrimPrefix(v, "keyed value "))
				byKey[k] = append(byKey[k], n)
			}
		}
		for k, ns := range byKey {
			if !sort.IntsAreSorted(ns) {
				t.Errorf("messages with key %s consumed out of order: %v", k, ns)
			}
		}
	})
}
