#!/usr/bin/env bash
# Install what the agent's Compose tests run for real: Docker Engine and the Compose v1 CLI,
# a static busybox (the whole userland of the test images), the registry the tests push those
# images to on loopback (no public registry is reachable), and git (the GitOps executor).
# Debian's packages only; idempotent, quiet, and fast when everything is present. The tests
# start their own dockerd (own data root and socket, no bridge or iptables), so nothing is
# started here.
set -euo pipefail
packages=(docker.io docker-compose busybox-static docker-registry git)
missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "docker packages present"
  exit 0
fi
echo "installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! {
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "${missing[@]}"
} >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
echo "installed ${missing[*]}"
