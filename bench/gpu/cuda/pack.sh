#!/bin/bash
# Packs what measuring Maskflow with onnxruntime-node's CUDA execution provider needs on a lent GPU
# machine that has PyTorch (so CUDA 13's runtime libraries) but no Node and no network, into .gpu/
# (git-ignored), in pieces that fit the device tool's 64 MiB per call. Run from the repository root
# on a machine with npm registry access; then follow bench/gpu/README.md ("CUDA, step by step").
set -euo pipefail
mkdir -p .gpu
rm -f .gpu/cuda.tar.xz.part-*

# 1. Node and onnxruntime-node's JavaScript and CPU binaries (the machine has neither).
xz -T0 -6 -c "$(readlink -f "$(command -v node)")" > .gpu/node.xz
tar -cJf .gpu/nm.tar.xz --exclude='node_modules/onnxruntime-node/bin/napi-v6/darwin' \
  --exclude='node_modules/onnxruntime-node/bin/napi-v6/win32' --exclude='node_modules/onnxruntime-node/bin/napi-v6/linux/arm64' \
  node_modules/onnxruntime-node node_modules/onnxruntime-common

# 2. The device bench as one file (its ONNX worker is found in the working tree).
npx esbuild bench/device.ts --bundle --platform=node --format=esm --target=node20 --log-level=warning \
  --external:onnxruntime-node --outfile=.gpu/device.mjs \
  --banner:js="import{createRequire as __cr}from'module';const require=__cr(import.meta.url);"

# 3. The CUDA provider for onnxruntime 1.29.0 (CUDA 13 build), from the npm package that carries it.
tmp=$(mktemp -d)
(cd "$tmp" && npm pack --silent com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 > /dev/null && tar -xzf ./*.tgz)
tar -C "$tmp/package/Plugins/Linux/x64" -cf - libonnxruntime_providers_cuda.so libonnxruntime_providers_shared.so |
  xz -T0 -9 > "$tmp/cuda.tar.xz"
split -b 56M -d "$tmp/cuda.tar.xz" .gpu/cuda.tar.xz.part-
rm -rf "$tmp"
ls -l .gpu
