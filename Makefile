# veil — make run | test | bench | lint
.PHONY: run test bench lint fuzz crash

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

# Execution counts, not durations (golang/go#75804 makes durations flaky on Go 1.26).
fuzz:
	go test -run '^$$' -fuzz '^FuzzParseToken$$' -fuzztime 1000000x ./crypto
	go test -run '^$$' -fuzz '^FuzzNormalizeKey$$' -fuzztime 1000000x ./crypto
	go test -run '^$$' -fuzz '^FuzzImportKeys$$' -fuzztime 20000x ./server/shop
	go test -run '^$$' -fuzz '^FuzzFrame$$' -fuzztime 3000x ./msg
	go test -run '^$$' -fuzz '^FuzzOrderBody$$' -fuzztime 20000x ./server
	go test -run '^$$' -fuzz '^FuzzEpayNotify$$' -fuzztime 500000x ./server/pay

# The long crash test: 60 kill -9 cycles of the real binary.
crash:
	VEIL_CRASH_CYCLES=60 go test -run TestCrashSafety -timeout 30m ./cmd/veil
