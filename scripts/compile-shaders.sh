#!/usr/bin/env bash
# Compiles every shaders/**/*.comp to a .spv beside it with glslc.
#
#   scripts/compile-shaders.sh           rewrite the .spv files
#   scripts/compile-shaders.sh --check   compile to a temp dir; exit 1 listing every .spv that is
#                                        missing or differs from what its source compiles to
#
# The glslc flags live only here, so committed .spv files and the check always agree.
set -euo pipefail

# No -g: debug info would embed source paths and make the output depend on the checkout location.
GLSLC_FLAGS=(--target-env=vulkan1.2 -O)

usage()
{
    echo "usage: $0 [--check]" >&2
    exit 2
}

check=0
case "${1:-}" in
    "") ;;
    --check) check=1 ;;
    *) usage ;;
esac
[[ $# -le 1 ]] || usage

if ! command -v glslc >/dev/null 2>&1; then
    echo "error: glslc not found. Install it: \`sudo apt-get install glslc\` (Debian/Ubuntu), or the Vulkan SDK / shaderc." >&2
    exit 2
fi

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

# Relative paths keep any path glslc might record independent of where the repository lives.
mapfile -d '' sources < <(find shaders -type f -name '*.comp' -print0 2>/dev/null | sort -z)

if [[ ${#sources[@]} -eq 0 ]]; then
    echo "no shaders/**/*.comp found"
    exit 0
fi

if [[ $check -eq 0 ]]; then
    for src in "${sources[@]}"; do
        out="${src%.comp}.spv"
        glslc "${GLSLC_FLAGS[@]}" -o "$out" "$src"
        echo "compiled $src -> $out"
    done
    exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

stale=()
for src in "${sources[@]}"; do
    spv="${src%.comp}.spv"
    fresh="$tmp/${spv//\//_}"
    if ! glslc "${GLSLC_FLAGS[@]}" -o "$fresh" "$src"; then
        stale+=("$spv (source fails to compile)")
    elif [[ ! -f "$spv" ]]; then
        stale+=("$spv (missing)")
    elif ! cmp -s "$fresh" "$spv"; then
        stale+=("$spv (differs from $src)")
    fi
done

if [[ ${#stale[@]} -ne 0 ]]; then
    echo "error: ${#stale[@]} SPIR-V file(s) out of date; run scripts/compile-shaders.sh and commit the result:" >&2
    printf '  %s\n' "${stale[@]}" >&2
    exit 1
fi

echo "all ${#sources[@]} SPIR-V file(s) up to date"
