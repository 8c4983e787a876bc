# Test and build entry points. Database tests get a throwaway PostgreSQL via
# cmd/withpg; see docs/development.md.

GO ?= go
# Extra flags for go test, e.g. make test TESTFLAGS=-v
TESTFLAGS ?=

.PHONY: test demo build dist

test:
	$(GO) run ./cmd/withpg -- $(GO) test -count=1 -p 2 -timeout 40m $(TESTFLAGS) ./...

demo:
	$(GO) run ./cmd/withpg -- $(GO) run ./cmd/strata-demo

build:
	$(GO) build -o bin/strata ./cmd/strata

# Static release binaries (linux amd64 and arm64) in dist/; see scripts/dist.sh.
dist:
	bash scripts/dist.sh
