"""The training loop shared by every model: data-parallel (torchrun), EMA, JSONL log, progress
bar, atomic checkpoints with exact resume.

Exact resume: the data order and every random draw of a step are functions of (seed, rank, step)
only, so a run resumed from the checkpoint at step s continues exactly as the uninterrupted run.
The checkpoint also carries the log's rows, so a run resumed from its checkpoint file alone (moved to
another machine, its run folder gone) keeps its whole log.
"""
import json
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist
from torch import nn

from .. import checkpoint
from ..distributed import Dist


@dataclass
class TrainConfig:
    run_dir: str = "runs/run"
    batch_size: int = 128  # global, split over ranks
    lr: float = 1e-3
    warmup_steps: int = 0  # linear learning-rate warmup
    total_steps: int = 10000
    max_minutes: float = 0.0  # stop (with a checkpoint) after this long; 0 = no limit
    ema_halflife_kimg: float = 50.0  # EDM-style EMA: half-life in thousands of images...
    ema_rampup: float = 0.05  # ...capped at this fraction of the images seen so far
    label_dropout: float = 0.1  # probability of replacing a label by the null class
    seed: int = 0
    log_every: int = 50
    checkpoint_minutes: float = 5.0
    checkpoint_every: int = 0  # also checkpoint every N steps (0 = only by time)
    snapshot_every: int = 0  # keep an EMA model snapshot every N steps (0 = none)
    save_all_ranks: bool = False  # every rank writes its final weights (for DDP tests)


def step_seed(seed: int, rank: int, step: int) -> int:
    return (seed * 1_000_003 + step * 7919 + rank * 104_729) % (2 ** 63)


def batch_indices(n: int, cfg: TrainConfig, d: Dist, step: int) -> torch.Tensor:
    """This rank's part of the global batch of `step`: a per-epoch permutation seeded by (seed, epoch)."""
    if cfg.batch_size % d.world:
        raise ValueError(f"batch_size {cfg.batch_size} is not divisible by the {d.world} processes")
    per_epoch = n // cfg.batch_size
    if per_epoch == 0:
        raise ValueError(f"batch_size {cfg.batch_size} is larger than the dataset ({n} images)")
    epoch, i = divmod(step, per_epoch)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed * 10_007 + epoch))
    batch = perm[i * cfg.batch_size:(i + 1) * cfg.batch_size]
    local = cfg.batch_size // d.world
    return batch[d.rank * local:(d.rank + 1) * local]


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, cfg: TrainConfig, step: int) -> None:
    """EDM's EMA: beta = 0.5^(batch / halflife), the half-life ramped up early in training."""
    nimg = (step + 1) * cfg.batch_size
    halflife = min(cfg.ema_halflife_kimg * 1000, nimg * cfg.ema_rampup) if cfg.ema_rampup else cfg.ema_halflife_kimg * 1000
    beta = 0.5 ** (cfg.batch_size / max(halflife, 1e-8))
    for p_ema, p in zip(ema.parameters(), model.parameters()):
        p_ema.lerp_(p.detach(), 1 - beta)
    for b_ema, b in zip(ema.buffers(), model.buffers()):
        b_ema.copy_(b)


