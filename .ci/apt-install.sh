#!/usr/bin/env bash
# Install the named Debian packages that are missing: idempotent, quiet (apt's output is shown
# only when it fails), and through sudo when not root. Usage: apt-install.sh PACKAGE...
set -euo pipefail
missing=()
for package in "$@"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "present: $*"
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
