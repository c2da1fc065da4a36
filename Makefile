# Gregor: a Kafka-compatible broker on a real ZooKeeper.
GO        ?= go
BIN       := bin
# tools/internal holds the packages the tools share; it is not a tool.
TOOLS     := $(filter-out internal,$(notdir $(wildcard tools/*)))
PKGS      := ./...
# Unit packages run in parallel; the integration package runs on its own after
# them, so its ZooKeeper and broker processes do not compete with unit tests
# for the 2 cores CI has.
UNITPKGS   = $(shell $(GO) list ./... | grep -v -e /integration -e /bench)
FUZZTIME  ?= 5s

.PHONY: all build run test unit integration fuzz bench soak lint clean

all: build

## build: compile every tool in tools/ into bin/
build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ $(addprefix ./tools/,$(TOOLS))

## run: one ZooKeeper and one broker on localhost:9092 in the foreground (Ctrl-C stops both)
run: build
	./scripts/run.sh

## test: unit and integration tests with -race, then a short run of every fuzz target
test: lint unit integration fuzz

unit:
	$(GO) test -race -count=1 -timeout 15m $(UNITPKGS)

integration:
	$(GO) test -race -count=1 -timeout 25m ./integration/ ./bench/...

## fuzz: run each fuzz target for FUZZTIME (corpora live in testdata/fuzz)
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

## soak: the randomized fault soak (a fault every 15 s, checker after each heal); SOAK=10m by default
SOAK ?= 10m
soak:
	GREGOR_SOAK=$(SOAK) $(GO) test -race -count=1 -v -timeout 0 -run '^TestSoak$$' ./integration/

## bench: every benchmark, one line per figure (see docs/benchmarks.md)
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2x -timeout 30m ./broker/storage/ ./bench/...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

clean:
	rm -rf $(BIN)

.PHONY: docker docker-test

## docker: the broker image gregor:latest (FROM scratch) and, when the tag is missing,
## a local zookeeper:3.8 built from Debian's packages (see docker/)
docker:
	GO=$(GO) ./docker/build.sh

## docker-test: docker/docker-compose.yml end to end: up, faults under an acks=all producer, down -v
docker-test: docker
	cd docker && $(GO) test -race -tags dockertest -count=1 -timeout 20m -v -run TestCompose .
