#!/usr/bin/env bash
# Runs the terminal sessions of a Markdown file: every ```console block.
#
#   tests/transcripts.sh demo README.md    show each step and its real output
#   tests/transcripts.sh check README.md   fail where the output differs
#
# In a block, a line "$ command" is run and every other line is the output
# expected from the commands before it (standard output and error together).
# Job-control notices an interactive shell prints ("[1] 4242", "[1]+ Done")
# vary, so they are not compared. Blocks run in order, each in a fresh bash,
# all in one scratch directory holding links to the programs. In check mode
# every "demo" in a block becomes a name unique to the run, so that shared
# memory and queue names never collide with another run's.
set -u
# Error messages (strerror) are translated in other locales.
export LC_ALL=C
mode=${1:-} doc=${2:-}
if [ "$mode" != demo ] && [ "$mode" != check ] || [ ! -f "$doc" ]; then
	echo "usage: tests/transcripts.sh demo|check FILE.md" >&2
	exit 2
fi
BIN=$(cd "${BIN:-$(dirname "$0")/..}" && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/ipc-transcripts.XXXXXXXX")
trap 'rm -rf "$scratch"' EXIT
for program in "$BIN"/[0-9][0-9]-*; do
	case $program in *.c) continue ;; esac
	[ -x "$program" ] && ln -s "$program" "$scratch/"
done
token=demo-${scratch##*.}

# Split the document: block N goes to $scratch/.N.block; for the demo, the
# heading and paragraph before it go to $scratch/.N.intro.
awk -v dir="$scratch" '
	/^```console[[:space:]]*$/ { n++; inblock = 1; print heading "\n" para > (dir "/." n ".intro"); next }
	inblock && /^```[[:space:]]*$/ { inblock = 0; para = ""; next }
	inblock { print > (dir "/." n ".block"); next }
	/^#/ { heading = $0; para = ""; next }
	/^[[:space:]]*$/ { if (para != "") last = para; next }
	/^```/ { para = ""; next }
	{ para = (para == "" || last != "" && para == last ? "" : para "\n") $0; last = "" }
' "$doc"

failed=0 blocks=0
for block in $(find "$scratch" -name '.*.block' | sort -t. -k2n); do
	blocks=$((blocks + 1))
	n=${block##*/.}
	n=${n%.block}
	if [ "$mode" = demo ]; then
		printf '\n%s\n\n' "$(cat "$scratch/.$n.intro")"
		(cd "$scratch" && timeout 120 bash -c '
			while IFS= read -r line <&3; do
				printf "%s\n" "$line"
				eval "${line#\$ }"
			done' 3< <(grep '^\$ ' "$block") 2>&1) || true
		continue
	fi
	sed "s/demo/$token/g" "$block" > "$scratch/.$n.script"
	grep -v '^\$ ' "$scratch/.$n.script" | grep -Ev '^\[[0-9]+\]' > "$scratch/.$n.expected"
	(cd "$scratch" && timeout 60 bash -c '
		while IFS= read -r line <&3; do eval "${line#\$ }"; done' \
		3< <(grep '^\$ ' "$scratch/.$n.script") < /dev/null 2>&1) |
		grep -Ev '^\[[0-9]+\]' > "$scratch/.$n.actual"
	if ! diff -u "$scratch/.$n.expected" "$scratch/.$n.actual" > "$scratch/.$n.diff"; then
		failed=$((failed + 1))
		echo "$doc: console block $n ($(sed -n 1p "$scratch/.$n.intro")) differs:"
		sed "s/$token/demo/g" "$scratch/.$n.diff"
	fi
done
if [ "$mode" = check ]; then
	echo "$doc: $blocks console blocks, $failed differ"
	[ "$failed" -eq 0 ] && [ "$blocks" -gt 0 ]
fi
