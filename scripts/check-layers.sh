#!/usr/bin/env bash
# Check that every include follows the layers (DESIGN.md §2), bottom up:
#
#   base        uses nothing
#   fsm         -> base
#   api         -> fsm, base
#   persistence -> fsm, base
#   runtime     -> fsm, base
#   transport   -> api, fsm, base
#   core        -> everything above (only core/main.c wires transport in)
#   tools       -> the client library ("podsandbox.h") and base
#                  (tools/fsmdoc.c also reads the fsm table it documents)
#   tests       -> anything
#
# cmake/PsbLayers.cmake makes the build refuse the same includes; this
# names each offending line. Exits 1 if any include goes against the
# arrows.
set -euo pipefail

cd "$(dirname "$0")/.."

allowed() { # FILE -> the folders its includes may name
	case $1 in
	base/*) echo "base" ;;
	fsm/*) echo "fsm base" ;;
	api/*) echo "api fsm base" ;;
	persistence/*) echo "persistence fsm base" ;;
	runtime/*) echo "runtime fsm base" ;;
	transport/*) echo "transport api fsm base" ;;
	core/main.c) echo "core transport runtime persistence api fsm base" ;;
	core/*) echo "core runtime persistence api fsm base" ;;
	tools/fsmdoc.c) echo "fsm base" ;;
	tools/*) echo "base" ;;
	*) echo "*" ;;
	esac
}

folders="base|fsm|api|persistence|runtime|transport|core|tools|tests"
bad=0
while IFS= read -r f; do
	ok=$(allowed "$f")
	[[ "$ok" == "*" ]] && continue
	while IFS=: read -r line inc; do
		dir=${inc%%/*}
		if [[ " $ok " != *" $dir "* ]]; then
			echo "check-layers: $f:$line includes \"$inc\"" \
				"(${f%%/*} may include: $ok)" >&2
			bad=1
		fi
	done < <(grep -noE "^#[[:space:]]*include[[:space:]]+\"($folders)/[^\"]+\"" \
		"$f" | sed -E 's/^([0-9]+):.*"([^"]+)"$/\1:\2/')
done < <(git ls-files -- '*.c' '*.h' '*.def')

if ((bad)); then
	echo "check-layers: includes against the layers (see above)" >&2
	exit 1
fi
echo "check-layers: $(git ls-files -- '*.c' '*.h' '*.def' | wc -l) file(s) follow the layers"
