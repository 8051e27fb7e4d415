#!/usr/bin/env bash
# Runs the terminal sessions of a Markdown file: every ```console block.
#
#   tests/transcripts.sh demo README.md    show each step and its real output
#   tests/transcripts.sh check README.md   fail where the output differs
#
# In a block, a line "$ command" is run and every other line is the output
# expected from the commands before it (standard output and error together).
# Job-control notices an interactive shell prints ("[1] 4242", "[1]+ Done")
# vary, so they are not compared. Each block runs in a fresh bash, in a
# scratch directory that stands for the top of the checkout: links to the
# programs of $BIN (./01-shm-open...), to bench/ipc-bench and to tests/.
# The demo runs every block in the document's order in one directory. The
# check gives each "## " section a directory of its own and runs two
# sections at a time (each one's blocks in order), each with names of its
# own.
#
# Names: every "demo" in a block (/demo, demo.fifo...) is replaced by a name
# of this run's own, so that an object another run or another user left
# under the README's name cannot break it: ipc-demo-<uid> for the demo, a
# token unique to the run for the check (the case's $ID under the suite, so
# that the case and the suite's leak gate see anything a block leaves).
set -u
# Error messages (strerror) are translated in other locales.
export LC_ALL=C
mode=${1:-} doc=${2:-}
if [ $# -ne 2 ] || { [ "$mode" != demo ] && [ "$mode" != check ]; }; then
	echo "usage: tests/transcripts.sh demo|check FILE.md" >&2
	exit 2
fi
if [ ! -f "$doc" ]; then
	echo "transcripts.sh: no file $doc" >&2
	exit 2
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
given=${BIN:-$ROOT}
if ! BIN=$(cd "$given" 2> /dev/null && pwd); then
	echo "transcripts.sh: no directory $given: build the programs first (make BINDIR=$given)" >&2
	exit 1
fi
scratch=$(mktemp -d "${TMPDIR:-/tmp}/ipc-transcripts.XXXXXXXX")
trap 'rm -rf "$scratch"' EXIT
# top DIR: DIR stands for the top of the checkout.
top() {
	local program
	mkdir -p "$1/bench"
	for program in "$BIN"/[0-9][0-9]-*; do
		[ -f "$program" ] && [ -x "$program" ] && ln -s "$program" "$1/"
	done
	ln -s "$ROOT/tests" "$1/tests"
	ln -s "$ROOT/bench/ipc-bench" "$1/bench/ipc-bench"
}
programs=0
for program in "$BIN"/[0-9][0-9]-*; do
	[ -f "$program" ] && [ -x "$program" ] && programs=$((programs + 1))
done
if [ "$programs" -eq 0 ]; then
	echo "transcripts.sh: no programs in $BIN: build them first (make, or make BINDIR=$BIN)" >&2
	exit 1
fi
if [ "$mode" = demo ]; then
	token=ipc-demo-$(id -u)
else
	token=${ID:-ipc-check-${scratch##*.}}-demo
fi

# Split the document: block N goes to $scratch/.blocks/N.block, the heading
# and paragraph before it to N.intro, the number of its "## " section to
# N.section.
mkdir "$scratch/.blocks"
blocks=$(awk -v dir="$scratch/.blocks" '
	/^## / { section++ }
	/^```console[[:space:]]*$/ { n++; inblock = 1; print heading "\n" para > (dir "/" n ".intro")
		print section + 0 > (dir "/" n ".section"); next }
	inblock && /^```[[:space:]]*$/ { inblock = 0; para = ""; next }
	inblock { print > (dir "/" n ".block"); next }
	/^#/ { heading = $0; para = ""; next }
	/^[[:space:]]*$/ { if (para != "") last = para; next }
	/^```/ { para = ""; next }
	{ para = (para == "" || last != "" && para == last ? "" : para "\n") $0; last = "" }
	END { print n + 0 }
' "$doc")

if [ "$mode" = demo ]; then
	printf 'Every "demo" in these sessions is %s here, a name of your own.\n' "$token"
	top "$scratch/top"
	for ((n = 1; n <= blocks; n++)); do
		block=$scratch/.blocks/$n
		sed "s/demo/$token/g" "$block.block" > "$block.script"
		printf '\n%s\n\n' "$(cat "$block.intro")"
		(cd "$scratch/top" && timeout 120 bash -c '
			while IFS= read -r line <&3; do
				printf "%s\n" "$line"
				eval "${line#\$ }"
			done' 3< <(grep '^\$ ' "$block.script") 2>&1) || true
	done
	exit 0
fi

# run_section K: the blocks of section K, in order, in its own directory,
# with names of its own (sections 01 and 02 both say /demo).
run_section() {
	local n block
	top "$scratch/section-$1"
	for ((n = 1; n <= blocks; n++)); do
		block=$scratch/.blocks/$n
		[ "$(cat "$block.section")" = "$1" ] || continue
		sed "s/demo/$token$1/g" "$block.block" > "$block.script"
		grep -v '^\$ ' "$block.script" | grep -Ev '^\[[0-9]+\]' > "$block.expected"
		(cd "$scratch/section-$1" && timeout 60 bash -c '
			while IFS= read -r line <&3; do eval "${line#\$ }"; done' \
			3< <(grep '^\$ ' "$block.script") < /dev/null 2>&1) |
			grep -Ev '^\[[0-9]+\]' > "$block.actual"
	done
}
for section in $(cat "$scratch/.blocks/"*.section 2> /dev/null | sort -nu); do
	while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n; done
	run_section "$section" &
done
wait
failed=0
for ((n = 1; n <= blocks; n++)); do
	block=$scratch/.blocks/$n
	if ! diff -u "$block.expected" "$block.actual" > "$block.diff"; then
		failed=$((failed + 1))
		echo "$doc: console block $n ($(sed -n 1p "$block.intro")) differs:"
		sed "s/${token}[0-9]*/demo/g" "$block.diff"
	fi
done
echo "$doc: $blocks console blocks, $failed differ"
[ "$failed" -eq 0 ]
