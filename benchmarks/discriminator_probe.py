r"""Can a fresh discriminator tell real images from a decoder's samples at one resolution?

Trains that stage's class-projection discriminator (width and lr from the stage's config) alone,
against a fixed decoder (the shipped one by default), for --steps steps of batch 64 with the hinge loss, in five
variants: with PaGoDA's DiffAugment (spectral norm, RAdam at the config's lr), without DiffAugment, with Adam
(betas 0, 0.99) and no DiffAugment, without spectral norm or DiffAugment, and the projected
discriminator (heads on the frozen LPIPS AlexNet trunk, DiffAugment on). Reports, over the
last 50 steps, the hinge loss (2.0 = scores carry no information), the mean real and fake scores,
and the accuracy of the sign of each image's mean score.

    python benchmarks/discriminator_probe.py --resolution 8
    python benchmarks/discriminator_probe.py --resolution 32 --model fmnist-teacher,\
runs/decoder_fmnist_8/final.safetensors,runs/decoder_fmnist_16_residual/final.safetensors,\
runs/decoder_fmnist_32_residual/final.safetensors   (the residual chain; no spaces in the list)
"""
import argparse
import json
import sys
from importlib.resources import files
from pathlib import Path

import torch
from torch import nn

from pagoda_inverse.autoencoder import load
from pagoda_inverse.data import DataConfig, load_training_data
from pagoda_inverse.distill import augment
from pagoda_inverse.distill.discriminator import make_discriminator
from pagoda_inverse.distill.loss import hinge_d_loss
from pagoda_inverse.train.decoder import DiscConfig, load_config

VARIANTS = {  # name: (architecture, spectral norm, optimiser, DiffAugment)
    "diffaugment": ("residual", True, "radam", True),
    "no_augment": ("residual", True, "radam", False),
    "adam_beta0": ("residual", True, "adam", False),
    "no_spectral_norm": ("residual", False, "radam", False),
    "projected": ("projected", True, "radam", True),
}


def probe(G: nn.Module, x_all, y_all, disc: DiscConfig, architecture: str, spectral: bool, optimiser: str,
          augmented: bool, steps: int, batch: int = 64):
    torch.manual_seed(0)
    D = make_discriminator(architecture, G.resolution, G.cfg.model.channels, disc.width, G.cfg.model.num_classes,
                           spectral)
    opt = torch.optim.RAdam(D.parameters(), lr=disc.lr) if optimiser == "radam" else \
        torch.optim.Adam(D.parameters(), lr=disc.lr, betas=(0.0, 0.99))
    tail = []
    for step in range(steps):
        i = torch.randint(0, len(x_all), (batch,))
        y_f = torch.randint(0, G.cfg.model.num_classes, (batch,))
        with torch.no_grad():
            r = G.cfg.model.resolution  # the latent's size: the teacher's resolution
            fake = G(torch.randn(batch, G.cfg.model.channels, r, r) * G.cfg.sigma_max, y_f)
        x = torch.cat([x_all[i], fake])
        if augmented:
            x = augment.apply(x, augment.draw(2 * batch, G.resolution))
        s = D(x, torch.cat([y_all[i], y_f]))
        L = hinge_d_loss(s[:batch], s[batch:])
        opt.zero_grad(set_to_none=True)
        L.backward()
        opt.step()
        if step >= steps - 50:  # the last 50 steps
            s = s.reshape(len(s), -1).mean(1)  # one score per image (the projected discriminator scores patches)
            sign_acc = ((s[:batch] > 0).float().mean() + (s[batch:] < 0).float().mean()) / 2
            tail.append((L.item(), s[:batch].mean().item(), s[batch:].mean().item(), sign_acc.item()))
    t = torch.tensor(tail).mean(0).tolist()
    return {"hinge_loss": t[0], "real_score": t[1], "fake_score": t[2], "accuracy": t[3]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--resolution", type=int, default=8, choices=(8, 16, 32))
    ap.add_argument("--model", default="fmnist", help="shipped autoencoder, or TEACHER,DECODER,... files")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--variants", help=f"comma-separated subset of {','.join(VARIANTS)} (default: all)")
    ap.add_argument("--out", help="default: benchmarks/results/discriminator_probe_<resolution>.json")
    args = ap.parse_args()
    torch.set_num_threads(2)
    G = load(args.model).decoder(args.resolution)
    disc = load_config(files("pagoda_inverse") / f"configs/decoder_fmnist_{args.resolution}.toml").disc
    x_all, y_all, _ = load_training_data(DataConfig("fashion_mnist", None, G.resolution, G.cfg.model.channels))
    result = {"command": "python " + " ".join(sys.argv), "resolution": args.resolution, "width": disc.width,
              "steps": args.steps, "batch": 64, "averaged_over": "the last 50 steps", "variants": {}}
    for name, variant in VARIANTS.items():
        if args.variants and name not in args.variants.split(","):
            continue
        result["variants"][name] = r = probe(G, x_all, y_all, disc, *variant, args.steps)
        print(f"{name:18s} hinge loss {r['hinge_loss']:.3f}  real {r['real_score']:+.3f}  fake {r['fake_score']:+.3f}"
              f"  accuracy {r['accuracy']:.3f}", flush=True)
    out = Path(args.out or f"benchmarks/results/discriminator_probe_{args.resolution}.json")
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
