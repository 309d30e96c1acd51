#!/usr/bin/env bash
# Build the Pulumi engine tools fate-pulumi's real-engine tier needs, from published Go modules, into a cache
# outside the repo. Idempotent: a tool already built at the right version is kept.
#
#   tools/build-toolchain.sh            # the engine (cli, langhost, provider, yaml): builds what is missing
#   tools/build-toolchain.sh cluster    # the local control plane for tests: etcd, kube-*, kwok; the real node's
#                                       # kubelet, kube-proxy, kubectl, kube-router and pause (tests/node)
#   tools/build-toolchain.sh everything # both (what .ci/run builds)
#   . "${FATE_PULUMI_CACHE:-$HOME/.cache/fate-pulumi}/env.sh"
#
# Tools: the Pulumi CLI (pkg/v3), a Python language host of ours (tools/langhost) with the SDK's
# pulumi-language-python-exec beside it, the Kubernetes provider (tools/k8sprovider) from the published
# pulumi-kubernetes provider module, and the YAML language host (pulumi-yaml) for `runtime: yaml` programs.
# Versions match requirements.txt (pulumi-yaml: pinned below). No binary or foreign source enters the repo.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${FATE_PULUMI_CACHE:-$HOME/.cache/fate-pulumi}"
BIN="$CACHE/bin"
PULUMI_HOME_DIR="$CACHE/pulumi-home"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod

# Versions: the Python SDK pins in requirements.txt decide them (the engine asks for the exact provider version).
PULUMI_VERSION=$(sed -n 's/^pulumi==//p' "$REPO/requirements.txt")
K8S_VERSION=$(sed -n 's/^pulumi-kubernetes==//p' "$REPO/requirements.txt")
# The Go module proxy serves the provider module only by pseudo-version; this is the commit of tag v$K8S_VERSION.
declare -A K8S_PSEUDO=( ["4.25.0"]="v4.0.0-20260115033456-f47bc2d6f199" )
# pulumi-yaml (YAML language host): the newest release the Go module proxy serves
YAML_VERSION=1.25.0
LDFLAGS_PULUMI="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION"

mkdir -p "$BIN" "$PULUMI_HOME_DIR/plugins"
log() { echo "[toolchain $(date +%H:%M:%S)] $*"; }

wrapper() {  # a throw-away module of ours in the cache, local/fate-pulumi-$1; prints its directory
  local dir="$CACHE/build/$1"
  mkdir -p "$dir"
  [ -f "$dir/go.mod" ] || (cd "$dir" && go mod init "local/fate-pulumi-$1" >/dev/null) || return 1
  echo "$dir"
}

