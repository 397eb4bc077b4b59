"""Train the Fashion-MNIST judge (metrics/classifier.py) that FID, KID and class accuracy use.

`pagoda-inverse train classifier --config pagoda_inverse/configs/classifier_fmnist.toml`

A few epochs of AdamW with a one-cycle learning rate, random crops (zero padding), horizontal
flips, and a third of the images seen at 16x16 or 8x8 (brought back to 32x32 by the judge's resize
rule): the judge scores samples at those resolutions too, and a classifier trained at 32x32 only
gets 34% of the 8x8 test images right. This is a short epoch loop of its own rather than
train/loop.py's Trainer: that loop has warmup-then-constant learning rates and EMA weights, built
for the diffusion models, while a classifier trained in ~15 CPU-minutes wants a decaying rate and
no EMA. Writes the weights (float16 only when that changes no test accuracy) and a
`<name>.metrics.json` beside them.
"""
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from .. import checkpoint
from ..config import from_dict, load_toml, to_dict
from ..data import downsample, fashion_mnist_32
from ..diffusion import to_unit_range
from ..metrics.classifier import CHECKPOINT_KIND, JUDGE_SIZE, FashionMNISTNet, to_judge_size


@dataclass
class ClassifierConfig:
    width: int = 24  # channels of the first conv block (then 2x, 4x)
    feature_dim: int = 128  # the penultimate features FID and KID use
    epochs: int = 8
    lr: float = 3e-3  # peak of the one-cycle schedule
    weight_decay: float = 5e-4
    batch_size: int = 128
    crop_padding: int = 2  # random crops of the zero-padded image, in pixels
    low_resolutions: list[int] = field(default_factory=lambda: [16, 8])  # the resolutions samples are judged at...
    low_res_fraction: float = 0.33  # ...and the fraction of training images seen through one of them
    seed: int = 0
    threads: int = 1  # torch CPU threads (0 = torch's default)
    data_root: str | None = None  # folder of the Fashion-MNIST IDX files (None = the installed dataset)
    out: str = "pagoda_inverse/weights/fmnist_classifier.safetensors"


def load_config(path) -> ClassifierConfig:
    return from_dict(ClassifierConfig, load_toml(path))


def augment(x: torch.Tensor, cfg: ClassifierConfig, gen: torch.Generator) -> torch.Tensor:
    """Random crop of the zero-padded batch (B, 1, H, W) in [0, 1] and random horizontal flip; then
    a `low_res_fraction` of the images goes down to one of `low_resolutions` and back up by the
    judge's resize rule, so that the judge also classifies 8x8 and 16x16 samples."""
    b, _, h, w = x.shape
    p = cfg.crop_padding
    xp = F.pad(x, (p,) * 4)
    oy, ox = (torch.randint(0, 2 * p + 1, (b,), generator=gen) for _ in range(2))
    rows = (oy[:, None] + torch.arange(h))[:, :, None]
    cols = (ox[:, None] + torch.arange(w))[:, None, :]
    x = xp[torch.arange(b)[:, None, None], 0, rows, cols][:, None]
    flip = torch.rand(b, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    low = torch.rand(b, generator=gen) < cfg.low_res_fraction
    which = torch.randint(0, max(len(cfg.low_resolutions), 1), (b,), generator=gen)
    for i, r in enumerate(cfg.low_resolutions):
        sel = low & (which == i)
        if sel.any():
            x[sel] = to_judge_size(downsample(x[sel], r))
    return x


@torch.no_grad()
def accuracy(net: FashionMNISTNet, x: torch.Tensor, y: torch.Tensor, resolution: int = JUDGE_SIZE,
             batch_size: int = 1000) -> float:
    """Test accuracy on images (N, 1, 32, 32) in [0, 1] judged at `resolution` (downsample, then the judge's rule)."""
    net.eval()
    correct = sum((net(to_judge_size(downsample(x[i:i + batch_size], resolution))).argmax(1) == y[i:i + batch_size]).sum().item()
                  for i in range(0, len(x), batch_size))
    return correct / len(x)


def train_classifier(cfg: ClassifierConfig, command: str | None = None, log=print) -> dict:
    """Train, evaluate on the test split, write the weights and their metrics JSON; return the metrics."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    x_train, y_train = fashion_mnist_32("train", cfg.data_root)
    x_test, y_test = fashion_mnist_32("test", cfg.data_root)
    x_train, x_test = to_unit_range(x_train), to_unit_range(x_test)  # the judge's inputs are in [0, 1]

    net = FashionMNISTNet(cfg.width, cfg.feature_dim).to(memory_format=torch.channels_last)  # ~30% faster convolutions on CPU
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = len(x_train) // cfg.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch)
    history, t0 = [], time.time()
    for epoch in range(cfg.epochs):
        net.train()
        perm = torch.randperm(len(x_train), generator=gen)
        loss_sum = 0.0
        for i in range(steps_per_epoch):
            idx = perm[i * cfg.batch_size:(i + 1) * cfg.batch_size]
            x = augment(x_train[idx], cfg, gen).contiguous(memory_format=torch.channels_last)
            loss = F.cross_entropy(net(x), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item()
        row = {"epoch": epoch + 1, "train_loss": loss_sum / steps_per_epoch,
               "test_accuracy": accuracy(net, x_test, y_test), "elapsed_s": round(time.time() - t0, 1)}
        history.append(row)
        log(json.dumps(row))

    resolutions = [JUDGE_SIZE, *cfg.low_resolutions]
    state = net.state_dict()
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    net16 = FashionMNISTNet(cfg.width, cfg.feature_dim)
    net16.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in half.items()})
    acc_fp32 = {r: accuracy(net, x_test, y_test, r) for r in resolutions}
    acc_fp16 = {r: accuracy(net16, x_test, y_test, r) for r in resolutions}
    stored = "float16" if acc_fp16 == acc_fp32 else "float32"
    shipped = acc_fp16 if stored == "float16" else acc_fp32
    metrics = {"test_accuracy": shipped[JUDGE_SIZE], "test_accuracy_by_resolution_fp32": acc_fp32,
               "test_accuracy_by_resolution_fp16": acc_fp16, "stored_dtype": stored,
               "train_seconds": round(time.time() - t0, 1), "threads": torch.get_num_threads(),
               "torch": torch.__version__, "history": history, "config": to_dict(cfg), "command": command}
    out = Path(cfg.out)
    checkpoint.save(out, checkpoint.prefixed("net", half if stored == "float16" else state),
                    {"kind": CHECKPOINT_KIND, "config": to_dict(cfg), "test_accuracy": shipped[JUDGE_SIZE],
                     "test_accuracy_by_resolution": shipped})
    out.with_suffix(".metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    return metrics
