#!/bin/sh
# Runs the fuzz targets named (default: all of them) one after another, each for
# FUZZ_SECONDS (default 600), on the stable toolchain. See README.md.
set -eu
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
secs=${FUZZ_SECONDS:-600}
flags="--sanitizer none --codegen-units 16"
targets=${*:-$(cargo fuzz list)}
cargo fuzz build $flags
for t in $targets; do
    mkdir -p "corpus/$t"
    seeds=$t
    extra=""
    if [ "$t" = demux_sandboxed ]; then
        # No coverage comes back from the child: start from what `demux` found.
        seeds=demux
        mkdir -p corpus/demux
        extra=corpus/demux
    fi
    if [ -d "seeds/$seeds" ]; then
        cp -n "seeds/$seeds"/* "corpus/$t/" 2>/dev/null || true
    fi
    dict=""
    if [ -f "dict/$t.dict" ]; then
        dict="-dict=dict/$t.dict"
    fi
    echo "fuzz: $t for ${secs}s"
    cargo fuzz run $flags "$t" "corpus/$t" $extra -- \
        -max_total_time="$secs" -timeout=90 -rss_limit_mb=2048 -print_final_stats=1 $dict
done
