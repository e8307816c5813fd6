#!/usr/bin/env bash
# Installs the system packages RenderFarm needs on Debian/Ubuntu, skipping those already present.
#   scripts/install-deps.sh            runtime: Vulkan loader + Mesa lavapipe (CPU Vulkan device)
#   scripts/install-deps.sh --dev      also glslc (shader compiler), Blender + numpy (Cycles reference),
#                                      PostgreSQL 15 and Node.js with the npm packages of tests/services
#                                      (s3rver, hardhat, solc), and Chromium for the web app's browser tests
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dev=false
[[ "${1:-}" == "--dev" ]] && dev=true

packages=(libvulkan1 mesa-vulkan-drivers)
if $dev; then
    packages+=(glslc spirv-tools blender python3-numpy postgresql chromium)
    # Keep a Node.js that is already there (e.g. Node 20 from NodeSource) rather than Debian's.
    command -v node >/dev/null || packages+=(nodejs)
    command -v npm >/dev/null || packages+=(npm)
fi

# The tests start their own servers from tests/services/node_modules (s3rver, hardhat) and compile
# contracts/ with its solc; install them again when package-lock.json changed since the last install.
install_test_services() {
    local services="$root/tests/services"
    if $dev && [[ ! -f "$services/node_modules/.package-lock.json" || "$services/package-lock.json" -nt "$services/node_modules/.package-lock.json" ]]; then
        echo "renderfarm: installing npm packages of tests/services ..." >&2
        npm ci --prefix "$root/tests/services" --no-audit --no-fund --loglevel=error >/dev/null
    fi
}

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
    install_test_services
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    sudo=()
elif command -v sudo >/dev/null; then
    sudo=(sudo)
else
    echo "renderfarm: missing packages: ${missing[*]}; install them as root (apt-get install ${missing[*]})." >&2
    exit 1
fi

echo "renderfarm: installing ${missing[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
# Blender's recommends pull in a desktop; the renderer needs none of them.
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
install_test_services
