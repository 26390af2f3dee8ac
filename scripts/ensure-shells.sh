#!/usr/bin/env bash
# The completion test parses `rmm completion zsh` with zsh -n and `rmm completion fish` with fish -n
# (test/integration/rmm-cli.test.ts). Installs Debian's zsh and fish when missing (a few MB); does
# nothing when both are there.
set -euo pipefail

missing=()
for shell in zsh fish; do
  command -v "$shell" >/dev/null || missing+=("$shell")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-shells: ${missing[*]} missing; run: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "ensure-shells: installing Debian's ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
