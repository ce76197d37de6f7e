# Courier build, test and tooling. `make help` lists the targets.
#
# Everything the targets need is installed into .tools/ on first use, from the
# Go module proxy, at the versions pinned below; nothing is installed globally.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build
.DELETE_ON_ERROR:
.SUFFIXES:
MAKEFLAGS += --no-builtin-rules

GO ?= go
ROOT := $(CURDIR)
TOOLS_DIR := $(ROOT)/.tools

# Stamping VCS information needs a git checkout owned by the current user and
# is not wanted in the binary; cgo is off, as in the builder's own compile, so
# the tests need no C compiler on a fresh machine (override CGO_ENABLED=1 for
# `go test -race`).
export GOFLAGS := $(strip $(filter-out -buildvcs=%,$(GOFLAGS)) -buildvcs=false)
export CGO_ENABLED ?= 0

# ---- pinned tool versions ---------------------------------------------------
BUILDER_VERSION       ?= v0.165.0
GOLANGCI_LINT_VERSION ?= v2.15.0
BENCHSTAT_VERSION     ?= v0.0.0-20260908200009-22c9c6c9d4da

# Each tool is installed as .tools/<name>-<version> with a .tools/<name>
# symlink, so bumping a version installs the new one and `make` notices.
BUILDER       := $(TOOLS_DIR)/builder-$(BUILDER_VERSION)
GOLANGCI_LINT := $(TOOLS_DIR)/golangci-lint-$(GOLANGCI_LINT_VERSION)
BENCHSTAT     := $(TOOLS_DIR)/benchstat-$(BENCHSTAT_VERSION)

# $(call go-install-tool,<target file>,<package>,<version>)
define go-install-tool
@echo "installing $(2)@$(3) into $(TOOLS_DIR)"
@mkdir -p $(TOOLS_DIR)
@tmp=$$(mktemp -d "$(TOOLS_DIR)/.install.XXXXXX"); \
	trap 'rm -rf "$$tmp"' EXIT; \
	GOBIN="$$tmp" GOFLAGS=-buildvcs=false $(GO) install $(2)@$(3); \
	mv "$$tmp/$$(basename $(2))" $(1)
@ln -sfn $(notdir $(1)) $(TOOLS_DIR)/$$(basename $(2))
endef

$(BUILDER):
	$(call go-install-tool,$@,go.opentelemetry.io/collector/cmd/builder,$(BUILDER_VERSION))

