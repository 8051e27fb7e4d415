# shellcheck shell=bash
# 03-mmap-file: writing a file through MAP_SHARED, and a MAP_PRIVATE view.

# bare PROGRAM ARGS...: run one example like run, but never under $RUN:
# valgrind would open its log at the lowest free descriptor (a closed one
# of the case's), and its own log would be held to a file-size limit too.
bare() { timeout -k 2 "$TMO" "$BIN/$1" "${@:2}"; }

# file_limited BLOCKS FILE PROGRAM ARGS...: run an example under ulimit -f
# BLOCKS with its output into FILE; its standard error goes through a pipe
# into $T/err (a file would be limited too). Returns the example's status.
file_limited() {
	local blocks=$1 out=$2
	shift 2
	(ulimit -f "$blocks" && bare "$@" > "$out") 2>&1 | cat > "$T/err"
	return "${PIPESTATUS[0]}"
}

# in_tiny_tmpfs DIR PROGRAM ARGS...: run an example in a private mount
# namespace where DIR is a fresh 64 KiB tmpfs, its standard error into
# $T/err; what it left in DIR is listed in $T/left. Returns its status.
in_tiny_tmpfs() {
	# shellcheck disable=SC2016 # expanded by the inner shell
	timeout -k 2 "$TMO" unshare -m sh -c '
		dir=$1 left=$2 err=$3
		shift 3
		mount -t tmpfs -o size=64k none "$dir" || exit 99
		status=0
		$RUN "$@" 2> "$err" || status=$?
		ls -A "$dir" > "$left"
		exit $status' _ "$1" "$T/left" "$T/err" "$BIN/$2" "${@:3}"
}

test_a_new_file_holds_exactly_the_message() {
	run 03-mmap-file "$T/new" 'Hello, mmap'
	printf 'Hello, mmap' | cmp - "$T/new" || fail "wrong content"
	[ "$(stat -c %a "$T/new")" = 600 ] || fail "new file not 0600"
}

test_without_a_message_it_writes_the_default_one() {
	run 03-mmap-file "$T/new"
	printf 'hello, mapped file\n' | cmp - "$T/new" || fail "wrong content"
}

test_a_longer_file_keeps_its_remaining_bytes() {
	printf 'hello world, and more\n' > "$T/f"
	run 03-mmap-file "$T/f" 'HELLO'
	printf 'HELLO world, and more\n' | cmp - "$T/f" || fail "wrong content"
}

test_a_shorter_file_is_extended_to_fit_the_message() {
	printf 'ab' > "$T/f"
	run 03-mmap-file "$T/f" 'longer message'
	printf 'longer message' | cmp - "$T/f" || fail "wrong content"
}

test_an_empty_message_writes_nothing_and_succeeds() {
	printf 'unchanged\n' > "$T/f"
	cp "$T/f" "$T/orig"
	run 03-mmap-file "$T/f" ''
	same "$T/orig" "$T/f"
}

test_private_mapping_changes_our_view_but_not_the_file() {
	printf 'hello world\n' > "$T/f"
	cp "$T/f" "$T/orig"
	run 03-mmap-file -p "$T/f" 'HOWDY' > "$T/out"
	printf '%s\n' 'our private view: HOWDY' 'the file itself:  hello' | diff -u - "$T/out" >&2 ||
		fail "wrong output"
	same "$T/orig" "$T/f"
}

test_private_mapping_needs_an_existing_file_and_creates_nothing() {
	expect_status 1 run 03-mmap-file -p "$T/missing" 'x' 2> "$T/err"
	stderr_is "$T/err" "03-mmap-file: open $T/missing: $(errtext ENOENT) (-p never creates or extends FILE; give it one at least as long as MESSAGE)"
	[ ! -e "$T/missing" ] || fail "file created"
}

test_private_mapping_refuses_a_file_shorter_than_the_message() {
	printf 'short' > "$T/f"
	expect_status 1 run 03-mmap-file -p "$T/f" 'a longer message' 2> "$T/err"
	stderr_is "$T/err" "03-mmap-file: open $T/f: shorter than MESSAGE (-p never creates or extends FILE; give it one at least as long as MESSAGE)"
	printf 'short' | cmp - "$T/f" || fail "file changed"
}

test_a_directory_fifo_or_device_is_refused_without_blocking() {
	mkdir "$T/dir"
	mkfifo "$T/fifo"
	local path
	for path in "$T/dir" "$T/fifo" /dev/null; do
		expect_status 1 run 03-mmap-file "$path" 'x' 2> "$T/err"
		stderr_is "$T/err" "03-mmap-file: open $path: not a regular file"
		expect_status 1 run 03-mmap-file -p "$path" 'x' 2> "$T/err"
		stderr_is "$T/err" "03-mmap-file: open $path: not a regular file"
	done
	[ -p "$T/fifo" ] && [ -d "$T/dir" ] || fail "something changed"
}

test_wrong_usage_exits_2() {
	local usage='usage: 03-mmap-file [-p] FILE [MESSAGE]'
	expect_status 2 run 03-mmap-file 2> "$T/err"
	stderr_is "$T/err" "$usage"
	expect_status 2 run 03-mmap-file -p 2> "$T/err"
	stderr_is "$T/err" "$usage"
	expect_status 2 run 03-mmap-file -x "$T/f" 2> "$T/err"
	stderr_is "$T/err" "$usage"
	expect_status 2 run 03-mmap-file "$T/f" a b 2> "$T/err"
	stderr_is "$T/err" "$usage"
	[ ! -e "$T/f" ] || fail "file created on a usage error"
}

