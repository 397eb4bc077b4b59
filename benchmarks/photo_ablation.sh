#!/usr/bin/env bash
# The photo ablation at x2 (docs/photo_model.md, "The second design: the ablation"): the
# first design's 32x32 decoder (shipped until the second replaced it) measured first, then each variant's 16 -> 32 stage trained for the same wall time
# (MINUTES, on this machine with nothing beside it) and measured as the task runs it (the decoder,
# then the last step) on the four held-out photos, into benchmarks/results/photo_ablation/.
#
#   nohup bash benchmarks/photo_ablation.sh > logs/photo_ablation.log 2>&1 &
#   VARIANTS="B BC" bash benchmarks/photo_ablation.sh      # some variants only (each trains afresh)
#
# The first training encodes the latent pairs the variants share (about 19 minutes, not counted).
set -euo pipefail
MINUTES=${MINUTES:-28}
BASE=photo-teacher,pagoda_inverse/weights/photo_decoder_16.safetensors
OUT=benchmarks/results/photo_ablation
measure() {  # NAME MODEL [photo_superres.py options]
    python benchmarks/photo_superres.py --scale 2 --model "$2" --out "$OUT/$1_x2.json" --figure "$OUT/$1_x2.png" "${@:3}"
}
if [ -z "${VARIANTS:-}" ]; then  # the first design's 32x32 decoder, shipped until the second replaced it
    mkdir -p runs && git show 60a19ce:pagoda_inverse/weights/photo_decoder_32.safetensors > runs/first_design_decoder_32.safetensors
    # its file has no [tasks]: the photo model's superres settings
    measure shipped "$BASE,runs/first_design_decoder_32.safetensors" \
        --variant 'cli={"latent": {"steps": 0, "restarts": 0, "back_projection": "bicubic"}}'
fi
for v in ${VARIANTS:-losses0 B BC}; do
    run=runs/photo_ablation_32_$v
    rm -rf "$run"
    pagoda-inverse train decoder --config "benchmarks/configs/photo_ablation_32_$v.toml" --max-minutes "$MINUTES"
    measure "$v" "$BASE,$run/latest.safetensors"
done
python benchmarks/photo_ablation_table.py
