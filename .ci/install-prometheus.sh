#!/usr/bin/env bash
# Install Prometheus (Debian's package: the server and promtool) for the tests that check the
# alert rules with promtool and scrape the tiers with a real Prometheus. The package's own
# service is not used: the tests start their own server on loopback.
set -euo pipefail
here="$(dirname "$0")"
if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
  echo "present: prometheus"
  exit 0
fi
bash "$here/apt-install.sh" prometheus
# A package install may start the packaged service on :9090; the tests want the port free.
if command -v systemctl >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
  else systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
fi
