"""Stage 1: train the EDM teacher at low resolution (PaGoDA, Kim et al., NeurIPS 2024: the low-resolution teacher)."""
import copy
from dataclasses import dataclass, field

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from .. import checkpoint
from ..config import ConfigError, from_dict, load_toml, to_dict
from ..data import DataConfig, load_training_data
from ..diffusion import edm_loss
from ..nets import UNetConfig
from ..teacher import build_teacher, teacher_meta
from ..distributed import setup_distributed
from .loop import Trainer, TrainConfig, batch_indices, ema_update


@dataclass
class TeacherConfig:
    model: UNetConfig = field(default_factory=UNetConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def load_config(path) -> TeacherConfig:
    cfg = from_dict(TeacherConfig, load_toml(path))
    if cfg.data.resolution != cfg.model.resolution or cfg.data.channels != cfg.model.channels:
        raise ConfigError(f"data is {cfg.data.channels}x{cfg.data.resolution}^2 but the model expects "
                          f"{cfg.model.channels}x{cfg.model.resolution}^2")
    return cfg


def train_teacher(cfg: TeacherConfig, resume: bool = False) -> Trainer:
    d = setup_distributed()
    torch.manual_seed(cfg.train.seed)  # identical initial weights on every rank
    x_all, y_all, num_classes = load_training_data(cfg.data)
    if cfg.model.num_classes and num_classes != cfg.model.num_classes:
        raise ConfigError(f"the data has {num_classes} classes but model.num_classes = {cfg.model.num_classes}")
    x_all, y_all = x_all.to(d.device), y_all.to(d.device)

    D = build_teacher(cfg.model).to(d.device).train()
    ema = copy.deepcopy(D).eval().requires_grad_(False)
    opt = torch.optim.Adam(D.parameters(), lr=cfg.train.lr, betas=(0.9, 0.999), eps=1e-8)
    D_ddp = DDP(D) if d.world > 1 else D

    def export(step):
        tensors = checkpoint.prefixed("net", ema.net.state_dict())
        return tensors, teacher_meta(ema, training={"step": step, "kimg": step * cfg.train.batch_size / 1000,
                                                     "config": to_dict(cfg)})

    trainer = Trainer(cfg.train, d, {"net": D, "ema": ema}, {"net": opt}, export, to_dict(cfg))
    if resume:
        trainer.resume()

    def train_step(step):
        idx = batch_indices(len(x_all), cfg.train, d, step).to(d.device)
        x, y = x_all[idx], y_all[idx]
        if cfg.data.mirror:
            flip = torch.rand(x.shape[0], device=d.device) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        if cfg.model.num_classes:
            y = torch.where(torch.rand(y.shape, device=d.device) < cfg.train.label_dropout, -1, y)
        else:
            y = None
        loss = edm_loss(D_ddp, x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        ema_update(ema, D, cfg.train, step)
        return {"loss": loss.item()}

    trainer.run(train_step)
    return trainer
