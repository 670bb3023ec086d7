#!/usr/bin/env bash
# After training: export the best weights into models/default and bring everything that depends
# on them up to date (parity fixtures, the example LoRA and its fixtures, the model card).
#   bash models/train/finalize.sh [checkpoint]      (default: models/train/runs/default/best.pt)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
ckpt=${1:-models/train/runs/default/best.pt}

$PY models/train/export.py --checkpoint "$ckpt" --graph full
node scripts/build.mjs --engine-only
$PY models/reference/make_fixtures.py                 # sampler parity (test/fixtures/dllm)
$PY models/reference/make_edit_fixtures.py            # ReMDM and Score (test/fixtures/edit)
$PY models/train/train_lora.py                        # models/loras/romance, trained on the new base
$PY models/train/lora_merge_reference.py fixtures     # LoRA merge parity (test/fixtures/lora)
$PY models/train/card.py                              # models/default/README.md
