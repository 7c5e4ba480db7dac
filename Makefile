# ZCCP in Go. The two commands that matter:
#   make run    start the broker with its defaults (ipc://@/zccp and tcp://127.0.0.1:7878)
#   make test   vet, race-enabled tests, libzmq interop tests and short fuzz runs
# Both install what they need on a fresh Debian machine.

SHELL := /bin/bash
GO    ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
BIN   := bin
FUZZTIME ?= 10s
export PATH := $(dir $(GO)):$(PATH)

.PHONY: run build install test test-main test-interop fuzz-short fuzz vet deps-test bench soak clean
.PHONY: test-python
.PHONY: test-c
.PHONY: test-java
.PHONY: test-matrix

build:
	$(GO) build -o $(BIN)/ ./cmd/...
	GO=$(GO) ./scripts/gen-packaging.sh

run: build
	./$(BIN)/zccpd $(ARGS)

install:
	$(GO) install ./cmd/...

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd interop && $(GO) vet ./...
	cd bench && $(GO) vet ./...

# libzmq is only needed by the interop tests (their own module; the
# product itself is pure Go).
deps-test:
	@./scripts/ensure-deps.sh libzmq3-dev pkg-config iproute2 util-linux

test: deps-test vet test-main test-interop fuzz-short test-python test-c test-java test-matrix test-web test-cluster

test-main:
	$(GO) test -race -count=1 ./...

test-interop:
	cd interop && CGO_ENABLED=1 $(GO) test -race -count=1 ./...

# The Python client (clients/python) against a zccpd built from this
# tree, after mypy --strict on its type hints; Debian's python3 (not a
# pyenv one) sees Debian's pyzmq, pytest and mypy.
PYTHON ?= /usr/bin/python3
test-python:
	@./scripts/ensure-deps.sh python3-zmq python3-pytest python3-mypy
	$(GO) build -o $(BIN)/ ./cmd/zccpd ./cmd/zccp
	cd clients/python && $(PYTHON) -m mypy --strict --ignore-missing-imports --cache-dir=/dev/null zccp
	cd clients/python && ZCCP_BIN_DIR=$(CURDIR)/$(BIN) $(PYTHON) -m pytest -q -p no:cacheprovider tests

# The C client library (clients/c: libzccp on CZMQ) against a zccpd built
# from this tree, with Go peers, the whole run under valgrind.
test-c:
	@./scripts/ensure-deps.sh gcc make pkg-config libczmq-dev valgrind python3-zmq
	$(MAKE) -C clients/c test GO=$(GO)

# Each fuzz target for a short bounded time; the corpus in testdata/fuzz
# is replayed by the ordinary tests too.
fuzz-short:
	@./scripts/fuzz-short.sh $(GO) $(FUZZTIME)

fuzz:
	$(MAKE) fuzz-short FUZZTIME=5m

# zccpd vs nats-server vs Mosquitto on loopback; writes bench/results/bench.{csv,md,png}; the flood generator (no client library, open loop and 80 %) writes bench/results/flood.md.
bench:
	./bench/run.sh $(BENCHARGS)

# 10 minutes of churn against a zccpd subprocess; fails if RSS or
# goroutines grow (make soak SOAK_ARGS="-duration 60s" for a quick run).
soak:
	./scripts/soak.sh $(SOAK_ARGS)

# Adversarial clients against a zccpd subprocess, one attack at a time
# (issue 11): a table of peak/final RSS, heap, fds, goroutines and CPU
# beside a well-behaved pair's loss. About 1-2 minutes; not part of test.
hostile:
	$(GO) run ./hostile $(HOSTILE_ARGS)
.PHONY: hostile

clean:
	rm -rf $(BIN)
	$(MAKE) -C clients/c clean

# Man pages and shell completions under packaging/, generated from the
# commands' own definitions (a test fails when they are stale).
packaging:
	GO=$(GO) ./scripts/gen-packaging.sh
.PHONY: packaging

# The Java client (clients/java, on Debian's JeroMQ 0.3.6, a ZMTP 2.0
# stack) built with javac and Debian's jars (no Maven, no network), tested
# with Debian's JUnit 4 against a zccpd built from this tree, Go peers and
# the Python and C clients' devices.
# Its cross-language tests use the Python package's and the C library's
# echo devices, so their Debian packages are installed too. (The request
# matrix with Java's device and caller is make test-matrix.)
test-java:
	@./scripts/ensure-deps.sh default-jdk-headless libjeromq-java junit4 python3-zmq gcc make pkg-config libczmq-dev
	$(GO) build -o $(BIN)/ ./cmd/zccpd ./cmd/zccp
	$(MAKE) -C clients/c lib build/zccp_device
	ZCCP_BIN_DIR=$(CURDIR)/$(BIN) clients/java/build.sh test

# The cross-language request matrix (issue 14): requester in {Go, Python,
# C, Java} x device in {Go, Python, C, Java}, 16 cells plus each device's
# conformance, in one run of the Python suite's table-driven tests
# (scripts/test-matrix.sh); prints the matrix. Reuses what test-c and
# test-java built (the jar is rebuilt only when a Java source is newer).
JAVA_JAR := clients/java/build/zccp.jar
$(JAVA_JAR): $(wildcard clients/java/src/main/java/org/zccp/*.java)
	clients/java/build.sh
test-matrix:
	@./scripts/ensure-deps.sh python3-zmq python3-pytest gcc make pkg-config libczmq-dev default-jdk-headless libjeromq-java
	$(GO) build -o $(BIN)/ ./cmd/zccpd ./cmd/zccp
	$(MAKE) -C clients/c lib build/zccp_device build/zccp_call
	$(MAKE) $(JAVA_JAR)
	ZCCP_BIN_DIR=$(CURDIR)/$(BIN) PYTHON=$(PYTHON) ./scripts/test-matrix.sh

# The dashboard in a real headless Chromium (Debian's chromium, driven by
# chromedp from its own module); screenshots in webtest/artifacts/.
test-web:
	@./scripts/ensure-deps.sh chromium
	cd webtest && $(GO) vet ./... && $(GO) test -count=1 ./...
.PHONY: test-web

# A simulated data center with the dashboard: prints the URL (Ctrl-C stops).
demo:
	@./scripts/ensure-deps.sh curl
	GO=$(GO) ./scripts/demo.sh
.PHONY: demo

# Federation (issue 16): three nats-server nodes and three brokers in one
# test process (cluster/, its own module, so nats-server stays out of the
# product). About 10 s.
test-cluster:
	cd cluster && $(GO) vet ./... && GO=$(GO) $(GO) test -race -count=1 ./...
.PHONY: test-cluster

# A local federation to try: three NATS nodes (in one process) and three
# zccpd, A, B and C, on tcp://127.0.0.1:7881-7883 and ipc://@/zccp-a, -b, -c
# (Ctrl-C stops).
run-cluster: build
	cd cluster && $(GO) run ./cmd/zccp-cluster -zccpd $(CURDIR)/$(BIN)/zccpd $(ARGS)
.PHONY: run-cluster
