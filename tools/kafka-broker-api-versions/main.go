// kafka-broker-api-versions prints, for every broker of the cluster, the
// API versions it advertises, in the format of Kafka 3.x's
// bin/kafka-broker-api-versions.sh (NodeApiVersions.toString(true)):
//
//	localhost:9092 (id: 0 rack: null) -> (
//		Produce(0): 3 to 11 [usable: 10],
//		...
//		OffsetCommit(8): UNSUPPORTED,
//		...
//	)
//
// "usable" is the newest version Kafka 3.7's Java client would use with the
// broker; APIs a Kafka broker serves to clients but this one does not
// advertise are listed as UNSUPPORTED.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/IBM/sarama"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

const purpose = "This tool helps to retrieve broker version information."

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	p := cli.NewParser()
	bootstrap := p.Arg("bootstrap-server", "REQUIRED: The server to connect to.", "server(s) to use for bootstrapping")
	commandConfig := p.Arg("command-config", "A property file containing configs to be passed to Admin Client.", "command config property file")
	t := &cli.Tool{Stdout: stdout, Stderr: stderr, Parser: p, Purpose: purpose}
	if done, code := t.Start(args, true); done {
		return code
	}
	if err := cli.CheckRequired(bootstrap); err != nil {
		return t.Fail(err)
	}
	props, err := cli.LoadProperties(commandConfig.Value())
	if err != nil {
		return t.Fail(err)
	}
	cfg, err := cli.NewConfig("broker-api-versions-client", props)
	if err != nil {
		return t.Fail(err)
	}
	client, err := sarama.NewClient(cli.Bootstrap(bootstrap.Value()), cfg)
	if err != nil {
		return t.Fail(cli.Errorf("RuntimeException", "Request METADATA failed on brokers List(%s)", strings.Join(cli.Bootstrap(bootstrap.Value()), ", ")))
	}
	defer client.Close()
	brokers := client.Brokers()
	sort.Slice(brokers, func(i, j int) bool { return brokers[i].ID() < brokers[j].ID() })
	for _, b := range brokers {
		node := cli.NodeString(b.Addr(), b.ID(), b.Rack())
		if err := b.Open(cfg); err != nil && err != sarama.ErrAlreadyConnected {
			fmt.Fprintf(stdout, "%s -> ERROR: %s\n", node, cli.JavaError(err))
			continue
		}
		res, err := b.ApiVersions(&sarama.ApiVersionsRequest{Version: 0})
		if err == nil && res.ErrorCode != 0 {
			err = sarama.KError(res.ErrorCode)
		}
		if err != nil {
			fmt.Fprintf(stdout, "%s -> ERROR: %s\n", node, cli.JavaError(err))
			continue
		}
		var vs []apiVersion
		for _, k := range res.ApiKeys {
			vs = append(vs, apiVersion{Key: k.ApiKey, Min: k.MinVersion, Max: k.MaxVersion})
		}
		fmt.Fprintf(stdout, "%s -> %s\n", node, format(vs))
	}
	return 0
}

// apiVersion is one entry of an ApiVersions response.
type apiVersion struct{ Key, Min, Max int16 }

// format is NodeApiVersions.toString(true): one line per API key in key
// order, supported ones with their range and usable version, then every
// client API the broker does not advertise as UNSUPPORTED.
func format(vs []apiVersion) string {
	text := map[int16]string{}
	for _, v := range vs {
		a, known := cli.APIByKey(v.Key)
		var b strings.Builder
		if known {
			fmt.Fprintf(&b, "%s(%d): ", a.Name, a.Key)
		} else {
			fmt.Fprintf(&b, "UNKNOWN(%d): ", v.Key)
		}
		if v.Min == v.Max {
			fmt.Fprintf(&b, "%d", v.Min)
		} else {
			fmt.Fprintf(&b, "%d to %d", v.Min, v.Max)
		}
		if known {
			switch {
			case a.Latest < v.Min:
				b.WriteString(" [unusable: node too new]")
			case v.Max < 0:
				b.WriteString(" [unusable: node too old]")
			default:
				fmt.Fprintf(&b, " [usable: %d]", min(a.Latest, v.Max))
			}
		}
		text[v.Key] = b.String()
	}
	for _, a := range cli.APIKeys {
		if _, ok := text[a.Key]; !ok && a.Client {
			text[a.Key] = fmt.Sprintf("%s(%d): UNSUPPORTED", a.Name, a.Key)
		}
	}
	keys := make([]int, 0, len(text))
	for k := range text {
		keys = append(keys, int(k))
	}
	sort.Ints(keys)
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = text[int16(k)]
	}
	return "(\n\t" + strings.Join(lines, ",\n\t") + "\n)"
}
