# paved — every entry point is a make target; CI runs `make test` then `make e2e`.
SHELL := /bin/bash
GO ?= go
# Built Kubernetes/Argo CD binaries and the Backstage npm install live outside
# the clone, so a fresh clone on the same machine does not rebuild them.
export PAVED_E2E_BIN_CACHE ?= $(HOME)/.cache/paved-e2e/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/paved-dev/paved.Version=$(VERSION)
PG_SCRIPT := scripts/pg-test-server.sh
# A count, not a duration: a -fuzztime deadline that expires while a worker is
# busy is reported by go test as a failure ("context deadline exceeded").
FUZZTIME ?= 10000x
# Go packages of paved only: some npm packages ship stray .go files in node_modules.
GOPKGS = $$($(GO) list ./... | grep -v /node_modules/)

.PHONY: image run build test fuzz bench lint test-ts build-ts e2e chaos dev-stack dev-stack-down clean

## run: start paved on its embedded defaults (SQLite under .data/, no Argo CD yet)
run:
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/paved serve

## build: the paved binary in bin/
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/paved ./cmd/paved

# The image is stamped with the commit, never with the build's clock: the
# same commit gives the same digest.
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
PLATFORMS ?= linux/amd64,linux/arm64

## image: the OCI image, no container daemon: bin/image/oci (layout), paved.oci.tar, a tarball per platform
image:
	cd deploy/image && GOWORK=off $(GO) run . -root ../.. -out ../../bin/image -platforms $(PLATFORMS) \
		-version $(VERSION) -revision $(REVISION) -created $(SOURCE_DATE_EPOCH)

# The image test builds both platforms twice and checks both digests stay equal
# (reproducible arm64 too): 139 s against 94 s for the host's platform alone on
# the 2 shared cores with a warm build cache (deploy/image/build_test.go).
IMAGE_TEST_PLATFORMS ?= linux/amd64,linux/arm64

## test: unit and integration tests on SQLite and a throwaway PostgreSQL, then bounded fuzzing
test: lint
	@$(PG_SCRIPT) start >/dev/null
	@eval "$$($(PG_SCRIPT) env)" && $(GO) test -count=1 $(GOPKGS)
	cd deploy/image && GOWORK=off $(GO) vet . && PAVED_IMAGE_TEST_PLATFORMS=$(IMAGE_TEST_PLATFORMS) GOWORK=off $(GO) test -count=1 .
	cd deploy/prometheus && GOWORK=off $(GO) vet . && GOWORK=off $(GO) test -count=1 .
	@$(MAKE) --no-print-directory fuzz
	@$(MAKE) --no-print-directory test-ts

# node_modules follows package-lock.json: npm ci runs only when the lock changed.
node_modules/.paved-stamp: package-lock.json package.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## test-ts: the TypeScript packages' tests (type check, API reports, then each workspace's tests)
# The API check compares each package's public API, read from the declarations
# tsc just wrote to dist-types/, with its committed report.api.md: a change of
# API without its report fails (update them with `npm run build:api-reports`).
test-ts: node_modules/.paved-stamp
	npm run tsc
	npm run test:api-reports
	npm test

## build-ts: build the Backstage backend modules a plain Node backend loads (e2e)
# backstage-cli bundles the declarations tsc writes to dist-types/, so tsc runs first.
BUILD_TS_WS = -w plugins/scaffolder-backend-module-paved -w plugins/catalog-backend-module-paved
build-ts: node_modules/.paved-stamp
	npm run tsc $(BUILD_TS_WS)
	npm run build $(BUILD_TS_WS)

## fuzz: every fuzz target for a bounded number of executions (FUZZTIME per target)
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzInvokeDecode$$' -fuzztime $(FUZZTIME) ./server
	$(GO) test -run '^$$' -fuzz '^FuzzRoutes$$' -fuzztime $(FUZZTIME) ./server
	$(GO) test -run '^$$' -fuzz '^FuzzReasonPhrase$$' -fuzztime $(FUZZTIME) ./server
	$(GO) test -run '^$$' -fuzz '^FuzzAuthenticate$$' -fuzztime $(FUZZTIME) ./backstage
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeTask$$' -fuzztime $(FUZZTIME) ./backstage
	$(GO) test -run '^$$' -fuzz '^FuzzParseISODuration$$' -fuzztime $(FUZZTIME) ./devex
	$(GO) test -run '^$$' -fuzz '^FuzzParseKind$$' -fuzztime $(FUZZTIME) ./infra
	$(GO) test -run '^$$' -fuzz '^FuzzSanitizeName$$' -fuzztime $(FUZZTIME) ./catalog
	$(GO) test -run '^$$' -fuzz '^FuzzAppendJSON$$' -fuzztime $(FUZZTIME) ./catalog
	$(GO) test -run '^$$' -fuzz '^FuzzCursors$$' -fuzztime $(FUZZTIME) ./catalog
	$(GO) test -run '^$$' -fuzz '^FuzzPlaceholders$$' -fuzztime $(FUZZTIME) ./scaffolder

