#!/usr/bin/env bash
# STYLE rule 2: every exported symbol carries its module's prefix. Reads the objects of
# a build folder and lists each global that does not; exits 1 if there is any.
#   layer folders: net_ http_ ws_ eio_ sio_ clu_ yjs_ store_ app_ (and sioc_, the public API)
#   src/base/NAME.c: NAME_ (alloc.c also owns xmalloc's helpers and try_*)
set -uo pipefail
build="${1:-build}"
bad=0
while IFS= read -r obj; do
  rel=${obj#"$build"/obj/src/}; layer=${rel%%/*}; stem=$(basename "$obj" .o)
  case "$layer" in
    base) allowed="^(${stem}_|sioc_)"; [ "$stem" = alloc ] && allowed="^(alloc_|try_)" ;;
    cluster) allowed="^(clu_|sioc_)" ;;
    *) allowed="^(${layer}_|sioc_)" ;;
  esac
  while IFS= read -r sym; do
    [[ "$sym" =~ $allowed ]] && continue
    echo "check-symbols: $rel exports '$sym' without the prefix ${allowed}"
    bad=1
  done < <(nm -g --defined-only "$obj" | awk '$2 ~ /^[TDBRCV]$/ {print $3}')
done < <(find "$build/obj/src" -name '*.o' | sort)
exit $bad
