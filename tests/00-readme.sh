# shellcheck shell=bash
# README.md, bench/README.md, CONTRIBUTING.md: their terminal sessions are
# run, so they cannot drift from the code.

# transcripts FILE.md: every console block of FILE.md shows the real output.
transcripts() {
	bash "$ROOT/tests/transcripts.sh" check "$ROOT/$1" >&2 || fail "$1 is out of date"
}

test_every_console_block_in_the_readme_shows_the_real_output() {
	transcripts README.md
}

test_every_console_block_in_the_benchmark_readme_shows_the_real_output() {
	transcripts bench/README.md
}

test_every_console_block_in_contributing_shows_the_real_output() {
	transcripts CONTRIBUTING.md
}

test_the_readme_and_contributing_show_sessions_that_are_run() {
	grep -q '^```console' "$ROOT/README.md" || fail "README.md has no console block"
	grep -q '^```console' "$ROOT/CONTRIBUTING.md" || fail "CONTRIBUTING.md has no console block"
}

test_bench_readme_and_contributing_exist_and_link_from_the_readme() {
	[ -f "$ROOT/bench/README.md" ] || fail "no bench/README.md"
	[ -f "$ROOT/CONTRIBUTING.md" ] || fail "no CONTRIBUTING.md"
	grep -q '](bench/README.md)' "$ROOT/README.md" || fail "README.md does not link bench/README.md"
	grep -q '](CONTRIBUTING.md)' "$ROOT/README.md" || fail "README.md does not link CONTRIBUTING.md"
}

test_every_example_has_its_readme_section() {
	local source number
	for source in "$ROOT"/[0-9][0-9]-*.c; do
		number=$(basename "$source" | cut -c1-2)
		grep -q "^## $number: " "$ROOT/README.md" || fail "no section '## $number: ...' for $source"
		grep -q "$(basename "$source" .c)" "$ROOT/README.md" || fail "README never names $source"
	done
}