$(GOLANGCI_LINT):
	$(call go-install-tool,$@,github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

$(BENCHSTAT):
	$(call go-install-tool,$@,golang.org/x/perf/cmd/benchstat,$(BENCHSTAT_VERSION))

.PHONY: tools
tools: $(BUILDER) $(GOLANGCI_LINT) $(BENCHSTAT) ## Install every tool into .tools/

# ---- build ------------------------------------------------------------------
DIST_DIR       := distributions/otelcol-courier
COURIER_BINARY := $(ROOT)/$(DIST_DIR)/otelcol-courier
BUILDER_CONFIG := builder-config.yaml

# The binary depends on the builder manifest and on the root module's Go code
# (the distribution replaces github.com/courier-otel/courier with this
# checkout). Tests, testdata, the generated distribution and the testbed and
# command-line tools with their libraries (which the distribution does not
# import) are left out, so editing them does not rebuild the collector. The
# recipe touches the binary because go build leaves an up-to-date binary's
# timestamp alone.
GO_SOURCES := $(sort $(shell find . \
	\( -path ./.git -o -path ./.tools -o -path ./bin -o -path ./$(DIST_DIR) -o -path ./bench -o -path ./testbed -o -path ./cmd -o -path ./internal/configtranslate -o -name testdata \) -prune \
	-o -name '*.go' ! -name '*_test.go' -print))
GO_MODULE_FILES := go.mod $(wildcard go.sum)

# Modification times miss a deleted or renamed file, so the list of sources is
# a prerequisite too: the file is rewritten only when the list changes.
SOURCES_LIST := $(DIST_DIR)/.go-sources
$(shell mkdir -p $(DIST_DIR) && printf '%s\n' $(GO_SOURCES) > $(SOURCES_LIST).new && \
	{ cmp -s $(SOURCES_LIST).new $(SOURCES_LIST) && rm -f $(SOURCES_LIST).new || mv -f $(SOURCES_LIST).new $(SOURCES_LIST); })

# Several people (and their `make test`) may share one checkout: a lock keeps
# two builder runs from rewriting the generated go.mod at the same time.
BUILD_LOCK := $(if $(shell command -v flock),flock $(DIST_DIR)/.build.lock)

$(COURIER_BINARY): $(BUILDER_CONFIG) $(GO_SOURCES) $(GO_MODULE_FILES) $(SOURCES_LIST) $(BUILDER)
	@mkdir -p $(DIST_DIR)
	$(BUILD_LOCK) $(BUILDER) --config=$(BUILDER_CONFIG) --skip-strict-versioning=false
	@touch $@

# courier-config (cmd/courier-config) translates Omniverse transmitter settings
# and NVSentinel event-exporter values into Courier configs. go build's cache
# makes it cheap, so `make build` builds it too.
COURIER_CONFIG := $(ROOT)/bin/courier-config

.PHONY: courier-config
courier-config: ## Build bin/courier-config, the Omniverse / NVSentinel config translator
	$(GO) build -o $(COURIER_CONFIG) ./cmd/courier-config

.PHONY: build
build: $(COURIER_BINARY) courier-config ## Build distributions/otelcol-courier/otelcol-courier with the collector builder, and bin/courier-config

# `make run` is the demo (cmd/courier-demo, testbed/demo): sample Omniverse
# logs and, where PostgreSQL is installed, NVSentinel events in PostgreSQL
# and in MongoDB (courier-mongo, the replica-set stand-in: `make mongo`),
# through the built collector to in-process sinks, ending with a checked
# summary.
# RUN_FLAGS go to the demo, e.g. RUN_FLAGS=-keep.
RUN_CONFIG ?= $(DIST_DIR)/config.yaml
RUN_FLAGS  ?=

.PHONY: run
run: $(COURIER_BINARY) mongo ## Build, then run the demo: Courier's real job on sample data, ending with a checked summary (RUN_FLAGS=-keep keeps its files)
	$(GO) run ./cmd/courier-demo -collector $(COURIER_BINARY) -mongo $(COURIER_MONGO) $(RUN_FLAGS)

.PHONY: run-collector
run-collector: $(COURIER_BINARY) ## Build, then run the collector alone with RUN_CONFIG (default: the distribution's config.yaml)
	$(COURIER_BINARY) --config $(RUN_CONFIG)

# ---- Helm chart ---------------------------------------------------------------
# `make helm-template` prints the chart's manifests as Helm renders them, with
# the values files in HELM_VALUES (e.g. HELM_VALUES=my-values.yaml). The Helm
# binary is built from the module proxy into .tools/ on first use (a minute or
# two); `make tools` leaves it out, since the tests use Helm's Go library.
HELM_VERSION ?= v3.22.0
HELM         := $(TOOLS_DIR)/helm-$(HELM_VERSION)
HELM_CHART   := $(DIST_DIR)/helm/courier
HELM_VALUES  ?=

$(HELM):
	$(call go-install-tool,$@,helm.sh/helm/v3/cmd/helm,$(HELM_VERSION))

.PHONY: helm-template
helm-template: $(HELM) ## Render the Helm chart (values files in HELM_VALUES)
	$(HELM) template courier $(HELM_CHART) $(addprefix --values=,$(HELM_VALUES))

# ---- system packages (hook) -------------------------------------------------
# DEPS_APT_PACKAGES lists the Debian packages the tests need from the system:
# `postgresql`, whose server binaries the datastore receiver's tests start as
# throwaway servers (internal/pgtest), and `python3-flask`, which runs the
# NVSentinel documentation's example sink in the end-to-end tests. `make deps` (run by `make test`) checks
# them; when it runs as root (CI, containers) it installs missing ones with
# apt-get, otherwise it prints the command to run. .ci/run installs the same
# list before `make test`.
DEPS_APT_PACKAGES ?= postgresql python3-flask

.PHONY: deps
deps: ## Check (as root: install) the system packages the tests need
	@missing=(); \
	for p in $(DEPS_APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$$p"); \
	done; \
	if (( $${#missing[@]} == 0 )); then exit 0; fi; \
	if [[ $$(id -u) == 0 ]] && command -v apt-get >/dev/null; then \
		echo "installing missing system packages: $${missing[*]}"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$${missing[@]}"; \
	else \
		echo "missing system packages: $${missing[*]}" >&2; \
		echo "install them with: sudo apt-get install -y $${missing[*]}" >&2; \
		exit 1; \
	fi

.PHONY: print-deps
print-deps: ## Print DEPS_APT_PACKAGES (used by .ci/run)
	@echo $(DEPS_APT_PACKAGES)

# ---- test -------------------------------------------------------------------
TEST_TIMEOUT ?= 20m
TEST_FLAGS   ?=

# The MongoDB tests run next to courier-mongo (testbed/mongo, a module of its
# own so that FerretDB's dependencies stay out of the distribution's): a
# replica-set stand-in with change streams, over FerretDB over a throwaway
# PostgreSQL. It names itself in COURIER_TEST_MONGODB_URI and FerretDB, a
# server without change streams, in COURIER_TEST_FERRETDB_URI. When the user
# sets COURIER_TEST_MONGODB_URI (a real replica set), the tests run against
# that instead.
COURIER_MONGO := $(TOOLS_DIR)/courier-mongo
MONGO_TESTS   := $(GO) test -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) ./receiver/datastorereceiver/internal/mongo/ && \
	$(GO) test -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) -run Mongo ./receiver/datastorereceiver/ && \
	COURIER_BINARY=$(COURIER_BINARY) $(GO) test -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) -run TestHealthStandaloneMongoDB ./testbed/e2e/