class Trainer:
    """Owns the run directory: checkpoint.safetensors (latest state), log.jsonl, snapshots/, and the EMA
    model as final.safetensors when the run is done, latest.safetensors when it stopped before (--max-minutes).

    `modules` and `optimizers` are named; `export` turns the EMA modules into the shipped-model
    (tensors, meta) of this kind, written for snapshots and at the end.
    """

    def __init__(self, cfg: TrainConfig, d: Dist, modules: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                 export: Callable[[int], tuple[dict, dict]], run_meta: dict):
        self.cfg, self.d, self.modules, self.optimizers = cfg, d, modules, optimizers
        self.export, self.run_meta = export, run_meta
        self.dir = Path(cfg.run_dir)
        self.ckpt_path = self.dir / "checkpoint.safetensors"
        self.log_path = self.dir / "log.jsonl"
        self.step = 0
        self._stop = False
        for opt in optimizers.values():
            for g in opt.param_groups:
                g.setdefault("base_lr", g["lr"])

    # -- state ---------------------------------------------------------------------------
    def log_rows(self) -> list[dict]:
        return [json.loads(r) for r in self.log_path.read_text().splitlines() if r] if self.log_path.exists() else []

    def save_checkpoint(self) -> None:
        tensors, meta = {}, {"kind": "training_state", "step": self.step, "run": self.run_meta, "optimizers": {},
                             "log": self.log_rows()}
        for name, m in self.modules.items():
            tensors.update(checkpoint.prefixed(name, m.state_dict()))
        for name, opt in self.optimizers.items():
            t, m = checkpoint.optimizer_to_flat(opt, f"optim.{name}")
            tensors.update(t)
            meta["optimizers"][name] = m
        checkpoint.save(self.ckpt_path, tensors, meta)

    def resume(self) -> None:
        if not self.ckpt_path.exists():
            raise checkpoint.CheckpointError(f"--resume: no checkpoint in {self.dir}; start without --resume")
        tensors, meta = checkpoint.load(self.ckpt_path, self.d.device)
        for name, m in self.modules.items():
            m.load_state_dict(checkpoint.unprefixed(name, tensors))
        for name, opt in self.optimizers.items():
            checkpoint.optimizer_from_flat(opt, f"optim.{name}", tensors, meta["optimizers"][name])
        self.step = meta["step"]
        if self.d.is_main:  # the log up to that checkpoint: the file's rows, else the checkpoint's own
            rows = self.log_rows() if self.log_path.exists() else meta.get("log", [])
            self.dir.mkdir(parents=True, exist_ok=True)
            self.log_path.write_text("".join(json.dumps(r) + "\n" for r in rows if r.get("step", 0) <= self.step))

    def write_model(self, path: Path) -> None:
        tensors, meta = self.export(self.step)
        checkpoint.save(path, tensors, meta)

    # -- loop ----------------------------------------------------------------------------
    def log(self, row: dict) -> None:
        if self.d.is_main:
            with open(self.log_path, "a") as f:
                f.write(json.dumps(row) + "\n")

    def set_lr(self) -> None:
        ramp = min(1.0, (self.step + 1) / self.cfg.warmup_steps) if self.cfg.warmup_steps else 1.0
        for opt in self.optimizers.values():
            for g in opt.param_groups:
                g["lr"] = g["base_lr"] * ramp

    def run(self, train_step: Callable[[int], dict[str, float]]) -> None:
        """Call train_step(step) -> scalars until total_steps, the time limit or SIGTERM/SIGINT."""
        from tqdm.auto import tqdm

        cfg = self.cfg
        if self.d.is_main:
            self.dir.mkdir(parents=True, exist_ok=True)
            (self.dir / "snapshots").mkdir(exist_ok=True)
        handler = lambda *_: setattr(self, "_stop", True)
        old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
        t_start = t_ckpt = t_log = time.time()
        steps_since_log, sums = 0, {}
        bar = tqdm(total=cfg.total_steps, initial=self.step, disable=None if self.d.is_main else True,
                   dynamic_ncols=True, file=sys.stderr)
        try:
            while self.step < cfg.total_steps and not self._stop:
                torch.manual_seed(step_seed(cfg.seed, self.d.rank, self.step))
                self.set_lr()
                scalars = train_step(self.step)
                self.step += 1
                steps_since_log += 1
                for k, v in scalars.items():
                    sums[k] = sums.get(k, 0.0) + v
                bar.update(1)
                now = time.time()
                if self.step % cfg.log_every == 0 or self.step == cfg.total_steps:
                    row = {"step": self.step, "kimg": self.step * cfg.batch_size / 1000,
                           **{k: v / steps_since_log for k, v in sums.items()},  # means since the last row
                           "images_per_s": steps_since_log * cfg.batch_size / max(now - t_log, 1e-9),
                           "lr": next(iter(self.optimizers.values())).param_groups[0]["lr"],
                           "elapsed_s": now - t_start}
                    self.log(row)
                    bar.set_postfix({k: f"{v:.4g}" for k, v in row.items() if k in scalars})
                    sums, steps_since_log, t_log = {}, 0, now
                if self.d.is_main:
                    if cfg.snapshot_every and self.step % cfg.snapshot_every == 0:
                        self.write_model(self.dir / "snapshots" / f"ema-{self.step:07d}.safetensors")
                    if (cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0) or \
                            now - t_ckpt > cfg.checkpoint_minutes * 60:
                        self.save_checkpoint()
                        t_ckpt = now
                if cfg.max_minutes and now - t_start > cfg.max_minutes * 60:
                    self._stop = True
                if self.d.world > 1:  # every rank stops at the same step
                    flag = torch.tensor([float(self._stop)], device=self.d.device)
                    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                    self._stop = bool(flag.item())
        finally:
            bar.close()
            for s, h in old.items():
                signal.signal(s, h)
        if self.d.is_main:
            self.save_checkpoint()
            # the EMA model where the run stopped: final when done, else latest (a time-budgeted run's result)
            self.write_model(self.dir / ("final.safetensors" if self.step >= cfg.total_steps else "latest.safetensors"))
        if cfg.save_all_ranks and self.d.world > 1:
            self.write_model(self.dir / f"final-rank{self.d.rank}.safetensors")
        if dist.is_initialized():
            dist.barrier()
