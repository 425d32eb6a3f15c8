#!/usr/bin/env bash
# Install what the agent's Compose tests run for real: Docker Engine and the Compose v1 CLI,
# a static busybox (the whole userland of the test images), the registry the tests push those
# images to on loopback (no public registry is reachable), and git (the GitOps executor).
# Debian's packages only. The tests start their own dockerd (own data root and socket, no
# bridge or iptables), so nothing is started here.
set -euo pipefail
exec bash "$(dirname "$0")/apt-install.sh" docker.io docker-compose busybox-static docker-registry git
