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
	local source name readme
	readme=$(< "$ROOT/README.md")
	for source in "$ROOT"/[0-9][0-9]-*.c; do
		name=${source##*/} name=${name%.c}
		[[ $readme == *$'\n'"## ${name:0:2}: "* ]] || fail "no section '## ${name:0:2}: ...' for $source"
		[[ $readme == *"$name"* ]] || fail "README never names $source"
	done
}

# definitions FILE DIR: every definition in FILE of a static function or
# array, with the comment directly above it, into DIR/NAME.N (the Nth
# definition of NAME); prototypes are skipped.
definitions() {
	mkdir -p "$2"
	awk -v dir="$2" '
		/^(\/\*| \*)/ && !inside { comment = comment $0 "\n"; next }
		!inside && /^static / && match($0, /[a-z_]+(\(| ?\[)/) {
			name = substr($0, RSTART, RLENGTH); sub(/[( \[]+$/, "", name)
			inside = 1; body = 0; text = comment
		}
		inside {
			text = text $0 "\n"
			if (!body && $0 ~ /\);$/) { inside = 0; comment = ""; next }
			if ($0 ~ /[{]$/) body = 1
			if ($0 ~ /^}/) {
				out = dir "/" name "." ++count[name]; printf "%s", text > out; close(out)
				inside = 0; comment = ""
			}
			next
		}
		{ comment = "" }' "$1"
}

test_every_copy_of_a_shared_idiom_is_word_for_word_contributings() {
	local name file base want got copies=0
	awk '/^```c$/ { code = 1; next } /^```/ { code = 0 } code' "$ROOT/CONTRIBUTING.md" > "$T/idioms.c"
	definitions "$T/idioms.c" "$T/want"
	[ "$(find "$T/want" -name '*.1' | wc -l)" -ge 10 ] || fail "CONTRIBUTING.md shows too few idioms"
	for file in "$ROOT"/[0-9][0-9]-*.c "$ROOT"/bench/*.c; do
		base=${file##*/}
		definitions "$file" "$T/got/$base"
		for want in "$T"/want/*.1; do
			name=${want##*/} name=${name%.1}
			got=$T/got/$base/$name.1
			[ -f "$got" ] || continue
			copies=$((copies + 1))
			# A file with say has the second die, the one that calls it.
			[ "$name" != die ] || [ ! -f "$T/got/$base/say.1" ] || want=$T/want/die.2
			# The variant the file explains: 18's own failures exit 125,
			# as timeout(1)'s do.
			case "$base $name" in
			"18-supervise.c die")
				cp "$want" "$T/expected" && want=$T/expected
				sed -i '/^\( \*\|\/\*\)/d; s/exit(FAILED)/exit(1)/' "$got" "$want" ;;
			"18-supervise.c hold_standard_descriptors")
				sed -i 's/exit(FAILED)/exit(1)/' "$got" ;;
			esac
			cmp -s "$want" "$got" || { diff -u "$want" "$got" >&2; fail "$base: $name is not CONTRIBUTING.md's"; }
		done
	done
	[ "$copies" -ge 100 ] || fail "only $copies copies of the idioms found"
}

test_every_example_puts_its_lesson_first_above_one_banner() {
	# main (the lesson) first; one banner, "Below: ...", above the machinery
	awk 'function judge() {
			if (banners != 1) print name ": not exactly one \"Below:\" banner"
			else if (!(main && main < banner)) print name ": main does not come before the banner"
		}
		FNR == 1 { if (NR > 1) judge(); name = FILENAME; sub(/.*\//, "", name); main = banner = banners = 0 }
		/^int main\(/ { main = FNR }
		/^(\/\*| \*) Below: / { banner = FNR; banners++ }
		END { judge() }' "$ROOT"/[0-9][0-9]-*.c > "$T/shape"
	[ ! -s "$T/shape" ] || fail "$(cat "$T/shape")"
}
