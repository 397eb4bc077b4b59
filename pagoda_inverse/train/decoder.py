"""Stages 2 and 3: distil the one-step decoder from the teacher's latent pairs and grow it
(PaGoDA, Kim et al., NeurIPS 2024). The objective is distill/loss.py's; this file runs it: one
generator step, then one discriminator step, each on its own batch.

Optionally a growth stage also trains on the path super-resolution runs (TaskPathConfig): its input
image is y itself rather than G(Enc(y)) in some rows ("residual" stages), and its reconstruction loss
is also taken after the data-consistency step that `restore` ends with."""
import copy
from dataclasses import dataclass, field

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from ..config import ConfigError, from_dict, load_toml, to_dict
from ..data import DataConfig, load_training_data
from ..metrics.lpips import POOLINGS, lpips_model
from ..distill import augment
from ..diffusion import to_model_range, to_unit_range
from ..distill.decoder import STAGE_FORMS, Decoder, decoder_checkpoint, load_decoder
from ..distill.discriminator import ARCHITECTURES, make_discriminator
from ..distill.loss import PIXEL_LOSSES, LossConfig, generator_loss, hinge_d_loss, hinge_g_loss, reconstruction_loss
from ..distill.latents import LatentConfig, encode_dataset, file_hash, load_latents
from ..physics import Downsampling
from ..solvers.latent import BACK_PROJECTIONS, back_projection_operator, data_consistency
from ..solvers.settings import check_task_defaults
from ..teacher import load_teacher, resolve
from ..distributed import setup_distributed
from .loop import Trainer, TrainConfig, batch_indices, ema_update


@dataclass
class DiscConfig:
    architecture: str = "residual"  # "residual": trained on pixels; "projected": heads on a frozen ImageNet trunk
    width: int = 64
    lr: float = 2e-3
    diffaugment: bool = True  # PaGoDA's DiffAugment on the discriminator's inputs (reals and fakes alike)


@dataclass
class TaskPathConfig:
    """Training a growth stage on what super-resolution runs: y = the training image at the
    teacher's resolution, made as its latent was (latents.lowres)."""
    lowres_fraction: float = 0.0  # rows whose stages start from y itself, not G(Enc(y)) ("residual" stages)
    consistency_weight: float = 0.0  # + this weight x L_rec of data_consistency(G(...), y), as `restore` ends
    back_projection: str = "bicubic"  # that step's operator (LatentSettings.back_projection)

    @property
    def active(self) -> bool:
        return bool(self.lowres_fraction or self.consistency_weight)


