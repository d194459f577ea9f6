#!/usr/bin/env bash
# Refuse unsafe C library calls in tracked C files (STYLE.md practice 22,
# after crun's sc_prohibit_sprintf): sprintf, strcpy, strcat, gets, strtok.
# snprintf, vsnprintf, asprintf and friends are fine: the word boundary
# keeps them from matching.
set -euo pipefail

cd "$(git rev-parse --show-toplevel)"
mapfile -t files < <(git ls-files -- '*.c' '*.h')
if ((${#files[@]} == 0)); then
	echo "check-banned: no C files"
	exit 0
fi

pattern='\b(sprintf|strcpy|strcat|gets|strtok)[[:space:]]*\('
if hits=$(grep -nHE "$pattern" -- "${files[@]}" 2>/dev/null); then
	echo "check-banned: banned functions used (use snprintf/xasprintf," \
		"memcpy with a bound, strtok_r):" >&2
	echo "$hits" >&2
	exit 1
fi
echo "check-banned: ${#files[@]} file(s) clean"
