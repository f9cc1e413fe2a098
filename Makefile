# The two commands of the README.
.PHONY: run test build web test-web bench fuzz

# Installs what is missing, builds, and starts the server on embedded defaults.
run:
	scripts/setup.sh
	$(MAKE) web
	cargo build --release --bin sealcast
	./target/release/sealcast serve --demo

# Runs every check CI runs: formatting, lints and the whole test suite, whose
# whole-system tests run twice: on SQLite, then each server on a PostgreSQL of its own.
test:
	scripts/setup.sh --test
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo test --workspace
	SEALCAST_TEST_DATABASE=postgres cargo test -p sealcast --test '*'
	$(MAKE) test-web

build:
	scripts/setup.sh
	cargo build --release --bin sealcast

# The web app (player-demo/) into player-demo/dist, which `sealcast serve`
# serves at /; `npm ci` only when package-lock.json changed since the last one.
web:
	cd player-demo && { [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci; } && npm run build

# Browser tests: Debian's chromium driven by playwright-core against the
# real server binary (target/debug/sealcast).
test-web: web
	cargo build --bin sealcast
	cd player-demo && npm test

# Every benchmark in bench/, each side by side with its peer in one run
# (alternating rounds, medians), printing both and the ratio; then
# bench/RESULTS.md and bench/charts/ratios.png from what they recorded
# (release build; about an hour; by hand, not in `test`).
BENCH_RESULTS := $(CURDIR)/target/bench/results.jsonl
bench:
	scripts/setup.sh --bench
	cargo build --release --bin sealcast
	rm -f $(BENCH_RESULTS)
	SEALCAST_BENCH_RESULTS=$(BENCH_RESULTS) cargo run --release --example keys_bench
	SEALCAST_BENCH_RESULTS=$(BENCH_RESULTS) cargo run --release --example cluster_bench
	SEALCAST_BENCH_RESULTS=$(BENCH_RESULTS) cargo run --release --example viewers_bench
	SEALCAST_BENCH_RESULTS=$(BENCH_RESULTS) bench/transcode/ladder.sh
	SEALCAST_BENCH_RESULTS=$(BENCH_RESULTS) bench/transcode/crypto.sh
	bench/transcode/copy.sh
	SEALCAST_BENCH_RESULTS=$(BENCH_RESULTS) bench/edge/run.sh
	cargo run --release --manifest-path bench/report/Cargo.toml -- $(BENCH_RESULTS) bench

# Every fuzz target in fuzz/ in turn, FUZZ_SECONDS each (by hand, not in `test`;
# stable toolchain with RUSTC_BOOTSTRAP=1, see fuzz/README.md).
FUZZ_SECONDS ?= 600
fuzz:
	cargo install cargo-fuzz --locked --version 0.13.2 --quiet
	FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh
