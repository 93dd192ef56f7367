#!/usr/bin/env bash
# Finds kube-apiserver, kube-controller-manager and etcd for the agent's tests, or builds them.
# Prints the directory holding them on its last line of stdout; progress goes to stderr.
#
#   1. $KUBEBUILDER_ASSETS (the controller-runtime envtest convention), or TEST_ASSET_KUBE_APISERVER,
#      TEST_ASSET_ETCD and TEST_ASSET_KUBE_CONTROLLER_MANAGER naming each binary;
#   2. the cache, ${TOKENPOOL_K8S_CACHE:-$HOME/.cache/tokenpool-k8s}/<version>/bin;
#   3. with --build (or TOKENPOOL_K8S_BUILD=1): builds them into the cache from Go modules —
#      kube-apiserver and kube-controller-manager from k8s.io/kubernetes with a replace directive
#      per staging module (a dependent module ignores the ./staging replaces of k8s.io/kubernetes),
#      etcd from go.etcd.io/etcd/server/v3 (the same way). A first build takes 20–40 minutes on two cores.
# Exit status 2, with the reason on stderr, when they cannot be had.
set -euo pipefail

K8S_VERSION=${TOKENPOOL_K8S_VERSION:-v1.34.4}
ETCD_VERSION=${TOKENPOOL_ETCD_VERSION:-v3.5.21}
CACHE=${TOKENPOOL_K8S_CACHE:-$HOME/.cache/tokenpool-k8s}/$K8S_VERSION
BIN=$CACHE/bin
BUILD=${TOKENPOOL_K8S_BUILD:-0}
[[ ${1:-} == --build ]] && BUILD=1

say() { printf 'k8s assets: %s\n' "$*" >&2; }
complete() { [[ -x $1/kube-apiserver && -x $1/etcd && -x $1/kube-controller-manager ]]; }

if [[ -n ${KUBEBUILDER_ASSETS:-} ]] && complete "$KUBEBUILDER_ASSETS"; then
  echo "$KUBEBUILDER_ASSETS"; exit 0
fi
# envtest's own bundles have kube-apiserver and etcd but no kube-controller-manager: take each
# binary from TEST_ASSET_* or KUBEBUILDER_ASSETS, kube-controller-manager from the cache if missing
# (startControlPlane says so when it needs one and there is none).
api=${TEST_ASSET_KUBE_APISERVER:-${KUBEBUILDER_ASSETS:+$KUBEBUILDER_ASSETS/kube-apiserver}}
etcd=${TEST_ASSET_ETCD:-${KUBEBUILDER_ASSETS:+$KUBEBUILDER_ASSETS/etcd}}
kcm=${TEST_ASSET_KUBE_CONTROLLER_MANAGER:-${KUBEBUILDER_ASSETS:+$KUBEBUILDER_ASSETS/kube-controller-manager}}
if [[ -n $api && -x $api && -n $etcd && -x $etcd ]]; then
  [[ -n $kcm && -x $kcm ]] || kcm=$BIN/kube-controller-manager
  dir=${TOKENPOOL_K8S_CACHE:-$HOME/.cache/tokenpool-k8s}/envtest-links/$(printf '%s\n' "$api" "$etcd" "$kcm" | cksum | cut -d' ' -f1)
  mkdir -p "$dir"
  ln -sfn "$(readlink -f "$api")" "$dir/kube-apiserver"
  ln -sfn "$(readlink -f "$etcd")" "$dir/etcd"
  if [[ -x $kcm ]]; then ln -sfn "$(readlink -f "$kcm")" "$dir/kube-controller-manager"
  else say "warning: no kube-controller-manager next to the envtest assets nor in $BIN"; fi
  echo "$dir"; exit 0
fi
if complete "$BIN"; then echo "$BIN"; exit 0; fi
if [[ $BUILD != 1 ]]; then
  say "no kube-apiserver, kube-controller-manager and etcd in KUBEBUILDER_ASSETS or $BIN; build them once with 'bash test/k8s/assets.sh --build' or 'npm run test:k8s' (20–40 minutes)"
  exit 2
fi
command -v go >/dev/null || { say 'cannot build them: no Go toolchain on PATH'; exit 2; }

# Lowest CPU and I/O priority: the first build takes tens of minutes of both cores.
NICE=(nice -n 19)
if command -v ionice >/dev/null && ionice -c3 true 2>/dev/null; then NICE+=(ionice -c3); fi
export GOFLAGS=-mod=mod GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0
mkdir -p "$BIN" "$CACHE/src"
SRC=$CACHE/src
minor=${K8S_VERSION#v1.}
STAGING=v0.$minor

if [[ ! -x $BIN/kube-apiserver || ! -x $BIN/kube-controller-manager ]]; then
  say "building kube-apiserver and kube-controller-manager $K8S_VERSION in $SRC"
  mkdir -p "$SRC/k8s/cmd/kube-apiserver" "$SRC/k8s/cmd/kube-controller-manager"
  cd "$SRC/k8s"
  # The staging modules k8s.io/kubernetes points at ./staging, taken at their published versions.
  modfile=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod
  [[ -f $modfile ]] || "${NICE[@]}" go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >/dev/null
  {
    echo 'module tokenpool.test/k8s'
    echo
    echo 'go 1.24'
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo 'replace ('
    sed -n '/^replace (/,/^)/p' "$modfile" | grep -o 'k8s.io/[a-z0-9-]* =>' | sed 's/ =>//' |
      while read -r m; do echo "	$m => $m $STAGING"; done
    echo ')'
  } >go.mod
  cat >cmd/kube-apiserver/main.go <<'GO'
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
GO
  cat >cmd/kube-controller-manager/main.go <<'GO'
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}
GO
  "${NICE[@]}" go mod tidy >&2
  # Without these, --version and GET /version say v0.0.0-master.
  v=${K8S_VERSION#v}
  ldflags='-s -w'
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=${v%%.*} -X $pkg.gitMinor=$(cut -d. -f2 <<<"$v")"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  done
  # One go build for both shares the compilation of their common packages.
  "${NICE[@]}" go build -trimpath -ldflags="$ldflags" -o "$BIN/" ./cmd/kube-apiserver ./cmd/kube-controller-manager >&2
fi

if [[ ! -x $BIN/etcd ]]; then
  # Like kube-apiserver: etcd's server module has replace directives, so a small module of our own
  # requires it and calls its main.
  say "building etcd $ETCD_VERSION in $SRC/etcd"
  mkdir -p "$SRC/etcd"
  cd "$SRC/etcd"
  printf 'module tokenpool.test/etcd\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" >go.mod
  cat >main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
GO
  "${NICE[@]}" go mod tidy >&2
  "${NICE[@]}" go build -trimpath -ldflags='-s -w' -o "$BIN/etcd" . >&2 || { say 'could not build etcd'; exit 2; }
fi
complete "$BIN" || { say "the build left $BIN incomplete"; exit 2; }
say "ready in $BIN"
echo "$BIN"
