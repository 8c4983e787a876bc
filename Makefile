# Test and build entry points. Database tests get a throwaway PostgreSQL via
# cmd/withpg; see docs/development.md.

GO ?= go
# Extra flags for go test, e.g. make test TESTFLAGS=-v
TESTFLAGS ?=

.PHONY: test demo build dist

# The first build compiles PostgreSQL's parser (C, through cgo) and takes
# minutes without a word from go: say so before it starts.
COMPILE_NOTE = @echo "compiling strata (first build takes 1–3 minutes; later ones seconds)…"

test:
	$(COMPILE_NOTE)
	$(GO) build ./...
	$(GO) run ./cmd/withpg -- $(GO) test -count=1 -p 2 -timeout 40m $(TESTFLAGS) ./...

demo:
	$(COMPILE_NOTE)
	$(GO) build -o bin/withpg ./cmd/withpg
	$(GO) build -o bin/strata-demo ./cmd/strata-demo
	bin/withpg -- bin/strata-demo

build:
	$(COMPILE_NOTE)
	$(GO) build -o bin/strata ./cmd/strata

# Static release binaries (linux amd64 and arm64) in dist/; see scripts/dist.sh.
dist:
	bash scripts/dist.sh
