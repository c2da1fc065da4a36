// Package docker holds Gregor's Docker deployment: the broker image
// (Dockerfile, FROM scratch), a local zookeeper:3.8 image built from Debian's
// packages (build-zookeeper.sh, zookeeper/), and docker-compose.yml with a
// three-node ZooKeeper ensemble and three brokers.
//
// The Go code here is what runs inside the broker image, where there is no
// shell: entrypoint/ (environment to server.properties, then exec the broker)
// and healthcheck/ (ApiVersions on the listener). compose_test.go drives the
// compose file end to end; it is behind the dockertest build tag so that
// `go test ./...` does not need a Docker engine: run it with `make docker-test`.
package docker