test_a_file_truncated_under_the_mapping_is_an_error_not_a_crash() {
	# A preloaded mmap that truncates the file right after mapping it
	# makes the race that another process could win deterministic.
	cat > "$T/shrink.c" <<'SHIM'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>
void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *(*real)(void *, size_t, int, int, int, off_t) =
		(void *(*)(void *, size_t, int, int, int, off_t))dlsym(RTLD_NEXT, "mmap");
	void *p = real(addr, len, prot, flags, fd, off);
	if (fd >= 0 && ftruncate(fd, 0) == -1)
		_exit(99);
	return p;
}
SHIM
	# The compiler under test: a glibc shim cannot be preloaded into a
	# musl program, nor the other way round.
	"${CC:-cc}" -shared -fPIC -o "$T/shrink.so" "$T/shrink.c" -ldl
	printf 'hello world\n' > "$T/f"
	expect_status 1 shrunk "$T/f" 'HELLO' 2> "$T/err"
	stderr_is "$T/err" "03-mmap-file: memcpy $T/f: file truncated while mapped (SIGBUS)"
	# Started with standard error closed, the file must not become
	# descriptor 2 and receive the error line.
	printf 'hello world\n' > "$T/f"
	SHRUNK_RUN='' expect_status 1 shrunk "$T/f" 'HELLO' 2>&-
	[ ! -s "$T/f" ] || fail "the file received: $(cat "$T/f")"
}

# shrunk ARGS...: 03-mmap-file with the shim preloaded, into it alone (not
# into timeout, which may be built for another C library), under $RUN
# unless SHRUNK_RUN says otherwise. The sanitizer build wants its runtime
# first; this preload comes first.
shrunk() {
	# shellcheck disable=SC2086 # RUN is a command prefix and must be split
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" timeout -k 2 "$TMO" \
		env LD_PRELOAD="$T/shrink.so" ${SHRUNK_RUN-${RUN:-}} "$BIN/03-mmap-file" "$@"
}

test_started_with_standard_descriptors_closed_it_still_works() {
	bare 03-mmap-file "$T/new" 'Hello' <&- >&- 2>&-
	printf 'Hello' | cmp - "$T/new" || fail "wrong content"
	expect_status 1 bare 03-mmap-file -p "$T/new" 'HOWDY' <&- >&- 2> "$T/err"
	stderr_is "$T/err" "03-mmap-file: write standard output: $(errtext EBADF)"
}

test_a_full_file_system_is_an_error_line_and_a_new_file_is_removed() {
	needs mount-namespace
	local big
	big=$(printf '%0100000d' 0) # more than the 64 KiB file system holds
	mkdir "$T/small"
	expect_status 1 in_tiny_tmpfs "$T/small" 03-mmap-file "$T/small/new" "$big"
	stderr_is "$T/err" "03-mmap-file: posix_fallocate $T/small/new: $(errtext ENOSPC)"
	[ ! -s "$T/left" ] || fail "left behind: $(cat "$T/left")"
}

test_a_sparse_file_on_a_full_file_system_is_refused_and_kept() {
	needs mount-namespace
	local big
	big=$(printf '%0100000d' 0)
	mkdir "$T/small"
	# A hole has no blocks: storing into it through the mapping would
	# need them. The file is the user's, so it stays.
	# shellcheck disable=SC2016 # expanded by the inner shell
	expect_status 1 timeout -k 2 "$TMO" unshare -m sh -c '
		mount -t tmpfs -o size=64k none "$1" || exit 99
		truncate -s 100000 "$1/sparse"
		status=0
		$RUN "$2" "$1/sparse" "$3" 2> "$4" || status=$?
		stat -c %s "$1/sparse" > "$5"
		exit $status' _ "$T/small" "$BIN/03-mmap-file" "$big" "$T/err" "$T/left"
	stderr_is "$T/err" "03-mmap-file: posix_fallocate $T/small/sparse: $(errtext ENOSPC)"
	[ "$(cat "$T/left")" = 100000 ] || fail "the user's file is gone or changed size"
}

test_a_file_size_limit_is_reported_and_a_new_file_is_removed() {
	expect_status 1 file_limited 0 /dev/null 03-mmap-file "$T/new" 'Hello'
	stderr_is "$T/err" "03-mmap-file: ftruncate $T/new: $(errtext EFBIG)"
	[ ! -e "$T/new" ] || fail "new file left behind"
	printf 'hello world\n' > "$T/f"
	expect_status 1 file_limited 0 "$T/out" 03-mmap-file -p "$T/f" 'HOWDY'
	stderr_is "$T/err" "03-mmap-file: write standard output: $(errtext EFBIG)"
}

test_a_dangling_symlink_is_refused_and_nothing_is_created_through_it() {
	ln -s "$T/target" "$T/link"
	expect_status 1 run 03-mmap-file "$T/link" 'x' 2> "$T/err"
	stderr_is "$T/err" "03-mmap-file: open $T/link: $(errtext EEXIST)"
	[ ! -e "$T/target" ] || fail "created through the symlink"
}

test_a_newline_in_a_path_is_shown_escaped_on_one_line() {
	expect_status 1 run 03-mmap-file "$T/no
such/f" 'x' 2> "$T/err"
	stderr_is "$T/err" "03-mmap-file: open $T/no\\012such/f: $(errtext ENOENT)"
}
