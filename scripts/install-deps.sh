#!/usr/bin/env bash
# Installs the system packages RenderFarm needs on Debian/Ubuntu, skipping those already present.
#   scripts/install-deps.sh            runtime: Vulkan loader + Mesa lavapipe (CPU Vulkan device)
#   scripts/install-deps.sh --dev      also glslc (shader compiler) and Blender + numpy (Cycles reference)
set -euo pipefail

packages=(libvulkan1 mesa-vulkan-drivers)
if [[ "${1:-}" == "--dev" ]]; then
    packages+=(glslc spirv-tools blender python3-numpy)
fi

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

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
