// Command gendocs writes docs/configuration.md from the broker's key table:
//
//	go run ./broker/config/gendocs -o docs/configuration.md
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gregor-broker/gregor/broker/config"
)

func main() {
	out := flag.String("o", "docs/configuration.md", "file to write")
	flag.Parse()
	if err := os.WriteFile(*out, config.Markdown(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}