.PHONY: mongo
mongo: ## Build courier-mongo, the MongoDB replica-set stand-in, into .tools/
	@mkdir -p $(TOOLS_DIR)
	$(GO) -C testbed/mongo build -o $(COURIER_MONGO) .

# The Helm chart and the Dockerfile are tested by $(DEPLOYTEST_DIR), a module of
# its own for the same reason: Helm's and Kubernetes' dependencies stay out of
# the distribution's. It renders the chart with Helm's Go library and
# validates every rendered config with the built binary.
DEPLOYTEST_DIR := $(DIST_DIR)/deploytest

# The Kafka tier's end-to-end test and benchmark (testbed/e2e) talk to a Kafka
# protocol broker on loopback: testbed/kafka (franz-go's kfake), a module of
# its own, built here once per run.
KAFKA_BROKER := $(TOOLS_DIR)/kafka-broker

.PHONY: kafka-broker
kafka-broker: ## Build the testbed's Kafka broker into .tools/
	@mkdir -p $(TOOLS_DIR)
	$(GO) -C testbed/kafka build -o $(KAFKA_BROKER) .

.PHONY: test
test: deps $(COURIER_BINARY) kafka-broker mongo ## Build, then run every test (unit, integration, end-to-end against the built binary)
	COURIER_BINARY=$(COURIER_BINARY) COURIER_KAFKA_BROKER_BINARY=$(KAFKA_BROKER) COURIER_MONGO_BINARY=$(COURIER_MONGO) $(GO) test -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) ./...
	@mkdir -p $(TOOLS_DIR)
	$(GO) -C testbed/mongo test -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) ./...
	if [[ -n "$${COURIER_TEST_MONGODB_URI:-}" ]]; then $(MONGO_TESTS); else $(COURIER_MONGO) -- bash -c '$(MONGO_TESTS)'; fi
	COURIER_BINARY=$(COURIER_BINARY) $(GO) -C $(DEPLOYTEST_DIR) test -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) ./...

FUZZTIME ?= 10s

.PHONY: fuzz
fuzz: ## Run every Fuzz target for FUZZTIME (default 10s) each
	@targets=$$($(GO) test -list '^Fuzz' ./... | awk '/^Fuzz/ { names[n++] = $$1; next } /^ok / { for (i = 0; i < n; i++) print $$2, names[i]; n = 0 }'); \
	if [[ -z "$$targets" ]]; then echo "no fuzz targets"; exit 0; fi; \
	while read -r pkg name; do \
		echo "== $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) "$$pkg"; \
	done <<< "$$targets"

# ---- bench ------------------------------------------------------------------
# `make bench` runs the component micro-benchmarks (every package outside
# testbed/) BENCH_COUNT times at go test's default -benchtime, then the
# end-to-end benchmarks under testbed/, whose every iteration is a whole run
# of the built binary, BENCH_E2E_COUNT times with -benchtime=1x, one package
# at a time. The raw output, headed by a description of the machine, goes to
# bench/results-<time>.txt and bench/results.txt (not committed); benchstat
# summarises it and cmd/courier-bench-report writes bench/REPORT.md and its
# charts (bench/*.svg, committed). About 40 minutes on 2 vCPUs. A subset:
# make bench BENCH_PKGS=./exporter/cloudeventsexporter BENCH_FILTER=SlowSink
# (BENCH_FILTER is go test's -bench pattern). The end-to-end sweeps take their
# values from COURIER_BENCH_IN_FLIGHT and COURIER_BENCH_CONSUMERS (see
# testbed/README.md).
BENCH_COUNT     ?= 6
BENCH_E2E_COUNT ?= 3
BENCH_PKGS      ?= ./...
BENCH_FILTER    ?= .
BENCH_TIMEOUT   ?= 60m
BENCH_FLAGS     ?=
BENCH_DIR       := bench
BENCH_RESULTS   := $(BENCH_DIR)/results.txt
BENCH_REPORT    := $(GO) run ./cmd/courier-bench-report

