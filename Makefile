# The two commands of the README.
.PHONY: run test build

# Installs what is missing, builds, and starts the server on embedded defaults.
run:
	scripts/setup.sh
	cargo build --release --bin sealcast
	./target/release/sealcast serve

# Runs every check CI runs: formatting, lints and the whole test suite.
test:
	scripts/setup.sh --test
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo test --workspace

build:
	scripts/setup.sh
	cargo build --release --bin sealcast
