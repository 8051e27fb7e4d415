#!/usr/bin/env bash
# Gate `make check-shell`: shellcheck on every shell file of the project:
# *.sh anywhere, .ci/run, and any file under tests/, .ci/ or bench/ that
# starts with a shell #! line. A finding may be silenced only by a
# `# shellcheck disable=SCnnnn` comment that says why.
. "$(dirname "$0")/gate.sh"
gate_start shell
files=()
while IFS= read -r file; do
	case $file in
	*.sh) files+=("$file") ;;
	*) head -n 1 "$file" | grep -Eq '^#!.*[/ ](ba|da|k)?sh([[:space:]]|$)' && files+=("$file") ;;
	esac
done < <(find . \( -path ./.git -o -path ./build \) -prune -o -type f \
	\( -name '*.sh' -o -path './.ci/*' -o -path './tests/*' -o -path './bench/*' \) -print | sort)
status=0
if need shellcheck; then
	# -x: follow `. tests/lib.sh` and the like, from the project's top.
	shellcheck -x -P SCRIPTDIR -P . "${files[@]}" >> "$LOG" 2>&1 || status=1
else
	status=1
fi
gate_end shell "${#files[@]} shell files with shellcheck" "$status"
