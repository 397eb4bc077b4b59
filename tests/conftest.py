import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_FMNIST = ROOT / "tests" / "fixtures" / "fashion-mnist"

TINY_TEACHER = """
[model]
resolution = 8
channels = 1
model_channels = 16
channel_mult = [1, 2]
num_res_blocks = 1
attn_resolutions = [4]
dropout = 0.1
num_classes = 10

[data]
dataset = "fashion_mnist"
root = "{root}"
resolution = 8
channels = 1

[train]
run_dir = "{run_dir}"
batch_size = {batch_size}
lr = 1e-3
warmup_steps = 5
total_steps = {total_steps}
ema_halflife_kimg = 0.5
seed = 3
log_every = {log_every}
checkpoint_every = {checkpoint_every}
checkpoint_minutes = 1000
save_all_ranks = true
"""


@pytest.fixture
def tiny_teacher_config(tmp_path):
    """Write a tiny teacher config over the committed fixture; returns a function of overrides."""
    def make(name="run", total_steps=6, batch_size=16, log_every=1, checkpoint_every=2):
        run_dir = tmp_path / name
        path = tmp_path / f"{name}.toml"
        path.write_text(TINY_TEACHER.format(root=FIXTURE_FMNIST, run_dir=run_dir, total_steps=total_steps,
                                            batch_size=batch_size, log_every=log_every, checkpoint_every=checkpoint_every))
        return path, run_dir
    return make


TINY_DECODER = """
teacher = "{teacher}"
stage = "{stage}"
init = "{init}"

[latents]
dir = "{latents}"
levels = 4
mirror = true
limit = {limit}
chunk = {chunk}
batch = {chunk}

[data]
dataset = "fashion_mnist"
root = "{root}"
resolution = {resolution}
channels = 1

[loss]
adv_weight = {adv}

[disc]
width = 8

[train]
run_dir = "{run_dir}"
batch_size = 8
lr = 1e-4
total_steps = {steps}
ema_halflife_kimg = 0.5
log_every = 1
checkpoint_every = {checkpoint_every}
checkpoint_minutes = 1000
save_all_ranks = true
"""


def tiny_decoder_config(path, teacher, run_dir, latents, stage="base", init="", resolution=8, steps=4, adv=0.2,
                        limit=250, chunk=200, checkpoint_every=2, tasks=""):
    """Write a tiny decoder config over the committed fixture (4 encoder levels, batch 8) to `path`;
    `tasks`: TOML text of a [tasks] table (the model's own task defaults), appended."""
    path.write_text(TINY_DECODER.format(teacher=teacher, stage=stage, init=init, latents=latents, root=FIXTURE_FMNIST,
                                        resolution=resolution, adv=adv, run_dir=run_dir, steps=steps, limit=limit,
                                        chunk=chunk, checkpoint_every=checkpoint_every) + tasks)
    return path


def cli(*args, env=None, **kw) -> subprocess.CompletedProcess:
    """Run the installed CLI entry point in a subprocess."""
    return subprocess.run([sys.executable, "-m", "pagoda_inverse.cli", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, **kw)


@pytest.fixture(scope="session")
def tiny_photo_model(tmp_path_factory):
    """An untrained unconditional RGB autoencoder (teacher at 8x8, decoders at 8 and 16) as files: the
    shape of the photo model, so the commands take any image size in tiles."""
    import copy

    import torch

    from pagoda_inverse import checkpoint
    from pagoda_inverse.nets import UNetConfig
    from pagoda_inverse.distill import Decoder
    from pagoda_inverse.distill.decoder import decoder_checkpoint
    from pagoda_inverse.distill.latents import file_hash
    from pagoda_inverse.teacher import build_teacher, save_teacher

    d = tmp_path_factory.mktemp("photo_model")
    torch.manual_seed(0)
    D = build_teacher(UNetConfig(resolution=8, channels=3, model_channels=16, channel_mult=[1, 2], num_res_blocks=1,
                                 attn_resolutions=[], dropout=0.0, num_classes=0))
    save_teacher(d / "t.safetensors", D)
    G8 = Decoder.from_teacher(D)
    G16 = copy.deepcopy(G8)
    G16.grow()
    for G in (G8, G16):
        checkpoint.save(d / f"g{G.resolution}.safetensors",
                        *decoder_checkpoint(G, file_hash(d / "t.safetensors"), training={"config": {"latents": {"levels": 4}}}))
    return ",".join(str(d / f) for f in ("t.safetensors", "g8.safetensors", "g16.safetensors"))


@pytest.fixture(scope="module")
def one_thread():
    """Tiny images: one thread is faster, and steadier beside a background job."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


_FMNIST = {}


@pytest.fixture
def cached_fmnist(monkeypatch):
    """The shipped fmnist model loaded once for every in-process command (the CLI loads it per command)."""
    import pagoda_inverse.autoencoder
    load = pagoda_inverse.autoencoder.load

    def cached(name="fmnist", device="cpu"):
        if name != "fmnist":
            return load(name, device)
        if name not in _FMNIST:
            _FMNIST[name] = load(name, device)
        return _FMNIST[name]
    monkeypatch.setattr(pagoda_inverse.autoencoder, "load", cached)
