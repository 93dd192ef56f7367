#!/usr/bin/env bash
# Measures the working tree against an earlier commit in one sitting, so that both see the same
# machine: checks REV out beside this repository (a git worktree, with its own `npm ci`), then runs
# each named benchmark (`npm run bench -- NAME`) on REV and on this tree in turn, ROUNDS times.
# Prints every JSON line tagged [before] or [after].
#
#   bash bench/compare.sh REV [NAME…]        NAME: schedule (default: schedule ingest close)
#   ROUNDS=4 bash bench/compare.sh 1f10332 close
# The PostgreSQL parts need BENCH_DATABASE_URL or TEST_DATABASE_URL (or run under .ci/run --db-only).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ $# -ge 1 ]] || { echo "usage: bash bench/compare.sh REV [NAME…]" >&2; exit 2; }
rev=$(git rev-parse --verify "$1^{commit}")
shift
benches=("$@")
((${#benches[@]})) || benches=(schedule ingest close)
rounds=${ROUNDS:-2}

base=${TMPDIR:-/tmp}/tokenpool-bench-$rev
if [[ ! -d $base ]]; then
  git worktree add --detach "$base" "$rev" >/dev/null
  (cd "$base" && npm ci --no-audit --no-fund >/dev/null)
fi

for name in "${benches[@]}"; do
  for ((r = 1; r <= rounds; r++)); do
    for tree in "$base" "$PWD"; do
      tag=$([[ $tree == "$base" ]] && echo before || echo after)
      echo "# $name round $r $tag, load $(cut -d' ' -f1 /proc/loadavg)"
      (cd "$tree" && npm run bench --silent -- "$name" 2>&1 | grep '^{' | sed "s/^/[$tag] /")
    done
  done
done
