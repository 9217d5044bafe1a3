#!/usr/bin/env bash
# Installs the Debian 12 packages Citerne builds, runs and tests with.
# apt-get runs only when dpkg says a package is missing, so a second run
# takes a fraction of a second. Uses sudo when not root.
set -euo pipefail

CITERNE_PACKAGES=(
  # build
  build-essential cmake pkg-config
  libuv1-dev librdkafka-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler
  libhiredis-dev libpq-dev node-llhttp libjansson-dev libsodium-dev liboath-dev
  libcurl4-openssl-dev libcairo2-dev libcmocka-dev libqrencode-dev
  # the local run and the test stack
  postgresql redis-server nginx-light kcat python3 python3-yaml curl ca-certificates
  # fuzzers, memory checks
  clang valgrind
  # load generator of the benchmarks (bench/accounts.py)
  wrk
)

missing=()
for p in "${CITERNE_PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

sudo=()
if ((EUID != 0)); then
  if ! command -v sudo >/dev/null; then
    echo "deps: missing packages: ${missing[*]}" >&2
    echo "deps: not root and no sudo: install them as root (apt-get install ${missing[*]})" >&2
    exit 1
  fi
  sudo=(sudo)
fi
log=$(mktemp "${TMPDIR:-/tmp}/citerne-deps.XXXXXX.log")
echo "deps: installing ${missing[*]} (apt-get output in $log)"
apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300)
if ! { "${apt[@]}" update -q && "${apt[@]}" install -y -q --no-install-recommends "${missing[@]}"; } \
    >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "deps: apt-get failed (full output in $log)" >&2
  exit 1
fi
echo "deps: installed"
# Debian starts a system PostgreSQL cluster on 5432 after installing the
# server: Citerne does not use it; its own clusters live under var/ and
# build/test/teststack on other ports.
