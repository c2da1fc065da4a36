// docker-entrypoint is the broker image's entrypoint. The image is FROM
// scratch, so there is no shell to template a configuration: this program
// turns KAFKA_* environment variables into server.properties overrides (see
// package brokerenv) and replaces itself with kafka-server-start:
//
//	docker-entrypoint [server.properties] [--override key=value ...]
//
// Precedence, lowest first: the properties file (the image's
// /etc/gregor/server.properties, or one mounted over it or named as the
// first argument), then the environment, then --override arguments.
//
// When the first argument is not a properties file but a program on the PATH
// (`docker run gregor kafka-topics --list ...`), it runs that program instead,
// so the image's tools need no --entrypoint.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/gregor-broker/gregor/docker/internal/brokerenv"
)

// defaultConfig is the image's configuration file.
const defaultConfig = "/etc/gregor/server.properties"

func main() {
	argv, err := command(os.Args[1:], os.Environ(), exec.LookPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "docker-entrypoint: %v\n", err)
		os.Exit(2)
	}
	if filepath.Base(argv[0]) == "kafka-server-start" {
		fmt.Fprintf(os.Stderr, "docker-entrypoint: %s\n", strings.Join(redacted(argv), " "))
	}
	err = syscall.Exec(argv[0], argv, os.Environ())
	fmt.Fprintf(os.Stderr, "docker-entrypoint: exec %s: %v\n", argv[0], err)
	os.Exit(1)
}

// command returns the program and arguments to exec: another program when
// args names one, else kafka-server-start with the configuration file, one
// --override per KAFKA_* variable, then args' own overrides.
func command(args, environ []string, lookPath func(string) (string, error)) ([]string, error) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") && !isFile(args[0]) {
		path, err := lookPath(args[0])
		if err != nil {
			return nil, fmt.Errorf("%s is neither a properties file nor a program: %w", args[0], err)
		}
		return append([]string{path}, args[1:]...), nil
	}
	server, err := lookPath("kafka-server-start")
	if err != nil {
		return nil, err
	}
	config := defaultConfig
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		config, args = args[0], args[1:]
	}
	argv := []string{server, config}
	for _, o := range brokerenv.Overrides(environ) {
		argv = append(argv, "--override", o)
	}
	return append(argv, args...), nil
}

// redacted is argv for the log: the value of any key that names a password
// or a secret is hidden.
func redacted(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		k, _, ok := strings.Cut(a, "=")
		lower := strings.ToLower(k)
		if ok && (strings.Contains(lower, "password") || strings.Contains(lower, "secret") || strings.Contains(lower, "jaas")) {
			a = k + "=[hidden]"
		}
		out[i] = a
	}
	return out
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
