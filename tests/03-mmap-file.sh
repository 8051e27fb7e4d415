# shellcheck shell=bash
# 03-mmap-file: writing a file through MAP_SHARED, and a MAP_PRIVATE view.

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
	stderr_is "$T/err" "03-mmap-file: open $T/missing: No such file or directory (-p never creates or extends FILE; give it one at least as long as MESSAGE)"
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
	cc -shared -fPIC -o "$T/shrink.so" "$T/shrink.c" -ldl
	printf 'hello world\n' > "$T/f"
	# The sanitizer build wants its runtime first; this preload comes first.
	LD_PRELOAD="$T/shrink.so" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		expect_status 1 run 03-mmap-file "$T/f" 'HELLO' 2> "$T/err"
	stderr_is "$T/err" "03-mmap-file: memcpy $T/f: file truncated while mapped (SIGBUS)"
}
