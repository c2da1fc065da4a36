package config

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/configuration.md from the key table")

const docsPath = "../../docs/configuration.md"

// TestDocs fails when docs/configuration.md is not what the key table
// generates. Fix with `go generate ./broker/config` or
// `go test ./broker/config -run TestDocs -update`.
func TestDocs(t *testing.T) {
	want := Markdown()
	if *update {
		if err := os.WriteFile(docsPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatalf("%v (generate it with: go generate ./broker/config)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date with broker/config/keys.go; run: go generate ./broker/config (or go test ./broker/config -run TestDocs -update)", docsPath)
	}
	for _, k := range Keys() {
		if !bytes.Contains(got, []byte("| `"+k.Name+"` |")) {
			t.Errorf("key %s is not documented", k.Name)
		}
	}
}
