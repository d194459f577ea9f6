#!/usr/bin/env bash
# Check that every tracked C source and header follows .clang-format.
# Lists the files that would change and exits non-zero if there are any.
# Fix them with: clang-format -i FILE...
set -euo pipefail

cd "$(git rev-parse --show-toplevel)"
command -v clang-format >/dev/null ||
	{ echo "check-format: clang-format not found" >&2; exit 1; }

mapfile -t files < <(git ls-files -- '*.c' '*.h')
bad=()
for f in "${files[@]}"; do
	[[ -f "$f" ]] || continue
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		bad+=("$f")
	fi
done

if ((${#bad[@]} != 0)); then
	echo "check-format: ${#bad[@]} file(s) not formatted (clang-format -i):" >&2
	printf '  %s\n' "${bad[@]}" >&2
	exit 1
fi
echo "check-format: ${#files[@]} file(s) formatted"
