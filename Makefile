# veil — make run | test | bench | lint
.PHONY: run test bench lint fuzz load

run:
	go run ./cmd/veil demo

# The same command as the README and .ci/run.
test:
	go test -race ./...

bench:
	go test -run '^$$' -bench . -benchmem ./crypto/ ./server/...

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	go vet ./...
	staticcheck ./...

fuzz:
	go test -run '^$$' -fuzz FuzzParseToken -fuzztime 30s ./crypto/
