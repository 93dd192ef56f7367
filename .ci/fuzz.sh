#!/usr/bin/env bash
# Fuzzes the HTTP API with schemathesis against its own OpenAPI document, once as every principal:
# anonymous, a cluster agent, a tenant member key, a tenant admin key and the operator. Every
# answer must not be a 5xx, must carry a documented status and must match its documented schema.
#
#   bash .ci/fuzz.sh               start the built server (`npm run build` first) on a free port
#                                  with an in-memory database and the demo city, fuzz it, stop it
#   bash .ci/fuzz.sh URL           fuzz a server that is already running at URL (e.g.
#                                  http://127.0.0.1:8080); FUZZ_ADMIN_TOKEN must hold its
#                                  operator token. It creates a tenant, a key and a cluster there.
#
# Environment: FUZZ_MAX_EXAMPLES (test cases per operation and phase, default 10), FUZZ_SEED
# (default 20261206: the same seed generates the same cases), FUZZ_PRINCIPALS (a subset of
# "anonymous agent member tenant-admin operator", in that order), FUZZ_REPORT_DIR (where each
# principal's full output goes; default a temp dir). Schemathesis is installed once into
# ~/.cache/tokenpool-schemathesis/VERSION (a Python venv).
#
# A failure prints the cases that failed with a curl line to reproduce each; `FUZZ_PRINCIPALS=operator
# bash .ci/fuzz.sh` re-runs one principal with the same seed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

SCHEMATHESIS_VERSION=4.32.5
ST_VENV=${XDG_CACHE_HOME:-$HOME/.cache}/tokenpool-schemathesis/$SCHEMATHESIS_VERSION
MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES:-10}
SEED=${FUZZ_SEED:-20261206}
PRINCIPALS=${FUZZ_PRINCIPALS:-anonymous agent member tenant-admin operator}
CHECKS=not_a_server_error,status_code_conformance,response_schema_conformance

SERVER_PID=''
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tokenpool-fuzz.XXXXXX")
REPORT_DIR=${FUZZ_REPORT_DIR:-$WORK}

log() { printf '[fuzz %4ss] %s\n' "$SECONDS" "$*"; }
die() { log "FATAL: $*" >&2; exit 1; }

# shellcheck disable=SC2317  # the EXIT trap
on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $SERVER_PID ]]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A venv of its own, so the pinned version never meets whatever else pip installed on the machine.
ensure_schemathesis() {
  [[ -x $ST_VENV/bin/st ]] && "$ST_VENV/bin/st" --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION" && return 0
  local t=$SECONDS
  log "installing schemathesis $SCHEMATHESIS_VERSION into $ST_VENV"
  rm -rf "$ST_VENV"
  if ! python3 -m venv "$ST_VENV" >/dev/null 2>&1; then
    # Debian's python3 keeps venv (ensurepip) in a package of its own.
    [[ $(id -u) -eq 0 ]] || die 'python3 -m venv failed (install python3-venv)'
    rm -rf "$ST_VENV"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv >/dev/null 2>&1 ||
      { apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv >/dev/null 2>&1; } ||
      die 'cannot install python3-venv'
    python3 -m venv "$ST_VENV" || die 'python3 -m venv failed'
  fi
  "$ST_VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" ||
    { rm -rf "$ST_VENV"; die "pip install schemathesis==$SCHEMATHESIS_VERSION failed"; }
  log "schemathesis installed in $((SECONDS - t))s"
}

# The demo city gives the fuzzer clusters, tenants, plans and usage to read; PORT=0 takes a free
# port, which the server prints in its `listening on` line. Request rates are off (0): whether a
# run meets a 429 would depend on how fast the machine is, not on the input (request-rates.test.ts
# tests the limits).
start_server() {
  [[ -f dist/bin/tokenpool.js ]] || die 'dist/bin/tokenpool.js missing: run `npm run build` first'
  FUZZ_ADMIN_TOKEN=fuzz-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  DATABASE_URL=pglite://memory TOKENPOOL_DEMO=1 TOKENPOOL_ADMIN_TOKEN=$FUZZ_ADMIN_TOKEN HOST=127.0.0.1 PORT=0 \
    TOKENPOOL_TENANT_RPM=0 TOKENPOOL_KEY_RPM=0 TOKENPOOL_AGENT_RPM=0 node dist/bin/tokenpool.js >"$REPORT_DIR/server.log" 2>&1 &
  SERVER_PID=$!
  local i
  for ((i = 0; i < 240; i++)); do
    BASE_URL=$(grep -Eo 'listening on http://[^ ]+' "$REPORT_DIR/server.log" | head -n 1 | cut -d' ' -f3 || true)
    [[ -n $BASE_URL ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$REPORT_DIR/server.log" >&2; die 'the server exited'; }
    sleep 0.5
  done
  [[ -n $BASE_URL ]] || { cat "$REPORT_DIR/server.log" >&2; die 'the server did not start in 120s'; }
  log "server $(node --version) at $BASE_URL (pid $SERVER_PID)"
}

# POST path json → the answer's body; fails unless it is 201.
api_post() {
  local out code
  out=$WORK/post.json
  code=$(curl -sS -o "$out" -w '%{http_code}' -X POST -H "Authorization: Bearer $FUZZ_ADMIN_TOKEN" \
    -H 'Content-Type: application/json' --data "$2" "$BASE_URL$1") || die "POST $1 failed"
  [[ $code == 201 ]] || die "POST $1 answered $code: $(cat "$out")"
  cat "$out"
}

# field NAME < json
field() { "$ST_VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# The credentials the fuzzer uses, made through the API so that any server will do. Each run makes
# its own, so a run that revokes or rotates one of them spoils no later run.
make_principals() {
  local suffix tenant cluster
  suffix=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
  tenant=$(api_post /api/v1/tenants "{\"name\":\"Fuzz tenant $suffix\",\"kind\":\"enterprise\"}")
  TENANT_ID=$(field id <<<"$tenant")
  TENANT_ADMIN_KEY=$(field apiKey <<<"$tenant")
  MEMBER_KEY=$(api_post "/api/v1/tenants/$TENANT_ID/api-keys" '{"role":"member"}' | field key)
  cluster=$(api_post /api/v1/clusters "{\"name\":\"fuzz-$suffix\",\"region\":\"fuzz\"}")
  CLUSTER_ID=$(field id <<<"$cluster")
  AGENT_TOKEN=$(field agentToken <<<"$cluster")
  log "principals: tenant $TENANT_ID (an admin key and a member key), cluster fuzz-$suffix (an agent token)"
}

token_of() {
  case $1 in
    anonymous) echo '' ;;
    agent) echo "$AGENT_TOKEN" ;;
    member) echo "$MEMBER_KEY" ;;
    tenant-admin) echo "$TENANT_ADMIN_KEY" ;;
    operator) echo "$FUZZ_ADMIN_TOKEN" ;;
    *) die "unknown principal $1" ;;
  esac
}

