package storage

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestFormat checks the files byte for byte against Kafka's layouts
// (reference §6).
func TestFormat(t *testing.T) {
	t.Run("segment names", func(t *testing.T) {
		for _, tc := range []struct {
			base int64
			suf  string
			want string
		}{
			{0, ".log", "00000000000000000000.log"},
			{1234, ".index", "00000000000000001234.index"},
			{9223372036854775807, ".timeindex", "09223372036854775807.timeindex"},
		} {
			if got := segmentFileName(tc.base, tc.suf); got != tc.want {
				t.Errorf("got %s want %s", got, tc.want)
			}
		}
	})
	t.Run("log and index entries", func(t *testing.T) {
		cfg := testConfig()
		cfg.IndexIntervalBytes = 1 // an entry for every batch after the first
		dir := t.TempDir()
		l := openTestLog(t, dir, cfg, true)
		var batches [][]byte
		ts0 := testNow.UnixMilli()
		for i := 0; i < 3; i++ {
			b := makeBatch(t, batchSpec{records: 2, valueSize: 10, firstTs: ts0 + int64(10*i)})
			if _, err := l.AppendAsLeader(b, 4, testNow); err != nil {
				t.Fatal(err)
			}
			batches = append(batches, b)
		}
		l.Close()
		logBytes, _ := os.ReadFile(filepath.Join(dir, "00000000000000000000.log"))
		if !bytes.Equal(logBytes, bytes.Join(batches, nil)) {
			t.Fatal(".log is not the batches as appended")
		}
		// batch i: base 2i, epoch 4, CRC valid
		for i, b := range batches {
			h := readBatchHeader(b)
			if h.FirstOffset != int64(2*i) || h.PartitionLeaderEpoch != 4 || !batchCRCValid(b) {
				t.Fatalf("batch %d header %+v", i, h)
			}
		}
		bs := int32(len(batches[0]))
		var want []byte
		for i := 1; i < 3; i++ {
			want = binary.BigEndian.AppendUint32(want, uint32(2*i+1)) // relative last offset
			want = binary.BigEndian.AppendUint32(want, uint32(int32(i)*bs))
		}
		idx, _ := os.ReadFile(filepath.Join(dir, "00000000000000000000.index"))
		if !bytes.Equal(idx, want) {
			t.Fatalf(".index % x, want % x", idx, want)
		}
		want = want[:0]
		for i := 1; i < 3; i++ {
			want = binary.BigEndian.AppendUint64(want, uint64(ts0+int64(10*i)+1))
			want = binary.BigEndian.AppendUint32(want, uint32(2*i+1))
		}
		tix, _ := os.ReadFile(filepath.Join(dir, "00000000000000000000.timeindex"))
		if !bytes.Equal(tix, want) {
			t.Fatalf(".timeindex % x, want % x", tix, want)
		}
		ep, _ := os.ReadFile(filepath.Join(dir, "leader-epoch-checkpoint"))
		if string(ep) != "0\n1\n4 0\n" {
			t.Fatalf("leader-epoch-checkpoint %q", ep)
		}
	})
	t.Run("offset checkpoint", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "recovery-point-offset-checkpoint")
		err := writeOffsetCheckpoint(p, map[topicPartition]int64{{"my-topic", 1}: 77, {"my-topic", 0}: 1234, {"__consumer_offsets", 17}: 5})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(p)
		want := "0\n3\n__consumer_offsets 17 5\nmy-topic 0 1234\nmy-topic 1 77\n"
		if string(got) != want {
			t.Fatalf("got %q want %q", got, want)
		}
		// any whitespace accepted on read
		os.WriteFile(p, []byte("0\n2\nmy-topic\t0   1234\na 3 9\n"), 0o644)
		m, err := readOffsetCheckpoint(p)
		if err != nil || m[topicPartition{"my-topic", 0}] != 1234 || m[topicPartition{"a", 3}] != 9 {
			t.Fatalf("read %v %v", m, err)
		}
		for _, bad := range []string{"1\n0\n", "0\n2\na 0 1\n", "0\n1\na 0\n", "0\n1\na x 1\n"} {
			os.WriteFile(p, []byte(bad), 0o644)
			if _, err := readOffsetCheckpoint(p); err == nil {
				t.Errorf("accepted %q", bad)
			}
		}
	})
	t.Run("leader epoch checkpoint", func(t *testing.T) {
		got := encodeEpochs([]epochEntry{{0, 0}, {3, 1500}})
		if string(got) != "0\n2\n0 0\n3 1500\n" {
			t.Fatalf("%q", got)
		}
	})
	t.Run("meta.properties", func(t *testing.T) {
		now := time.Date(2024, 5, 8, 10, 23, 45, 0, time.FixedZone("CST", 8*3600))
		got := encodeMetaProperties(MetaProperties{BrokerID: 2, ClusterID: "tfIO-Ab4PdddYjiU3pEWqw"}, now)
		want := "#\n#Wed May 08 10:23:45 CST 2024\nbroker.id=2\nversion=0\ncluster.id=tfIO-Ab4PdddYjiU3pEWqw\n"
		if string(got) != want {
			t.Fatalf("got %q want %q", got, want)
		}
		// Java 8 order, other separators
		mp, err := decodeMetaProperties([]byte("#\n#Thu\ncluster.id=abc\nversion=0\nbroker.id : 7\n"))
		if err != nil || mp != (MetaProperties{7, "abc"}) {
			t.Fatalf("%+v %v", mp, err)
		}
		if _, err := decodeMetaProperties([]byte("node.id=1\nversion=1\n")); err == nil {
			t.Fatal("accepted KRaft meta.properties")
		}
	})
	t.Run("partition.metadata", func(t *testing.T) {
		id := [16]byte{0xb5, 0x22, 0x24, 0xff, 0x2d, 0x8f, 0x45, 0x83, 0x8d, 0x3e, 0x4b, 0x2b, 0x3a, 0x5b, 0x6c, 0x7d}
		got := encodePartitionMetadata(id)
		want := "version: 0\ntopic_id: tSIk_y2PRYONPksrOltsfQ"
		if string(got) != want {
			t.Fatalf("got %q want %q", got, want)
		}
		back, err := decodePartitionMetadata(got)
		if err != nil || back != id {
			t.Fatalf("%x %v", back, err)
		}
	})
}
