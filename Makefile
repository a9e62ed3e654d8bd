# refval — see README.md. `make demo` and `make test` are the two entry points.
GO       ?= go
PREFIX   ?= /usr/local
DESTDIR  ?=
BINDIR   := $(DESTDIR)$(PREFIX)/bin
OUT      := _output
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# containers/image without cgo: OpenPGP in Go, no graph drivers, no storage.
TAGS     := containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_devicemapper containers_image_storage_stub
LDFLAGS  := -s -w -X github.com/refval/refval/cmd/refval/cmd.Version=$(VERSION)
GOBUILD  := CGO_ENABLED=0 $(GO) build -trimpath -tags "$(TAGS)" -ldflags "$(LDFLAGS)"
# The shim alone is built with cgo, statically: its C front (shim/front)
# passes runc calls through before the Go runtime starts (docs/shim.md).
GOBUILD_SHIM := CGO_ENABLED=1 $(GO) build -trimpath -tags "$(TAGS) netgo osusergo" -ldflags "$(LDFLAGS) -linkmode external -extldflags -static"
REFVAL_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/refval
export REFVAL_CACHE

.PHONY: all build test test-short deps demo bench fidelity fuzz install lint docs clean

all: build

build:
	@mkdir -p $(OUT)
	$(GOBUILD) -o $(OUT)/refval ./cmd/refval
	$(GOBUILD_SHIM) -o $(OUT)/containerd-shim-cmc-v1 ./cmd/containerd-shim-cmc-v1

# deps installs the Debian packages and builds containerd 2.x (scripts/deps.sh).
deps:
	@scripts/deps.sh >/dev/null

# test runs every test, real components included; -race for the concurrent code.
test: deps build
	REFVAL_BIN=$(CURDIR)/$(OUT) $(GO) test -race -tags "$(TAGS)" -timeout 75m -count=1 ./...

# test-short: unit tests only, no services (quick loop while editing).
test-short:
	$(GO) test -short -tags "$(TAGS)" ./...

demo: build
	@scripts/demo.sh $(OUT)

# bench: every benchmark once (-benchtime 1x), one package at a time (-p 1);
# the rootfs and image benchmarks interleave their own rounds against CMC's
# last measure-bundle (built from ../shared/cmc into $(REFVAL_CACHE)), plain
# read and the hash limit, and add rows to the table printed at the end.
# REFVAL_BENCH_ROUNDS overrides their number of rounds.
bench: build
	@rm -f $(OUT)/bench.md
	REFVAL_BIN=$(CURDIR)/$(OUT) REFVAL_BENCH_TABLE=$(CURDIR)/$(OUT)/bench.md $(GO) test -p 1 -tags "$(TAGS)" -run '^$$' -bench . -benchtime 1x -timeout 60m ./...
	@echo; uptime; echo; cat $(OUT)/bench.md

# fuzz runs every native fuzz target briefly (FUZZTIME each, all targets
# found by go test -list); `make fuzz FUZZTIME=10m` for a long run. A
# crasher fails the run and stays in testdata/fuzz/ for the commit.
FUZZTIME ?= 3s
fuzz:
	GO=$(GO) TAGS="$(TAGS)" scripts/fuzz.sh $(FUZZTIME)

fidelity: deps build
	REFVAL_BIN=$(CURDIR)/$(OUT) FIDELITY=1 $(GO) test -tags "$(TAGS)" -run 'TestFidelity' -v -count=1 -timeout 60m ./...

install: build
	install -d $(BINDIR)
	install -m 0755 $(OUT)/refval $(BINDIR)/refval
	install -m 0755 $(OUT)/containerd-shim-cmc-v1 $(BINDIR)/containerd-shim-cmc-v1
	# The shim puts this directory first in the runc shim's PATH, so that
	# every runc call comes back through containerd-shim-cmc-v1 (docs/shim.md).
	install -d $(DESTDIR)$(PREFIX)/libexec/refval
	ln -sf ../../bin/containerd-shim-cmc-v1 $(DESTDIR)$(PREFIX)/libexec/refval/runc

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: files above need formatting'; exit 1; }
	$(GO) vet -tags "$(TAGS)" ./...

docs:
	$(GO) run -tags "$(TAGS)" ./cmd/refval/internal/gendocs docs/cli

clean:
	rm -rf $(OUT)