@dataclass
class DecoderTrainConfig:
    teacher: str = "fmnist-teacher"
    stage: str = "base"  # "base": G from the teacher at its resolution; "grow": one 2x stage on `init`
    init: str | None = None  # the decoder file to grow from
    trainable_up_blocks: int = 2  # U-Net up-path blocks left trainable when growing
    stage_form: str = "features"  # the grown stage's form (distill/decoder.py): "features" or "residual"
    dropout: float | None = None  # the decoder's dropout while it trains; None keeps the teacher's
    latents: LatentConfig = field(default_factory=LatentConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    disc: DiscConfig = field(default_factory=DiscConfig)
    task_path: TaskPathConfig = field(default_factory=TaskPathConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    # The model's own task defaults, [tasks.TASK] shaped as tasks.toml's [TASK]: stored in the
    # decoder file, they become `model.task_defaults` when the model is loaded from its files.
    tasks: dict = field(default_factory=dict)


def load_config(path) -> DecoderTrainConfig:
    return from_dict(DecoderTrainConfig, load_toml(path))


def build_decoder(cfg: DecoderTrainConfig, device) -> Decoder:
    if cfg.stage == "base":
        G = Decoder.from_teacher(load_teacher(cfg.teacher)).to(device)
    else:
        G = load_decoder(cfg.init).to(device)
        G.grow(cfg.stage_form)
        G.freeze_for_growth(cfg.trainable_up_blocks)
    if cfg.dropout is not None:
        G.set_dropout(cfg.dropout)
    return G


def train_decoder(cfg: DecoderTrainConfig, resume: bool = False) -> Trainer:
    if cfg.stage not in ("base", "grow"):
        raise ConfigError(f"stage must be 'base' or 'grow', not {cfg.stage!r}")
    if cfg.disc.architecture not in ARCHITECTURES:
        raise ConfigError(f"disc.architecture must be one of {ARCHITECTURES}, not {cfg.disc.architecture!r}")
    if cfg.stage == "grow" and not cfg.init:
        raise ConfigError("stage 'grow' needs init = the decoder file to grow from")
    if cfg.loss.pixel_loss not in PIXEL_LOSSES:
        raise ConfigError(f"loss.pixel_loss must be one of {tuple(PIXEL_LOSSES)}, not {cfg.loss.pixel_loss!r}")
    if cfg.loss.lpips_pooling not in POOLINGS:
        raise ConfigError(f"loss.lpips_pooling must be one of {POOLINGS}, not {cfg.loss.lpips_pooling!r}")
    if cfg.stage_form not in STAGE_FORMS:
        raise ConfigError(f"stage_form must be one of {STAGE_FORMS}, not {cfg.stage_form!r}")
    path = cfg.task_path
    if path.active and cfg.stage != "grow":
        raise ConfigError("task_path trains a growth stage: it needs stage = 'grow'")
    if path.lowres_fraction and cfg.stage_form != "residual":
        raise ConfigError("task_path.lowres_fraction needs stage_form = 'residual' (stages that refine a given image)")
    if not 0 <= path.lowres_fraction <= 1:
        raise ConfigError(f"task_path.lowres_fraction must be in [0, 1], not {path.lowres_fraction}")
    if path.back_projection not in BACK_PROJECTIONS:
        raise ConfigError(f"task_path.back_projection must be one of {BACK_PROJECTIONS}, not {path.back_projection!r}")
    check_task_defaults(cfg.tasks)
    d = setup_distributed()
    teacher_hash = file_hash(resolve(cfg.teacher))
    x_low = None  # the training images at the teacher's resolution: to encode, and y of the task path
    if not resume or path.active:
        D = load_teacher(cfg.teacher, d.device)
        low = DataConfig(cfg.data.dataset, cfg.data.root, D.net.cfg.resolution, cfg.data.channels)
        x_low, y_low, _ = load_training_data(low, lowres=cfg.latents.lowres, lowres_seed=cfg.latents.lowres_seed)
    if not resume:  # the ranks share the chunks; a resumed run has them all already
        encode_dataset(D, teacher_hash, x_low, y_low, cfg.latents, progress=d.is_main, rank=d.rank, world=d.world)
    if d.world > 1:
        torch.distributed.barrier()
    z_all, idx_all, flip_all = load_latents(cfg.latents, teacher_hash)
    x_all, y_all, num_classes = load_training_data(cfg.data)
    x_all, y_all = x_all.to(d.device), y_all.to(d.device)
    if path.active:  # y for the pairs: the encoded images at the teacher's resolution
        x_low = x_low.to(d.device)
    z_all, idx_all, flip_all = z_all.to(d.device), idx_all.to(d.device), flip_all.to(d.device)

    torch.manual_seed(cfg.train.seed)  # here, after rank 0's encoding: every rank builds the same new blocks
    G = build_decoder(cfg, d.device).train()
    if G.resolution != cfg.data.resolution:
        raise ConfigError(f"the decoder outputs {G.resolution}x{G.resolution} but data.resolution = {cfg.data.resolution}")
    ema = copy.deepcopy(G).eval().requires_grad_(False)
    disc = make_discriminator(cfg.disc.architecture, G.resolution, cfg.data.channels, cfg.disc.width,
                              G.cfg.model.num_classes, device=d.device)
    opt_g = torch.optim.RAdam([p for p in G.parameters() if p.requires_grad], lr=cfg.train.lr)
    opt_d = torch.optim.RAdam(disc.parameters(), lr=cfg.disc.lr)
    G_ddp, disc_ddp = (DDP(G), DDP(disc)) if d.world > 1 else (G, disc)
    lpips_net = lpips_model(cfg.loss.lpips_net, str(d.device), cfg.loss.lpips_pooling)
    W = G.output_conv.weight  # the last conv layer, for the adaptive weight
    sigma_max, res, local = G.cfg.sigma_max, G.resolution, cfg.train.batch_size // d.world
    n_cls = max(G.cfg.model.num_classes, 1)

    def export(step):
        return decoder_checkpoint(ema, teacher_hash, training={"step": step, "config": to_dict(cfg)})

    trainer = Trainer(cfg.train, d, {"G": G, "ema": ema, "disc": disc}, {"G": opt_g, "disc": opt_d}, export, to_dict(cfg))
    if resume:
        trainer.resume()

    def fresh_batch():
        """Fresh noise z' ~ N(0, sigma_max^2 I) and random labels: the adversarial term's fakes."""
        y = torch.randint(0, n_cls, (local,), device=d.device) if G.cfg.model.num_classes else None
        return torch.randn(local, G.cfg.model.channels, *z_all.shape[-2:], device=d.device) * sigma_max, y

    def paired(pair, images):
        """images[the pairs' dataset rows], mirrored where the pair's latent was encoded mirrored."""
        x = images[idx_all[pair]]
        return torch.where(flip_all[pair][:, None, None, None], x.flip(-1), x)

    bp = back_projection_operator(Downsampling(G.resolution // z_all.shape[-1]), path.back_projection)

    def consistent(x_hat, y_low):
        """restore's last step on G's output (model units): back-projection of y, noiseless."""
        return to_model_range(data_consistency(bp, to_unit_range(x_hat), to_unit_range(y_low), 0.0, 1.0))

    def disc_input(x):
        return augment.apply(x, augment.draw(len(x), res, device=d.device)) if cfg.disc.diffaugment else x

    def train_step(step):
        # Generator: reconstruction on real pairs (z = Enc(x), x), adversarial on G(fresh noise).
        pair = batch_indices(len(z_all), cfg.train, d, step).to(d.device)
        x, y = paired(pair, x_all), y_all[idx_all[pair]]
        labels = y if G.cfg.model.num_classes else None
        y_low = paired(pair, x_low) if path.active else None
        use_low = torch.rand(local, device=d.device) < path.lowres_fraction if path.lowres_fraction else None
        x_hat = G_ddp(z_all[pair], labels, y_low if use_low is not None else None, use_low)
        L_rec = reconstruction_loss(lpips_net, x_hat, x, cfg.loss)
        if path.consistency_weight:
            L_rec = L_rec + path.consistency_weight * reconstruction_loss(lpips_net, consistent(x_hat, y_low), x, cfg.loss)
        L_adv = None
        if cfg.loss.adv_weight:
            disc.requires_grad_(False)  # the generator step does not train the discriminator
            z_f, y_f = fresh_batch()
            L_adv = hinge_g_loss(disc(disc_input(G_ddp(z_f, y_f)), y_f))
        loss, w = generator_loss(L_rec, L_adv, W, cfg.loss)
        scalars = {"L_rec": L_rec.item()}
        if w is not None:
            scalars.update(L_G=L_adv.item(), w=w.item())
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        disc.requires_grad_(True)
        opt_g.step()
        ema_update(ema, G, cfg.train, step)
        if cfg.loss.adv_weight:
            # Discriminator, on its own batch of real images and fresh fakes.
            # Reals come from the whole training set (not only the encoded part), mirrored at random.
            i = torch.randint(0, len(x_all), (local,), device=d.device)
            x_r, y_r = x_all[i], y_all[i]
            if cfg.data.mirror:
                x_r = torch.where(torch.rand(local, 1, 1, 1, device=d.device) < 0.5, x_r.flip(-1), x_r)
            with torch.no_grad():
                z_f, y_f = fresh_batch()
                fake = G(z_f, y_f)
            n = x_r.shape[0]
            scores = disc_ddp(disc_input(torch.cat([x_r, fake])), torch.cat([y_r, y_f]) if y_f is not None else None)
            L_D = hinge_d_loss(scores[:n], scores[n:])
            opt_d.zero_grad(set_to_none=True)
            L_D.backward()
            opt_d.step()
            scalars["L_D"] = L_D.item()
        return scalars

    trainer.run(train_step)
    return trainer