# Per principal: which operations it skips, and the ids it fuzzes with. Exclusions, each for a
# reason that is not a finding:
# - tenant-admin skips DELETE /api/v1/api-keys/{id}: through the links schemathesis infers from
#   GET …/api-keys it would revoke its own key and spend the rest of its run on 401s. The operator
#   (fuzzed last) covers that operation, and revocation.test.ts tests it.
# tenant-admin and operator fuzz /api/v1/tenants/{id}/… with the fuzz tenant's id, and the operator
# /api/v1/clusters/{id}/… with the fuzz cluster's (random ids only reach the 404); the others keep
# random ids.
write_config() {
  local who=$1 file=$WORK/$1.toml
  : >"$file"
  if [[ $who == tenant-admin || $who == operator ]]; then
    cat >>"$file" <<EOF
[[operations]]
include-path-regex = '^/api/v1/tenants/\{id\}'
parameters = { "path.id" = "$TENANT_ID" }
EOF
  fi
  if [[ $who == operator ]]; then
    cat >>"$file" <<EOF
[[operations]]
include-path-regex = '^/api/v1/clusters/\{id\}'
parameters = { "path.id" = "$CLUSTER_ID" }
EOF
  fi
  echo "$file"
}

excludes_of() {
  case $1 in
    tenant-admin) printf '%s\n' --exclude-name 'DELETE /api/v1/api-keys/{id}' ;;
  esac
}

fuzz_as() {
  local who=$1 token out status=0 t=$SECONDS
  token=$(token_of "$who")
  out=$REPORT_DIR/schemathesis-$who.txt
  local auth=() excludes=() config
  [[ -z $token ]] || auth=(-H "Authorization: Bearer $token")
  mapfile -t excludes < <(excludes_of "$who")
  config=$(write_config "$who")
  # From the temp dir: schemathesis keeps a .schemathesis/ cache in its working directory.
  (cd "$WORK" && NO_COLOR=1 "$ST_VENV/bin/st" --config-file "$config" run "$BASE_URL/api/v1/openapi.json" \
    "${auth[@]}" "${excludes[@]}" --checks "$CHECKS" --max-examples "$MAX_EXAMPLES" --seed "$SEED" \
    --workers 1 --request-timeout 30 --no-color) >"$out" 2>&1 || status=$?
  local summary
  summary=$(grep -E '^(=+ .* in [0-9.]+s =+|Test cases:|  [0-9]+ generated)' "$out" | tr -s ' =' ' ' | paste -sd' ' || true)
  if ((status == 0)); then
    log "as $who: passed in $((SECONDS - t))s ($summary)"
  else
    log "as $who: FAILED (exit $status) in $((SECONDS - t))s; schemathesis said:"
    sed -n '/^=* FAILURES =*$/,$p' "$out" | grep -v '^ *$' | head -n 300
    [[ -s $out ]] && ! grep -q FAILURES "$out" && tail -n 60 "$out"
  fi
  return "$status"
}

main() {
  ensure_schemathesis
  if [[ -n ${1:-} ]]; then
    BASE_URL=${1%/}
    [[ -n ${FUZZ_ADMIN_TOKEN:-} ]] || die 'FUZZ_ADMIN_TOKEN must hold the operator token of the server at '"$BASE_URL"
  else
    start_server
  fi
  make_principals
  log "schemathesis $SCHEMATHESIS_VERSION, checks $CHECKS, $MAX_EXAMPLES examples, seed $SEED"
  local who failed=()
  for who in $PRINCIPALS; do
    fuzz_as "$who" || failed+=("$who")
  done
  if [[ -n $SERVER_PID ]] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
    die 'the server died during the run'
  fi
  if ((${#failed[@]})); then
    log "FAILED as: ${failed[*]} (full output in ${FUZZ_REPORT_DIR:-the temp dir, removed; set FUZZ_REPORT_DIR to keep it})"
    return 1
  fi
  log 'every principal passed'
}

main "$@"
