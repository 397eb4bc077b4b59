"""Images/s of training configs' steps on this machine, and of the encoder that makes a decoder's
latent pairs: the speeds a CPU budget is planned with (the photo model's stages and its peer).

Each config runs --steps steps in a temporary folder (its latent pairs: the first --pairs images);
growth stages start from the previous config's result in the same call, so give the stages in order.
The speed is the median images/s of the log rows after the first (which holds the start-up).

    python benchmarks/stage_speed.py pagoda_inverse/configs/decoder_photo_{16,32,64}.toml \
        pagoda_inverse/configs/srnet_photo.toml --out benchmarks/results/photo_stage_speed.json
"""
import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from pagoda_inverse.config import load_toml


def run(config: Path, tmp: Path, steps: int, pairs: int, previous: Path | None) -> dict:
    raw = load_toml(config)
    if "stage" in raw:
        from pagoda_inverse.train.decoder import load_config, train_decoder as train
    elif "scale" in raw.get("model", {}):
        from pagoda_inverse.train.srnet import load_config, train_srnet as train
    else:
        from pagoda_inverse.train.teacher import load_config, train_teacher as train
    cfg = load_config(config)
    cfg.train.run_dir, cfg.train.total_steps, cfg.train.log_every = str(tmp / config.stem), steps, 5
    cfg.train.checkpoint_minutes, cfg.train.snapshot_every = 1e9, 0
    if hasattr(cfg, "latents"):
        cfg.latents.dir, cfg.latents.limit = str(tmp / "latents"), pairs
        if cfg.stage == "grow":
            cfg.init = str(previous)
    t0 = time.time()
    train(cfg)
    rows = [json.loads(r) for r in (tmp / config.stem / "log.jsonl").read_text().splitlines()]
    return {"images_per_s": statistics.median(r["images_per_s"] for r in rows[1:]), "steps": steps,
            "batch_size": cfg.train.batch_size, "seconds_with_startup": time.time() - t0}


def encoder_speed(config: Path, n: int) -> dict:
    """Images/s of the PF-ODE encoding of a decoder config's latent pairs (its teacher, levels, lowres rule)."""
    from pagoda_inverse.data import DataConfig, load_training_data
    from pagoda_inverse.diffusion import encode
    from pagoda_inverse.teacher import load_teacher
    from pagoda_inverse.train.decoder import load_config

    cfg = load_config(config)
    D = load_teacher(cfg.teacher)
    low = DataConfig(cfg.data.dataset, cfg.data.root, D.net.cfg.resolution, cfg.data.channels, patches=cfg.data.patches)
    x = load_training_data(low, lowres=cfg.latents.lowres, lowres_seed=cfg.latents.lowres_seed)[0][:n]
    t0 = time.time()
    with torch.no_grad():
        for b in range(0, n, cfg.latents.batch):
            encode(D, x[b:b + cfg.latents.batch], None, cfg.latents.levels, clamp=True)
    return {"images_per_s": n / (time.time() - t0), "levels": cfg.latents.levels, "images": n}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("configs", nargs="+", type=Path)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--pairs", type=int, default=512, help="latent pairs encoded for a decoder stage")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    result = {"command": "python " + " ".join(sys.argv), "threads": torch.get_num_threads(), "configs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        previous = None
        for config in args.configs:
            r = run(config, Path(tmp), args.steps, args.pairs, previous)
            previous = Path(tmp) / config.stem / "final.safetensors"
            if "stage" in load_toml(config) and load_toml(config)["stage"] == "base":
                r["encoder"] = encoder_speed(config, args.pairs)
            result["configs"][config.stem] = r
            print(config.stem, json.dumps(r), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
