#!/bin/bash
# On the lent GPU machine, once every piece from pack.sh has been copied to /tmp/gpu: onnxruntime-
# node's CUDA EP against the same machine's CPU, on the bundled model and on a random LLaDA-shaped
# one (163M parameters). Figures go to $OUT as bench/device.ts JSON, the log to $OUT/cuda.log.
set -u
exec > >(tee -a "$OUT/cuda.log") 2>&1
nvidia-smi --query-gpu=name,driver_version --format=csv
mkdir -p /tmp/gpu/x && cat /tmp/gpu/part-* | tar -xf - -C /tmp/gpu/x
xz -dc /tmp/gpu/x/node.xz > /tmp/node && chmod +x /tmp/node && /tmp/node --version
tar -xJf /tmp/gpu/x/nm.tar.xz
mkdir -p .gpu && cp /tmp/gpu/x/device.mjs .gpu/
BIN=node_modules/onnxruntime-node/bin/napi-v6/linux/x64
xz -dc /tmp/gpu/x/cuda.tar.xz | tar -xf - -C "$BIN" && ls -l "$BIN"

# CUDA 13 runtime, cuBLAS and cuDNN from the machine's PyTorch wheels (site-packages/nvidia/*/lib).
NV=$(python3 -c 'import os, nvidia; print(os.path.dirname(list(nvidia.__path__)[0]) + "/nvidia")' 2>/dev/null)
export LD_LIBRARY_PATH="$(find "$NV" -maxdepth 3 -type d -name lib | tr '\n' ':')${LD_LIBRARY_PATH:-}"
echo "missing libraries:"; ldd "$BIN/libonnxruntime_providers_cuda.so" | grep "not found" || echo "  none"

# The export runs on the CPU beside the CUDA run; the CPU runs wait for it (they would share cores).
(PYTHONUNBUFFERED=1 timeout 150 python3 bench/gpu/random_model.py /tmp/big > "$OUT/big-export.log" 2>&1; echo "big export rc $?") &
export_pid=$!
timeout 120 /tmp/node .gpu/device.mjs --device cuda --json "$OUT/cuda-default.json" > /dev/null; echo "cuda default rc $?"
wait "$export_pid"; tail -2 "$OUT/big-export.log"
timeout 60 /tmp/node .gpu/device.mjs --device cpu --json "$OUT/cpu-default.json" > /dev/null; echo "cpu default rc $?"
if [ -f /tmp/big/model.onnx ]; then
  timeout 120 /tmp/node .gpu/device.mjs --device cuda --model /tmp/big --quick --json "$OUT/cuda-big.json" > /dev/null; echo "cuda big rc $?"
  timeout 90 /tmp/node .gpu/device.mjs --device cpu --model /tmp/big --quick --json "$OUT/cpu-big.json" > /dev/null; echo "cpu big rc $?"
fi
