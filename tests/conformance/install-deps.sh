#!/usr/bin/env bash
# Install what the conformance checks need on a fresh Debian/Ubuntu CI machine (which
# has only Rust, Python 3 and Java 17): Apache ZooKeeper (reference server, zkCli.sh),
# zookeeper-bin (cli_mt), kazoo and its test suite's imports, pytest, nc, the servlet API
# jar the reference's AdminServer (Jetty) needs, g++ (cargo-fuzz builds libFuzzer, which
# is C++); and for the ARM64 step (tests/arm64/run.sh) Debian's aarch64 cross gcc and
# libc, and qemu-user.
# Idempotent: does nothing when everything is already installed.
set -euo pipefail
pkgs=(zookeeper zookeeper-bin python3-kazoo python3-pytest python3-pytest-timeout python3-mock python3-objgraph netcat-openbsd
  libservlet-api-java g++ gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then echo "install-deps: all present"; exit 0; fi
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
