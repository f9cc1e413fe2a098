# The two commands of the README.
.PHONY: run test build web test-web

# Installs what is missing, builds, and starts the server on embedded defaults.
run:
	scripts/setup.sh
	$(MAKE) web
	cargo build --release --bin sealcast
	./target/release/sealcast serve --demo

# Runs every check CI runs: formatting, lints and the whole test suite.
test:
	scripts/setup.sh --test
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo test --workspace
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
