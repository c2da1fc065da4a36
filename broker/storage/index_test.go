package storage

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"
)

// TestIndexEntriesAcrossPages appends entries through appendEntry, whose
// first entry of every page goes through pwrite rather than the mapping, and
// checks that every entry reads back through the writable mapping, after a
// seal, and from the file reopened read-only: offset-index entries (8 bytes)
// start pages exactly, time-index entries (12 bytes) straddle them.
func TestIndexEntriesAcrossPages(t *testing.T) {
	for _, size := range []int{offsetIndexEntrySize, timeIndexEntrySize} {
		t.Run(fmt.Sprintf("entry size %d", size), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "00000000000000000000.index")
			const n = 3 * 4096 / 4 // several pages of either size
			ix, err := openIndexFile(path, size, true, int32(n*size+size))
			if err != nil {
				t.Fatal(err)
			}
			entry := func(i int) []byte {
				b := make([]byte, size)
				for j := 0; j+4 <= size; j += 4 {
					binary.BigEndian.PutUint32(b[j:], uint32(i*131+j))
				}
				return b
			}
			for i := 0; i < n; i++ {
				if !ix.appendEntry(func(b []byte) { copy(b, entry(i)) }) {
					t.Fatalf("append %d refused", i)
				}
			}
			check := func(stage string, ix *indexFile) {
				t.Helper()
				data := ix.acquire()
				defer ix.release()
				if int(ix.entries.Load()) != n || len(data) < n*size {
					t.Fatalf("%s: %d entries, %d bytes mapped, want %d entries", stage, ix.entries.Load(), len(data), n)
				}
				for i := 0; i < n; i++ {
					if got, want := data[i*size:(i+1)*size], entry(i); string(got) != string(want) {
						t.Fatalf("%s: entry %d (byte %d) = %x, want %x", stage, i, i*size, got, want)
					}
				}
			}
			check("writable", ix)
			if err := ix.seal(); err != nil {
				t.Fatal(err)
			}
			check("sealed", ix)
			if err := ix.close(); err != nil {
				t.Fatal(err)
			}
			ro, err := openIndexFile(path, size, false, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer ro.close()
			check("reopened", ro)
		})
	}
}
