#!/usr/bin/env bash
# Zips the Blender add-on (src/blender/renderfarm_blender) for Edit > Preferences > Add-ons > Install.
#   scripts/package-blender-addon.sh [OUT.zip]     default: artifacts/renderfarm_blender.zip
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/artifacts/renderfarm_blender.zip}"
mkdir -p "$(dirname "$out")"
rm -f "$out"
python3 - "$root/src/blender" "$out" <<'PY'
import os, sys, zipfile
source, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
    for folder, _, files in os.walk(os.path.join(source, "renderfarm_blender")):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                archive.write(path, os.path.relpath(path, source))
PY
echo "$out"
