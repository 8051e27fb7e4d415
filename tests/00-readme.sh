# shellcheck shell=bash
# README.md: its terminal sessions are run, so they cannot drift from the code.

test_every_console_block_in_the_readme_shows_the_real_output() {
	bash "$ROOT/tests/transcripts.sh" check "$ROOT/README.md" >&2 || fail "README.md is out of date"
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
