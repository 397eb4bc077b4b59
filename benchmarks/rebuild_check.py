"""Does a shipped weight file rebuild from main? Compare a fresh run's output with the shipped file.

The shipped decoders are the runs' EMA weights cast to float16 (benchmarks/export_decoder.py), so
the rebuilt float32 weights are cast the same way and compared tensor by tensor. When they are
not bit-identical, both decoders are also judged as generators on the same prior draws (FID
against the test set and class accuracy with the project's classifier), to say whether they
differ by more than run noise.

    python benchmarks/rebuild_check.py runs/decoder_fmnist_16/final.safetensors \
        pagoda_inverse/weights/fmnist_decoder_16.safetensors --out benchmarks/results/rebuild_decoder_16.json
"""
import argparse
import json
import sys
from pathlib import Path

import torch

from decoder_eval import sample_scores  # the FID and class accuracy of decoder_eval's samples
from pagoda_inverse import checkpoint
from pagoda_inverse.diffusion import to_unit_range
from pagoda_inverse.metrics.classifier import shipped_judge
from pagoda_inverse.distill.decoder import load_decoder


def flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


@torch.no_grad()
def generator_scores(path: str, n: int) -> dict:
    G = load_decoder(path).eval()
    m = G.cfg.model
    z = torch.randn(n, m.channels, m.resolution, m.resolution, generator=torch.Generator().manual_seed(0)) * G.cfg.sigma_max
    y = torch.arange(10).repeat_interleave(n // 10)
    x = torch.cat([to_unit_range(G(z[s:s + 500], y[s:s + 500])).clamp(0, 1) for s in range(0, n, 500)])
    return sample_scores(x, y, shipped_judge())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rebuilt", help="the fresh run's final.safetensors (float32)")
    ap.add_argument("shipped", help="the shipped file (float16)")
    ap.add_argument("--n", type=int, default=5000, help="samples per decoder when the weights differ")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    (a, meta_a), (b, meta_b) = checkpoint.load(args.rebuilt), checkpoint.load(args.shipped)
    a = {k: v.half() if v.is_floating_point() else v for k, v in a.items()}
    same = [k for k in b if k in a and torch.equal(a[k], b[k])]
    diff = {k: (a[k].float() - b[k].float()).abs().max().item() for k in b if k in a and k not in same}
    ca, cb = flat(meta_a["training"]["config"]), flat(meta_b["training"]["config"])
    result = {"command": "python " + " ".join(sys.argv), "tensors": len(b), "bit_identical_tensors": len(same),
              "missing_or_extra": sorted(set(a) ^ set(b)), "largest_differences": dict(sorted(diff.items(), key=lambda kv: -kv[1])[:10]),
              "bit_identical": len(same) == len(b) and set(a) == set(b),
              "config_differences": {k: [ca.get(k), cb.get(k)] for k in sorted(set(ca) | set(cb)) if ca.get(k) != cb.get(k)}}
    if not result["bit_identical"]:
        result["generator"] = {"rebuilt": generator_scores(args.rebuilt, args.n), "shipped": generator_scores(args.shipped, args.n)}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
