# olctl — build, test and measure. The two set-up commands are `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/.bin
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(BIN)/staticcheck-$(STATICCHECK_VERSION)
export OLCTL_TEST_MYSQL_DSN ?= root@tcp(127.0.0.1:3306)/test?parseTime=true
export OLCTL_TEST_POSTGRES_DSN ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
FUZZTIME ?= 10s
MANDIR ?= $(BIN)/man/man1

.PHONY: all build demo test fmt vet lint staticcheck sdkcheck unit examples fuzz man mancheck bench mariadb postgres clean

all: build

build:
	$(GO) build -o $(BIN)/olctl ./cmd/olctl

demo: build
	$(BIN)/olctl demo

test: fmt vet staticcheck mariadb postgres sdkcheck unit examples fuzz mancheck

# Every Go file as gofmt writes it (the list of those that are not, and a failure).
fmt:
	@out=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go')); \
	if [ -n "$$out" ]; then echo "not gofmt-ed (run gofmt -w):"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	cd bench && $(GO) vet ./...

lint: fmt vet staticcheck

$(STATICCHECK):
	@mkdir -p $(BIN)
	GOBIN=$(BIN)/tmp-staticcheck $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(BIN)/tmp-staticcheck/staticcheck $(STATICCHECK) && rmdir $(BIN)/tmp-staticcheck

staticcheck: $(STATICCHECK)
	$(STATICCHECK) ./...
	cd bench && $(STATICCHECK) ./...
	cd examples && $(STATICCHECK) ./...

# Starts MariaDB when it is installed but not answering; the tests that need it read OLCTL_TEST_MYSQL_DSN.
mariadb:
	@scripts/mariadb-up

# Starts PostgreSQL when it is installed but not answering; the tests that need it read OLCTL_TEST_POSTGRES_DSN.
postgres:
	@scripts/postgres-up

# Microsoft's botframework-connector (pinned by package-lock.json) for the bftest SDK check; skipped without npm
# (and then that test skips loudly, or fails under CI=true).
SDKCHECK := bftest/testdata/sdkcheck
sdkcheck: $(SDKCHECK)/node_modules/.installed

$(SDKCHECK)/node_modules/.installed: $(SDKCHECK)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix $(SDKCHECK) --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the Bot Framework SDK check will be skipped"; fi

# bench/ is a module of its own (make bench's runner and the baselines that need libraries the SDK does not
# depend on): its tests run here and its benchmarks are compiled, not run.
unit:
	$(GO) test -race -count=1 -timeout 15m ./...
	cd bench && $(GO) test -race -count=1 ./...

# The SDK's snippets as a user's module runs them (examples/, its own go.mod with a replace to this
# repository), end to end on 127.0.0.1: SQLite, and PostgreSQL through OLCTL_TEST_POSTGRES_DSN.
examples: postgres
	cd examples && $(GO) vet ./... && $(GO) test -race -count=1 ./...

# A short run of every fuzz target (FUZZTIME each, 10s by default).
fuzz:
	@scripts/fuzz-all $(FUZZTIME)

# olctl's man pages, one per command, from the same text as --help (cobra's generator), into MANDIR.
man:
	$(GO) run ./internal/genman $(MANDIR)

# make man into a temporary directory, failing unless it wrote the pages of olctl and of its commands.
mancheck:
	@dir=$$(mktemp -d); trap 'rm -rf "$$dir"' EXIT; \
	$(MAKE) --no-print-directory man MANDIR="$$dir" >/dev/null || exit 1; \
	for page in olctl.1 olctl-connect.1 olctl-connector-queue-ls.1; do \
		if [ ! -s "$$dir/$$page" ]; then echo "make man wrote no $$page"; exit 1; fi; \
	done; \
	echo "make man: $$(ls "$$dir" | grep -c '\.1$$') pages"

bench: build mariadb postgres
	cd bench && $(GO) run . -md ../BENCHMARKS.md $(BENCHFLAGS)

clean:
	rm -rf $(BIN)
