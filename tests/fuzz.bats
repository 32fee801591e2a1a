#!/usr/bin/env bats
# The fuzz targets (tests/fuzz/README), each built with clang's libFuzzer
# and sanitizers and run for FUZZ_SECONDS (default 20) from its committed
# corpus: a crash, a leak, a timeout, a sanitizer report or a broken
# promise of the interface (an abort in the target) fails the test and
# keeps the input in the test's folder.  New inputs go to a scratch
# folder, so the committed corpora stay small.  The seed is fixed
# (FUZZ_SEED, default 1) so that a run that fails fails again for whoever
# runs it; FUZZ_SEED=0 lets libFuzzer pick one, for exploring (README).

load helpers/common

setup_file() {
	command -v clang >/dev/null ||
	    skip_all="clang is missing (tests/setup installs clang and libclang-rt-14-dev)"
	export skip_all
}

# fuzz TARGET [LIBFUZZER OPTIONS...]: build TARGET, run it
fuzz() {
	local target=$1 corpus
	shift
	[ -z "${skip_all:-}" ] || fail "$skip_all"
	corpus="$CLOUDOS_SRCDIR/tests/fuzz/corpus-${target#fuzz-}"
	run make -s -C "$CLOUDOS_BUILDDIR" "$target"
	[ "$status" -eq 0 ] || fail "make $target: $output"
	mkdir "$BATS_TEST_TMPDIR/new"
	run --separate-stderr "$CLOUDOS_BUILDDIR/$target" \
	    -max_total_time="${FUZZ_SECONDS:-20}" -seed="${FUZZ_SEED:-1}" \
	    -timeout=10 \
	    -rss_limit_mb=1024 -print_final_stats=1 \
	    -artifact_prefix="$BATS_TEST_TMPDIR/" "$@" \
	    "$BATS_TEST_TMPDIR/new" "$corpus"
	if [ "$status" -ne 0 ] || ls "$BATS_TEST_TMPDIR" | grep -qE '^(crash|leak|timeout|oom|slow-unit)-'; then
		echo "$stderr" | grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)' | tail -n 60
		ls "$BATS_TEST_TMPDIR"
		return 1
	fi
	# what it did, for the log
	echo "$stderr" | grep -E '^#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units' >&3 || true
}

@test "fuzz-docs: the document reader holds its promises" {
	fuzz fuzz-docs -max_len=4096
}

@test "fuzz-arc: tar archives, OVF descriptors and manifests hold theirs" {
	fuzz fuzz-arc -max_len=8192
}

@test "fuzz-expr: the expression engine holds its promises" {
	fuzz fuzz-expr -dict="$CLOUDOS_SRCDIR/tests/fuzz/expr.dict"
}
