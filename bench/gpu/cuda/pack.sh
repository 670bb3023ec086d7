#!/bin/bash
# Packs what measuring Maskflow with onnxruntime-node's CUDA execution provider needs on a lent GPU
# machine that has PyTorch (so CUDA 13's runtime libraries) but no Node and no network, into .gpu/
# (git-ignored) as pieces of 33 MiB: a device call carries the working tree (~30 MiB, the default
# model included) plus what it names, 64 MiB in all. Run from the repository root on a machine with
# npm registry access; then follow bench/gpu/README.md ("CUDA, step by step").
set -euo pipefail
rm -rf .gpu && mkdir -p .gpu/bundle
tmp=$(mktemp -d)

# 1. Node and onnxruntime-node's JavaScript and CPU binaries (the machine has neither).
xz -T0 -6 -c "$(readlink -f "$(command -v node)")" > .gpu/bundle/node.xz
tar -cJf .gpu/bundle/nm.tar.xz --exclude='node_modules/onnxruntime-node/bin/napi-v6/darwin' \
  --exclude='node_modules/onnxruntime-node/bin/napi-v6/win32' --exclude='node_modules/onnxruntime-node/bin/napi-v6/linux/arm64' \
  node_modules/onnxruntime-node node_modules/onnxruntime-common

# 2. The device bench as one file (its ONNX worker is found in the working tree).
npx esbuild bench/device.ts --bundle --platform=node --format=esm --target=node20 --log-level=warning \
  --external:onnxruntime-node --outfile=.gpu/bundle/device.mjs \
  --banner:js="import{createRequire as __cr}from'module';const require=__cr(import.meta.url);"

# 3. The CUDA provider for onnxruntime 1.29.0 (CUDA 13 build), from the npm package that carries it.
(cd "$tmp" && npm pack --silent com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 > /dev/null && tar -xzf ./*.tgz)
tar -C "$tmp/package/Plugins/Linux/x64" -cf - libonnxruntime_providers_cuda.so libonnxruntime_providers_shared.so |
  xz -T0 -9 > .gpu/bundle/cuda.tar.xz

# 4. One tar of it all, cut into pieces, one per device call.
tar -C .gpu/bundle -cf - . | split -b 33M -d - .gpu/part-
rm -rf "$tmp" .gpu/bundle
ls -l .gpu
