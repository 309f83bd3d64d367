#!/usr/bin/env bash
# One entry point for a fresh machine: installs what is missing, then runs the demo or the tests.
#   scripts/dev.sh demo [migrator demo options]   set up, then `migrator demo`
#   scripts/dev.sh test [pytest options]          set up (incl. the Kubernetes rig), then the whole suite
#   scripts/dev.sh setup                          set up only
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-}
[ $# -gt 0 ] && shift

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

apt_install() {
  # Debian packages the sandbox runs: the JVM and Maven for Kafka, BIND for RFC 2136, etcd.
  local missing=()
  for pkg in "$@"; do dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    die "missing Debian packages: ${missing[*]}; install them (apt-get install ${missing[*]}) and run again"
  fi
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  say "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

setup() {
  command -v apt-get >/dev/null && apt_install ${MIGRATOR_APT_PACKAGES:-openjdk-17-jre-headless maven bind9 bind9-utils bind9-dnsutils etcd-server prometheus}
  command -v java >/dev/null || die "Java 17 is needed to run the local Kafka sandbox; install openjdk-17-jre-headless"
  command -v mvn >/dev/null || die "Maven is needed to fetch the Kafka jars; install maven"
  local py=${PYTHON:-python3}
  "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "Python 3.11 or newer is needed ($py is older)"
  if [ ! -x .venv/bin/python ]; then
    say "creating .venv"
    "$py" -m venv .venv
  fi
  say "installing kafka-k8s-migrator into .venv"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e '.[test]'
  say "fetching Kafka jars (cached under ~/.cache/kafka-k8s-migrator)"
  .venv/bin/python -m migrator.sandbox.jars
}

kube_rig() {
  # The k8s tests run a real kube-apiserver built from the Go module proxy (cached after the first
  # build, which takes several minutes). Without Go they skip locally and fail in CI.
  if command -v go >/dev/null; then
    say "building the kube-apiserver test rig (cached under ~/.cache/kafka-k8s-migrator)"
    .venv/bin/python -m migrator.sandbox.kube_binaries
  else
    say "Go is not installed: the k8s tests will skip (install Go >= 1.23 to run them)"
  fi
}

case "$what" in
  setup) setup ;;
  demo) setup; exec .venv/bin/migrator demo "$@" ;;
  test) setup; kube_rig; exec .venv/bin/python -m pytest "$@" ;;
  *) die "usage: scripts/dev.sh demo|test|setup [options]" ;;
esac
