// kafka-server-start runs one Gregor broker in the foreground, like Kafka's
// bin/kafka-server-start.sh:
//
//	kafka-server-start config/server.properties [--override key=value ...]
//
// It stops cleanly on SIGTERM or SIGINT and exits 2 on bad configuration,
// naming the key.
package main

import (
	"os"

	"github.com/gregor-broker/gregor/broker"
)

func main() {
	os.Exit(broker.Main(os.Args[1:], os.Stderr))
}
