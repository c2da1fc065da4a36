# Gregor: a Kafka-compatible broker on a real ZooKeeper.
GO        ?= go
BIN       := bin
TOOLS     := $(notdir $(wildcard tools/*))
PKGS      := ./...
FUZZTIME  ?= 5s

.PHONY: all build run test unit integration fuzz bench lint clean

all: build

## build: compile every tool in tools/ into bin/
build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ $(addprefix ./tools/,$(TOOLS))

## run: one ZooKeeper and one broker on localhost:9092 in the foreground (Ctrl-C stops both)
run: build
	./scripts/run.sh

## test: unit and integration tests with -race, then a short run of every fuzz target
test: lint unit fuzz

unit:
	$(GO) test -race -count=1 -timeout 25m $(PKGS)

integration:
	$(GO) test -race -count=1 -timeout 20m -v ./integration/

## fuzz: run each fuzz target for FUZZTIME (corpora live in testdata/fuzz)
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

## bench: every benchmark, one line per figure (see docs/benchmarks.md)
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2x -timeout 30m ./broker/storage/ ./bench/...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

clean:
	rm -rf $(BIN)