.PHONY: bench
bench: $(COURIER_BINARY) $(BENCHSTAT) kafka-broker mongo ## Run the benchmarks (BENCH_PKGS, BENCH_FILTER) and write bench/REPORT.md and its charts
	@mkdir -p $(BENCH_DIR)
	@pkgs=$$($(GO) list $(BENCH_PKGS)); \
	micro=$$(grep -v '/testbed/' <<< "$$pkgs" || true); \
	e2e=$$(grep '/testbed/' <<< "$$pkgs" || true); \
	results=$(BENCH_DIR)/results-$$(date -u +%Y%m%dT%H%M%SZ).txt; status=0; \
	{ $(BENCH_REPORT) -machine; \
	  echo "runs: micro-benchmarks $(BENCH_COUNT) × go test's default -benchtime, end-to-end $(BENCH_E2E_COUNT) × 1 iteration"; \
	} > "$$results"; \
	if [[ -n "$$micro" ]]; then \
		$(GO) test -p 1 -run '^$$' -bench '$(BENCH_FILTER)' -benchmem -count $(BENCH_COUNT) \
			-timeout $(BENCH_TIMEOUT) $(BENCH_FLAGS) $$micro 2>&1 | tee -a "$$results" || status=$$?; \
	fi; \
	if [[ -n "$$e2e" ]]; then \
		COURIER_BINARY=$(COURIER_BINARY) COURIER_KAFKA_BROKER_BINARY=$(KAFKA_BROKER) COURIER_MONGO_BINARY=$(COURIER_MONGO) $(GO) test -p 1 -run '^$$' -bench '$(BENCH_FILTER)' -benchtime 1x -count $(BENCH_E2E_COUNT) \
			-timeout $(BENCH_TIMEOUT) $(BENCH_FLAGS) $$e2e 2>&1 | tee -a "$$results" || status=$$?; \
	fi; \
	cp "$$results" $(BENCH_RESULTS); \
	echo; echo "== benchstat summary of $(BENCH_RESULTS) (kept as $$results)"; \
	$(BENCHSTAT) $(BENCH_RESULTS) || status=$$?; \
	$(BENCH_REPORT) -in $(BENCH_RESULTS) -out $(BENCH_DIR) || status=$$?; \
	if (( status != 0 )); then echo "benchmarks failed (status $$status), see $(BENCH_RESULTS)" >&2; fi; \
	exit $$status

# ---- lint -------------------------------------------------------------------
.PHONY: lint
lint: $(GOLANGCI_LINT) ## gofmt, go vet and golangci-lint
	@files=$$(find . \( -path ./.git -o -path ./.tools -o -path ./$(DIST_DIR) -o -name testdata \) -prune -o -name '*.go' -print); \
	unformatted=$$([[ -z "$$files" ]] || gofmt -l $$files); \
	if [[ -n "$$unformatted" ]]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GOLANGCI_LINT) run --timeout 10m ./...

# ---- clean ------------------------------------------------------------------
# The builder's output, everything in $(DIST_DIR) that is not committed.
DIST_GENERATED := $(COURIER_BINARY) $(addprefix $(DIST_DIR)/,main.go main_others.go main_windows.go components.go go.mod go.sum)

# bench/REPORT.md and its charts are committed: clean keeps them.
.PHONY: clean
clean: ## Remove the built collector, its generated sources, bin/ tools, raw benchmark results and coverage
	rm -f $(DIST_GENERATED) $(COURIER_CONFIG)
	[[ ! -d $(BENCH_DIR) ]] || find $(BENCH_DIR) -mindepth 1 -maxdepth 1 ! -name REPORT.md ! -name '*.svg' -exec rm -rf {} +
	rm -f coverage.out coverage.html

.PHONY: distclean
distclean: clean ## clean, and remove the tools in .tools/
	rm -rf $(TOOLS_DIR)

.PHONY: help
help: ## List the targets
	@awk 'BEGIN { FS = ":.*## " } /^[a-z-]+:.*## / { printf "  %-14s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
