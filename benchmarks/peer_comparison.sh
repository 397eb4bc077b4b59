#!/usr/bin/env bash
# PaGoDA against the diffusion solvers, end to end: train the 32x32 peer unless it ships, export it, the
# same-budget generation table, tune DDRM, DiffPIR and DPS on the tuning images, write the picked
# rows into the six Fashion-MNIST task specs, run those specs, and the README's headline tables.
# Every step resumes where it stopped (the training from its checkpoint, the tuning and the
# benchmarks from their per-batch records), so after an interruption run it again:
#
#   nohup bash benchmarks/peer_comparison.sh > logs/peer_comparison.log 2>&1 &
#
# The benchmarks time every method: run nothing else beside it, and do not pause it.
# DEVICE=cuda puts the peers' networks on a GPU (the tuning); the published tables time the CPU.
set -euo pipefail
PEER=pagoda_inverse/configs/peer_fmnist_32.toml
RUN=runs/peer_fmnist_32
WEIGHTS=pagoda_inverse/weights/fmnist_peer_32.safetensors
METRICS=pagoda_inverse/weights/fmnist_peer_32.metrics.json
# The tuning at tune_peers.py's sizes (DiffPIR and DDRM on 30 tuning images, DPS on 10: its 999
# network evaluations and as many backward passes per image make it the cost of the comparison on a CPU).

if [ ! -f "$WEIGHTS" ] && [ ! -f "$RUN/final.safetensors" ]; then  # shipped: nothing to train
    pagoda-inverse train teacher --config "$PEER" --resume
fi
if [ ! -f "$METRICS" ]; then  # the export and its measurements (float32 against float16) need the run's final EMA
    python benchmarks/export_teacher.py "$RUN/final.safetensors" --out "$WEIGHTS" \
        --results benchmarks/results/peer_fmnist_32_export.json --metrics "$METRICS" \
        --samples docs/peer_fmnist_32_samples.png --train-command "pagoda-inverse train teacher --config $PEER"
fi
[ -f benchmarks/results/generation_budget.json ] || python benchmarks/generation_budget.py
python benchmarks/tune_peers.py --peers ddrm,diffpir,dps --device "${DEVICE:-cpu}"
python benchmarks/tune_peers.py --pick-only --write-specs
for task in superres_x4 superres_x4_noisy inpaint_box inpaint_random deblur_gaussian deblur_motion; do
    pagoda-inverse benchmark "tasks/$task.toml" --publish
done
python benchmarks/headline.py
