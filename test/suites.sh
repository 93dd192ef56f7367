#!/usr/bin/env bash
# Runs the test suites, each group in a mocha process of its own (unit, integration, k8s, e2e by
# default; or the groups named), so that the memory one group's platforms and databases held is
# given back before the next starts: in one process the whole run grew past what the machine has.
# Every group runs whatever the others did; the exit status is the first failing group's.
#
#   bash test/suites.sh                 all four groups
#   bash test/suites.sh unit integration
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
groups=("$@")
((${#groups[@]})) || groups=(unit integration k8s e2e)
status=0
for group in "${groups[@]}"; do
  [[ -d test/$group ]] || { echo "test/suites.sh: no test group \"$group\"" >&2; exit 2; }
  node_modules/.bin/mocha "test/$group/**/*.test.ts"
  s=$?
  ((status == 0)) && status=$s
done
exit "$status"
