#!/usr/bin/env bash
# libpodsandbox as a user gets it: install the build into a temporary
# prefix, then compile a client against it with pkg-config, shared and
# static, and run both (no daemon: the call must fail as UNAVAILABLE).
# Also checks that the shared library exports only the psb_* API.
# Usage: pkgconfig_test.sh BUILD_DIR [EXTRA_CFLAGS]
# (EXTRA_CFLAGS: the build's -fsanitize flags, which an instrumented
# library needs in its users too.)
set -eu
build=$1
extra=${2:-}
dir=$(mktemp -d "${PSB_TEST_TMPDIR:-/tmp}/psbtest-pkgconfig-XXXXXX")
trap 'rm -rf "$dir"' EXIT
cmake --install "$build" --prefix "$dir/prefix" >/dev/null
export PKG_CONFIG_PATH=$dir/prefix/lib/pkgconfig
cat >"$dir/use.c" <<'C'
#include <podsandbox.h>
#include <stdio.h>
int
main(void)
{
	psb_client_t        *c;
	psb_client_error_t   e;
	psb_daemon_version_t v;

	if (psb_client_open("ipc:///nonexistent/psb.sock", &c, &e) != 0) {
		return (1);
	}
	psb_client_set_timeout(c, 100);
	if (psb_client_version(c, &v, &e) != -PSB_CODE_UNAVAILABLE) {
		return (2);
	}
	printf("%s\n", psb_code_name(e.code));
	psb_client_close(c);
	return (0);
}
C
pass=0
fail=0
check() { if eval "$2"; then echo "ok - $1"; pass=$((pass + 1)); else echo "FAIL - $1"; fail=$((fail + 1)); fi; }
# shellcheck disable=SC2046
check "a shared client builds with pkg-config" \
	"cc $extra -o '$dir/use' '$dir/use.c' \$(pkg-config --cflags --libs libpodsandbox) -Wl,-rpath,'$dir/prefix/lib'"
check "the shared client runs" "[ \"\$('$dir/use')\" = UNAVAILABLE ]"
check "a static client builds with pkg-config --static" \
	"cc $extra -o '$dir/use-static' '$dir/use.c' \$(pkg-config --cflags libpodsandbox) '$dir/prefix/lib/libpodsandbox.a' \$(pkg-config --static --libs-only-l libpodsandbox | sed 's/-lpodsandbox//')"
check "the static client runs" "[ \"\$('$dir/use-static')\" = UNAVAILABLE ]"
check "libpodsandbox.so exports only psb_*" \
	"[ -z \"\$(nm -D --defined-only '$dir/prefix/lib/libpodsandbox.so' | awk '{print \$3}' | grep -v '^psb_')\" ]"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