## bench: benchmarks with their figures (ns/op, allocations, custom metrics)
bench:
	@$(PG_SCRIPT) start >/dev/null
	@eval "$$($(PG_SCRIPT) env)" && $(GO) test -run '^$$' -bench . -benchmem -benchtime 2s $(GOPKGS)

## lint: go vet and gofmt
lint:
	$(GO) vet $(GOPKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# The core tests, run again on the oldest Backstage release lines paved supports
# (e2e/backstagehost/compat/, each installed once into its own cache directory):
# on 1.44 the registry path (a template creating an Argo CD app through paved's
# actions, the failure reason in the task log, Backstage started before paved,
# plugin tokens both ways, entities.yaml as a URL location); on 1.53 paved's
# TypeScript backend modules (scaffolder actions, catalog entity provider).
BACKSTAGE_REGISTRY_TESTS = ^(TestBackstageRunsPavedActions|TestBackstageStartedBeforePaved|TestBackstageCallsPavedAndPavedCallsBackstage|TestBackstageIngestsEntitiesYAML)$$
BACKSTAGE_MODULE_TESTS = ^(TestScaffolderModuleRunsPavedActions|TestCatalogFreshness|TestBackstageIngestsThroughTheProviderModule)$$

## e2e: the end-to-end suite against a real Argo CD (v2.14), Kubernetes API and Backstage,
## then the scenario suite again on Argo CD 3, then the core tests on the oldest Backstage lines
# Both Argo CD lines are built into the bin cache once (devstack -argocd both build).
# That build caches helm too: the chart's PrometheusRule test, which make test
# skips without helm (a fresh machine has none before), runs again here.
e2e: build-ts
	@bash e2e/install-deps.sh
	$(GO) run ./e2e/cmd/devstack -argocd both build
	cd deploy/prometheus && GOWORK=off $(GO) test -count=1 -run '^TestHelmPrometheusRule$$' .
	@$(PG_SCRIPT) start >/dev/null
	@eval "$$($(PG_SCRIPT) env)" && $(GO) test -count=1 -p 1 -tags e2e -timeout 75m -v ./e2e/... ./catalog/...
	@eval "$$($(PG_SCRIPT) env)" && PAVED_E2E_ARGOCD=v3 $(GO) test -count=1 -p 1 -tags e2e -timeout 40m -v -run '^TestScenarios$$' ./e2e/
	PAVED_E2E_BACKSTAGE=oldest $(GO) test -count=1 -p 1 -tags e2e -timeout 30m -v -run '$(BACKSTAGE_REGISTRY_TESTS)' ./e2e/ ./e2e/backstagehost/ ./catalog/
	PAVED_E2E_BACKSTAGE=oldest-modules $(GO) test -count=1 -p 1 -tags e2e -timeout 30m -v -run '$(BACKSTAGE_MODULE_TESTS)' ./e2e/ ./catalog/

## chaos: the crash suite: the real paved (SQLite, then PostgreSQL) killed with SIGKILL at random
## moments under concurrent provisionings, deprovisionings and creates; retries checked (CHAOS_ROUNDS)
chaos:
	@$(PG_SCRIPT) start >/dev/null
	@eval "$$($(PG_SCRIPT) env)" && $(GO) test -count=1 -tags chaos -timeout 10m -v -run TestKillNine ./e2e/chaos/

## dev-stack: start Argo CD + Kubernetes + Backstage and a paved wired to them, and leave them running
dev-stack:
	$(GO) run ./e2e/cmd/devstack up

## dev-stack-down: stop what dev-stack started
dev-stack-down:
	$(GO) run ./e2e/cmd/devstack down

clean:
	@$(PG_SCRIPT) stop >/dev/null 2>&1 || true
	rm -rf bin .data
