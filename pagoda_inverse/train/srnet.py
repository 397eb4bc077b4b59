"""The photo model's peer: train the plain x4 network (nets/srnet.py) on the photo model's patches, its
inputs made as the photo decoder's are (Pillow kernels and mild blur, data lowres "mix"), with
L1 + LPIPS: the network a user would train instead of a PaGoDA model, for the same CPU time."""
import copy
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

from .. import checkpoint
from ..config import ConfigError, from_dict, load_toml, to_dict
from ..data import DataConfig, load_training_data
from ..diffusion import to_unit_range
from ..distributed import setup_distributed
from ..metrics.lpips import lpips_input, lpips_model
from ..nets import SRNet, SRNetConfig
from .loop import Trainer, TrainConfig, batch_indices, ema_update


@dataclass
class SRNetLoss:
    l1_weight: float = 1.0
    lpips_weight: float = 1.0  # 0: L1 alone
    lpips_net: str = "alex"


@dataclass
class SRNetTrainConfig:
    model: SRNetConfig = field(default_factory=SRNetConfig)
    data: DataConfig = field(default_factory=DataConfig)  # the targets; the inputs are resolution / scale
    lowres: str = "mix"  # how the inputs are made from the targets (data.load_training_data)
    lowres_seed: int = 0
    loss: SRNetLoss = field(default_factory=SRNetLoss)
    train: TrainConfig = field(default_factory=TrainConfig)


def load_config(path) -> SRNetTrainConfig:
    cfg = from_dict(SRNetTrainConfig, load_toml(path))
    if cfg.data.resolution % cfg.model.scale or cfg.data.channels != cfg.model.channels:
        raise ConfigError(f"data is {cfg.data.channels}x{cfg.data.resolution}^2: it must have model.channels = "
                          f"{cfg.model.channels} and a resolution divisible by model.scale = {cfg.model.scale}")
    return cfg


def train_srnet(cfg: SRNetTrainConfig, resume: bool = False) -> Trainer:
    d = setup_distributed()
    torch.manual_seed(cfg.train.seed)
    x_all = to_unit_range(load_training_data(cfg.data)[0])  # targets in [0, 1]
    low = replace(cfg.data, resolution=cfg.data.resolution // cfg.model.scale)
    y_all = to_unit_range(load_training_data(low, lowres=cfg.lowres, lowres_seed=cfg.lowres_seed)[0])
    x_all, y_all = x_all.to(d.device), y_all.to(d.device)

    net = SRNet(cfg.model).to(d.device).train()
    ema = copy.deepcopy(net).eval().requires_grad_(False)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.train.lr)
    net_ddp = DDP(net) if d.world > 1 else net
    lp = lpips_model(cfg.loss.lpips_net, str(d.device)) if cfg.loss.lpips_weight else None

    def export(step):
        meta = {"kind": "srnet", "config": to_dict(cfg.model),
                "training": {"step": step, "kimg": step * cfg.train.batch_size / 1000, "config": to_dict(cfg)}}
        return checkpoint.prefixed("net", ema.state_dict()), meta

    trainer = Trainer(cfg.train, d, {"net": net, "ema": ema}, {"net": opt}, export, to_dict(cfg))
    if resume:
        trainer.resume()

    def train_step(step):
        idx = batch_indices(len(x_all), cfg.train, d, step).to(d.device)
        x, y = x_all[idx], y_all[idx]
        if cfg.data.mirror:  # the same flip for the input and its target
            flip = (torch.rand(len(x), device=d.device) < 0.5)[:, None, None, None]
            x, y = torch.where(flip, x.flip(-1), x), torch.where(flip, y.flip(-1), y)
        out = net_ddp(y)
        L1 = F.l1_loss(out, x)
        loss, scalars = cfg.loss.l1_weight * L1, {"L1": L1.item()}
        if lp is not None:
            L_lpips = lp(lpips_input(out), lpips_input(x), normalize=True).mean()
            loss = loss + cfg.loss.lpips_weight * L_lpips
            scalars["LPIPS"] = L_lpips.item()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        ema_update(ema, net, cfg.train, step)
        return scalars

    trainer.run(train_step)
    return trainer