build_cli() {
  if [ -x "$BIN/pulumi" ] && "$BIN/pulumi" version 2>/dev/null | grep -qx "v$PULUMI_VERSION"; then
    log "pulumi v$PULUMI_VERSION: cached"; return
  fi
  log "building the Pulumi CLI v$PULUMI_VERSION (github.com/pulumi/pulumi/pkg/v3)"
  local dir; dir=$(wrapper cli)
  ( cd "$dir"
    # pkg/v3's go.mod replaces the clipboard module with a fork (Windows-only change); mirror it
    go mod edit -replace=github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e
    go get "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" >/dev/null
    go build -trimpath -tags osusergo,grpcnotrace -ldflags "$LDFLAGS_PULUMI" -o "$BIN/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi )
  "$BIN/pulumi" version
}

build_langhost() {
  local stamp="$BIN/.langhost-$PULUMI_VERSION-$(sha256sum "$REPO/tools/langhost/main.go" | cut -c1-12)"
  if [ -x "$BIN/pulumi-language-python" ] && [ -f "$stamp" ] && [ -f "$BIN/pulumi-language-python-exec" ]; then
    log "pulumi-language-python: cached"; return
  fi
  log "building the Python language host (tools/langhost, against sdk/v3 and pkg/v3 v$PULUMI_VERSION)"
  local dir; dir=$(wrapper langhost)
  cp "$REPO/tools/langhost/main.go" "$dir/main.go"
  ( cd "$dir"
    # pkg/v3 (the CLI's module) for its Python code generator and schema loader: GeneratePackage and Link
    go get "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" >/dev/null
    go mod tidy >/dev/null
    go build -trimpath -ldflags "$LDFLAGS_PULUMI" -o "$BIN/pulumi-language-python" . )
  # the SDK's launcher script, shipped in the sdk/v3 module (release tarballs copy it the same way)
  local sdk_dir; sdk_dir=$(cd "$CACHE/build/langhost" && go list -m -f '{{.Dir}}' "github.com/pulumi/pulumi/sdk/v3")
  install -m 0755 "$sdk_dir/python/cmd/pulumi-language-python-exec" "$BIN/pulumi-language-python-exec"
  rm -f "$BIN"/.langhost-*; touch "$stamp"
}

build_provider() {
  local plugin_dir="$PULUMI_HOME_DIR/plugins/resource-kubernetes-v$K8S_VERSION"
  if [ -x "$plugin_dir/pulumi-resource-kubernetes" ] && [ -f "$plugin_dir/.built-$K8S_VERSION" ]; then
    log "pulumi-resource-kubernetes $K8S_VERSION: cached"; return
  fi
  local pseudo="${K8S_PSEUDO[$K8S_VERSION]:-}"
  if [ -z "$pseudo" ]; then
    echo "no known provider module version for pulumi-kubernetes $K8S_VERSION" >&2; return 1
  fi
  log "building pulumi-resource-kubernetes $K8S_VERSION (github.com/pulumi/pulumi-kubernetes/provider/v4@$pseudo)"
  local dir; dir=$(wrapper k8sprovider)
  cp "$REPO/tools/k8sprovider/main.go" "$dir/main.go"
  ( cd "$dir"
    # the provider module replaces its sdk with a local directory; use the published sdk of the same release
    go mod edit -replace="github.com/pulumi/pulumi-kubernetes/sdk/v4=github.com/pulumi/pulumi-kubernetes/sdk/v4@v$K8S_VERSION"
    go get "github.com/pulumi/pulumi-kubernetes/provider/v4@$pseudo" >/dev/null
    go mod tidy >/dev/null
    mkdir -p "$plugin_dir"
    go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$K8S_VERSION" \
      -o "$plugin_dir/pulumi-resource-kubernetes" .
    go list -m -f '{{.Dir}}' github.com/pulumi/pulumi-kubernetes/provider/v4 > "$plugin_dir/.module-dir" )
  touch "$plugin_dir/.built-$K8S_VERSION"
}

build_yaml() {
  local stamp="$BIN/.yaml-$YAML_VERSION"
  if [ -x "$BIN/pulumi-language-yaml" ] && [ -f "$stamp" ]; then
    log "pulumi-language-yaml v$YAML_VERSION: cached"; return
  fi
  log "building the YAML language host v$YAML_VERSION (github.com/pulumi/pulumi-yaml)"
  local dir; dir=$(wrapper yaml)
  ( cd "$dir"
    # as released: pulumi-yaml's go.mod has no replace directives and pins pkg/sdk v3.206.0, which it needs
    # (with pkg/v3 v3.259 its schema loader calls do not compile); it still works with CLI v$PULUMI_VERSION (preview, up)
    go get "github.com/pulumi/pulumi-yaml@v$YAML_VERSION" >/dev/null
    go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi-yaml/pkg/version.Version=v$YAML_VERSION" \
      -o "$BIN/pulumi-language-yaml" github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml )
  rm -f "$BIN"/.yaml-*; touch "$stamp"
}

# --- a local Kubernetes control plane for the cluster tier (etcd, kube-apiserver, controller-manager, scheduler, kwok)
KUBE_VERSION=1.36.1      # kwok v0.8.0's default and the k8s.io/* v0.36.1 the provider uses
ETCD_VERSION=3.6.14
KWOK_VERSION=0.8.0

build_etcd() {
  if [ -x "$BIN/etcd" ] && "$BIN/etcd" --version 2>/dev/null | grep -q "etcd Version: $ETCD_VERSION"; then
    log "etcd $ETCD_VERSION: cached"; return
  fi
  log "building etcd $ETCD_VERSION (go.etcd.io/etcd/server/v3)"
  local dir; dir=$(wrapper etcd)
  ( cd "$dir"
    go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >/dev/null
    go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3 )
}

# The control plane and the real node's binaries come from one `go build` of k8s.io/kubernetes: they share most of
# their packages (client-go, apiserver, component-base ...), which are then compiled once.
KUBE_COMMANDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

build_kube() {
  local cached=1 c
  for c in "${KUBE_COMMANDS[@]}"; do [ -x "$BIN/$c" ] || cached=0; done
  if [ "$cached" = 1 ] && [ -f "$BIN/.kube-$KUBE_VERSION" ]; then
    log "kubernetes v$KUBE_VERSION (${KUBE_COMMANDS[*]}): cached"; return
  fi
  log "building ${KUBE_COMMANDS[*]} v$KUBE_VERSION (k8s.io/kubernetes, one go build)"
  local dir minor patch; dir=$(wrapper kube)
  minor=$(echo "$KUBE_VERSION" | cut -d. -f2); patch=${KUBE_VERSION##*.}
  ( cd "$dir"
    local gomod
    gomod=$(go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
    # k8s.io/kubernetes requires its staging modules at v0.0.0 through local replaces; use their published releases
    for m in $(awk '$2=="=>" && $3 ~ /^\.\/staging\/src\// {print $1}' "$gomod"); do
      go mod edit -replace="$m=$m@v0.$minor.$patch"
    done
    local pkgs=() c
    for c in "${KUBE_COMMANDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
    go get "${pkgs[@]/%/@v$KUBE_VERSION}" >/dev/null
    local ldf="-s -w"
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldf="$ldf -X '$p.gitVersion=v$KUBE_VERSION' -X '$p.gitMajor=1' -X '$p.gitMinor=$minor' -X '$p.gitTreeState=clean'"
    done
    go build -trimpath -ldflags "$ldf" -o "$BIN/" "${pkgs[@]}" )
  rm -f "$BIN"/.kube-*; touch "$BIN/.kube-$KUBE_VERSION"
}

# kube-router's firewall enforces NetworkPolicies on the real node (iptables + ipset; its router and service proxy
# stay off). v2.1.0: the Go module proxy refuses newer v2 tags ("403 ... This module version is not available").
KUBE_ROUTER_VERSION=2.1.0

build_kube_router() {
  local stamp="$BIN/.kube-router-$KUBE_ROUTER_VERSION"
  if [ -x "$BIN/kube-router" ] && [ -f "$stamp" ]; then
    log "kube-router v$KUBE_ROUTER_VERSION: cached"; return
  fi
  log "building kube-router v$KUBE_ROUTER_VERSION (github.com/cloudnativelabs/kube-router/v2)"
  local dir; dir=$(wrapper kube-router)
  ( cd "$dir"
    go get "github.com/cloudnativelabs/kube-router/v2@v$KUBE_ROUTER_VERSION" >/dev/null
    go build -trimpath -ldflags "-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=v$KUBE_ROUTER_VERSION" \
      -o "$BIN/kube-router" github.com/cloudnativelabs/kube-router/v2/cmd/kube-router )
  rm -f "$BIN"/.kube-router-*; touch "$stamp"
}

# the pod sandbox's process (containerd's sandbox_image): tools/pause, ours, for the node's pause image
build_pause() {
  local stamp="$BIN/.pause-$(sha256sum "$REPO/tools/pause/main.go" | cut -c1-12)"
  if [ -x "$BIN/pause" ] && [ -f "$stamp" ]; then
    log "pause: cached"; return
  fi
  log "building pause (tools/pause)"
  local dir; dir=$(wrapper pause)
  cp "$REPO/tools/pause/main.go" "$dir/main.go"
  ( cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$BIN/pause" . )
  rm -f "$BIN"/.pause-*; touch "$stamp"
}

build_kwok() {
  if [ -x "$BIN/kwok" ] && [ -f "$CACHE/kwok-module-dir" ] && [ -d "$(cat "$CACHE/kwok-module-dir")" ]; then
    log "kwok v$KWOK_VERSION: cached"; return
  fi
  log "building kwok v$KWOK_VERSION (sigs.k8s.io/kwok)"
  local dir; dir=$(wrapper kwok)
  ( cd "$dir"
    go get "sigs.k8s.io/kwok@v$KWOK_VERSION" >/dev/null
    go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=v$KWOK_VERSION" -o "$BIN/kwok" sigs.k8s.io/kwok/cmd/kwok
    # kwok ships its lifecycle stages (fast node and pod readiness) as data in its module: use them in place
    go list -m -f '{{.Dir}}' sigs.k8s.io/kwok > "$CACHE/kwok-module-dir" )
}

write_env() {
  local plugin_dir="$PULUMI_HOME_DIR/plugins/resource-kubernetes-v$K8S_VERSION"
  cat > "$CACHE/env.sh" <<ENV
# source me: the fate-pulumi engine toolchain (built by tools/build-toolchain.sh)
export PATH="$BIN:\$PATH"
export PULUMI_HOME="$PULUMI_HOME_DIR"
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_SKIP_UPDATE_CHECK=true
export FATE_PULUMI_K8S_SCHEMA="$(cat "$plugin_dir/.module-dir" 2>/dev/null)/cmd/pulumi-resource-kubernetes/schema.json"
ENV
  log "env: . $CACHE/env.sh"
}

start=$(date +%s)
what="${1:-all}"
case "$what" in
  cli) build_cli ;;
  langhost) build_langhost ;;
  provider) build_provider ;;
  yaml) build_yaml ;;
  all) build_cli; build_langhost; build_provider; build_yaml ;;
  cluster) build_etcd; build_kwok; build_kube; build_kube_router; build_pause ;;
  everything) build_cli; build_langhost; build_provider; build_yaml; build_etcd; build_kwok; build_kube; build_kube_router
    build_pause ;;
esac
write_env
log "done in $(( $(date +%s) - start )) s; cache $(du -sh "$CACHE" | cut -f1), Go module cache $(du -sh "$(go env GOMODCACHE)" 2>/dev/null | cut -f1)"
