"""Decoder training end to end on tiny configs (base, grow, resume), the autoencoder API and the
`encode` / `sample` commands."""
import json
import os
import subprocess
import sys

import pytest
import torch

from pagoda_inverse import checkpoint
from pagoda_inverse.autoencoder import from_files
from pagoda_inverse.data import downsample, load_image, save_image
from pagoda_inverse.distill.latents import LatentConfig, file_hash, load_latents
from pagoda_inverse.teacher import build_teacher, save_teacher

from conftest import FIXTURE_FMNIST, cli, tiny_decoder_config
from test_decoder import TINY, trained_like_teacher

pytestmark = pytest.mark.slow  # every test here uses decoders trained by the CLI (the `trained` fixture)


# The grown model's own task defaults, written in its training config.
OWN_TASKS = """
[tasks.superres]
scale = 2
[tasks.superres.latent]
steps = 3
lr = 0.02
[tasks.deblur.latent]
restarts = 0
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny teacher, a decoder trained 4 steps at 8x8 and grown to 16x16 for 3 steps."""
    tmp = tmp_path_factory.mktemp("ae")
    D = trained_like_teacher(0)
    teacher = tmp / "teacher.safetensors"
    save_teacher(teacher, D)

    def config(name, stage, resolution, steps, init="", adv=0.2, tasks=""):
        path = tmp / f"{name}.toml"
        return tiny_decoder_config(path, teacher, tmp / name, tmp / "latents", stage, init, resolution, steps, adv,
                                   tasks=tasks)

    base = config("base", "base", 8, 4)
    r = cli("train", "decoder", "--config", base)
    assert r.returncode == 0, r.stderr[-2000:]
    grow = config("grow", "grow", 16, 3, init=tmp / "base" / "final.safetensors", adv=1.0, tasks=OWN_TASKS)
    r = cli("train", "decoder", "--config", grow)
    assert r.returncode == 0, r.stderr[-2000:]
    return tmp, teacher, config


def test_latent_cache_holds_the_limited_set_and_its_mirrors(trained):
    tmp, teacher, _ = trained
    z, idx, flip = load_latents(LatentConfig(dir=str(tmp / "latents"), levels=4), file_hash(teacher))
    assert z.shape == (500, 1, 8, 8) and idx.max() == 249 and flip.sum() == 250
    z, idx, flip = load_latents(LatentConfig(dir=str(tmp / "latents"), levels=4, mirror=False, limit=100), file_hash(teacher))
    assert z.shape == (100, 1, 8, 8) and idx.max() == 99 and not flip.any()
    with pytest.raises(checkpoint.CheckpointError, match="level count"):
        load_latents(LatentConfig(dir=str(tmp / "latents"), levels=40), file_hash(teacher))


def test_raising_the_limit_completes_a_short_chunk(trained, tmp_path):
    tmp, teacher, _ = trained
    import shutil
    from pagoda_inverse.data import DataConfig, load_training_data
    from pagoda_inverse.distill.latents import encode_dataset
    from pagoda_inverse.teacher import load_teacher
    shutil.copytree(tmp / "latents", tmp_path / "latents")
    cfg = LatentConfig(dir=str(tmp_path / "latents"), levels=4, mirror=False, limit=300, chunk=200, batch=200)
    x, y, _ = load_training_data(DataConfig("fashion_mnist", str(FIXTURE_FMNIST), 8, 1))
    encode_dataset(load_teacher(teacher), file_hash(teacher), x, y, cfg, progress=False)
    z, idx, _ = load_latents(cfg, file_hash(teacher))
    assert sorted(idx.tolist()) == list(range(300))  # the 200-250 chunk was re-encoded as 200-300


def test_training_logs_every_loss_term(trained):
    tmp, _, _ = trained
    rows = [json.loads(line) for line in (tmp / "grow" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all({"L_rec", "L_G", "L_D", "w"} <= r.keys() and 0.01 <= r["w"] <= 10 for r in rows)


@pytest.mark.parametrize("diffaugment", [True, False])
def test_diffaugment_option_decides_what_the_discriminator_sees(trained, monkeypatch, diffaugment):
    """The reconstruction's shared augmentation stays; `disc.diffaugment` only switches the D's."""
    tmp, _, config = trained
    from pagoda_inverse.distill import augment
    from pagoda_inverse.train.decoder import load_config, train_decoder
    sizes, apply = [], augment.apply
    monkeypatch.setattr(augment, "apply", lambda x, p: sizes.append(len(x)) or apply(x, p))
    cfg = load_config(config(f"aug_{diffaugment}", "base", 8, 2))
    cfg.disc.diffaugment = diffaugment
    train_decoder(cfg)
    # per step: G(z) and x for L_rec (8 each); with DiffAugment also G(z') (8) and reals + fakes (16)
    assert sizes == ([8, 8, 8, 16] if diffaugment else [8, 8]) * 2


def test_decoder_resume_continues_exactly(trained):
    """Two optimisers, the discriminator and the EMA all come back from the checkpoint."""
    tmp, _, config = trained
    straight = config("straight", "base", 8, 4)
    assert cli("train", "decoder", "--config", straight).returncode == 0
    split = config("split", "base", 8, 4)
    assert cli("train", "decoder", "--config", split, "--total-steps", "2").returncode == 0
    assert cli("train", "decoder", "--config", split, "--resume").returncode == 0
    a, b = checkpoint.load(tmp / "straight" / "checkpoint.safetensors")[0], checkpoint.load(tmp / "split" / "checkpoint.safetensors")[0]
    assert a.keys() == b.keys() and any(k.startswith("disc") for k in a)
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_torchrun_two_cpu_ranks_grow_identically(trained):
    tmp, _, config = trained
    cfg = config("ddp", "grow", 16, 2, init=tmp / "base" / "final.safetensors", adv=1.0)
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                        "-m", "pagoda_inverse.cli", "train", "decoder", "--config", str(cfg)],
                       capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    a, b = (checkpoint.load(tmp / "ddp" / f"final-rank{k}.safetensors")[0] for k in (0, 1))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_torchrun_two_cpu_ranks_share_the_latent_encoding(trained, tmp_path):
    """Rank r encodes chunks r, r + 2, ...; the cache equals one process's, tensor for tensor."""
    _, teacher, _ = trained
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name, launcher in (("one", []), ("two", ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"])):
        cfg = tiny_decoder_config(tmp_path / f"{name}.toml", teacher, tmp_path / name, tmp_path / f"latents_{name}", steps=1)
        r = subprocess.run([sys.executable, *launcher, "-m", "pagoda_inverse.cli", "train", "decoder", "--config", str(cfg)],
                           capture_output=True, text=True, env=env, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
    one, two = (sorted((tmp_path / f"latents_{k}").glob("*.safetensors")) for k in ("one", "two"))
    assert [p.name for p in one] == [p.name for p in two] and len(one) == 4
    for a, b in zip(one, two):
        ta, tb = checkpoint.load(a)[0], checkpoint.load(b)[0]
        assert ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta), a.name


def test_autoencoder_api(trained):
    tmp, teacher, _ = trained
    ae = from_files(teacher, [tmp / "base" / "final.safetensors", tmp / "grow" / "final.safetensors"])
    assert ae.resolutions == [8, 16] and ae.levels == 4 and ae.teacher_resolution == 8
    x = torch.rand(3, 1, 8, 8)
    z = ae.encode(x, [1, 2, 3])
    assert z.shape == (3, 1, 8, 8)
    big = torch.rand(3, 1, 32, 32)  # larger images are downsampled by the one rule first
    torch.testing.assert_close(ae.encode(big, 4), ae.encode(downsample(big, 8), 4))
    for r in (8, 16):
        out = ae.decode(z, [1, 2, 3], resolution=r)
        assert out.shape == (3, 1, r, r) and out.min() >= 0 and out.max() <= 1
    torch.testing.assert_close(ae.sample([0, 1], seed=5), ae.sample([0, 1], seed=5))
    assert not torch.equal(ae.sample([0, 1], seed=5), ae.sample([0, 1], seed=6))
    z.requires_grad_(True)  # decode is differentiable in z: the task layer optimises latents
    ae.decode(z, [1, 2, 3]).sum().backward()
    assert z.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="labels"):
        ae.decode(z.detach(), [1, 2, 10])
    with pytest.raises(ValueError, match="no decoder for 32x32"):
        ae.decode(z.detach(), 1, resolution=32)


def test_a_model_of_ones_own_carries_the_task_defaults_of_its_config(trained):
    """The [tasks] table of the last decoder's training config becomes model.task_defaults, on top of
    tasks.toml's [TASK] and under a caller's overrides; a model trained without one gets none, and
    nothing of the named models' defaults."""
    import tomllib
    from pagoda_inverse.autoencoder import load
    from pagoda_inverse.solvers.settings import task_settings
    tmp, teacher, _ = trained
    base, grow = tmp / "base" / "final.safetensors", tmp / "grow" / "final.safetensors"
    own = load(f"{teacher},{base},{grow}")
    assert own.task_defaults == tomllib.loads(OWN_TASKS)["tasks"]
    st, plain = task_settings("superres", None, own.task_defaults), task_settings("superres")
    assert (st.scale, st.latent.steps, st.latent.lr) == (2, 3, 0.02)
    assert st.latent.prior == plain.latent.prior and st.label_method == plain.label_method
    assert task_settings("superres", {"latent": {"steps": 7}}, own.task_defaults).latent.steps == 7
    assert task_settings("deblur", None, own.task_defaults).latent.restarts == 0
    assert task_settings("inpaint", None, own.task_defaults) == task_settings("inpaint")
    assert load(f"{teacher},{base}").task_defaults == {}
    assert own.class_names is None  # a teacher file, not a registry name: no names for its classes


def test_a_bad_tasks_table_is_refused_before_any_work(trained):
    from pagoda_inverse.config import ConfigError
    from pagoda_inverse.train.decoder import load_config, train_decoder
    tmp, _, config = trained
    for table, message in (("[tasks.denoise]\nsteps = 1\n", "unknown task 'denoise'"),
                           ("[tasks.superres.latent]\nstepz = 1\n", "stepz")):
        cfg = load_config(config("bad", "base", 8, 1, tasks=table))
        with pytest.raises(ConfigError, match=message):
            train_decoder(cfg)
    assert not (tmp / "bad").exists()


TASK_PATH = """
stage_form = "residual"
[task_path]
lowres_fraction = 0.5
consistency_weight = 1.0
"""


def test_a_residual_stage_trains_on_the_task_path_and_resumes_exactly(trained):
    """stage_form = "residual" with [task_path]: half the rows start from y itself, L_rec also after the
    data-consistency step; the stage learns (its zero-initialised output conv moves) and a resumed
    run ends where an uninterrupted one does (the rows' draws come back with the RNG)."""
    from pagoda_inverse.distill.decoder import load_decoder
    tmp, _, config = trained
    init = tmp / "base" / "final.safetensors"

    def residual(name, steps):  # the top-level keys go before the first table
        path = config(name, "grow", 16, steps, init=init, adv=1.0)
        path.write_text(TASK_PATH.split("[task_path]")[0] + path.read_text() + "[task_path]" + TASK_PATH.split("[task_path]")[1])
        return path

    straight, split = residual("res_straight", 4), residual("res_split", 4)
    assert cli("train", "decoder", "--config", straight).returncode == 0
    assert cli("train", "decoder", "--config", split, "--total-steps", "2").returncode == 0
    r = cli("train", "decoder", "--config", split, "--resume")
    assert r.returncode == 0, r.stderr[-2000:]
    a, b = (checkpoint.load(tmp / n / "checkpoint.safetensors")[0] for n in ("res_straight", "res_split"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    G = load_decoder(tmp / "res_straight" / "final.safetensors")
    assert G.cfg.stage_form == "residual" and G.output_conv.weight.abs().max() > 0


def test_task_path_options_are_checked(trained):
    from pagoda_inverse.config import ConfigError
    from pagoda_inverse.train.decoder import load_config, train_decoder
    tmp, _, config = trained
    for change, message in ((lambda c: setattr(c.task_path, "lowres_fraction", 0.5), "needs stage_form = 'residual'"),
                            (lambda c: setattr(c, "stage_form", "pixels"), "stage_form must be one of"),
                            (lambda c: setattr(c.task_path, "back_projection", "lanczos"), "back_projection must be")):
        cfg = load_config(config("bad_path", "grow", 16, 1, init=tmp / "base" / "final.safetensors"))
        cfg.task_path.consistency_weight = 1.0
        change(cfg)
        with pytest.raises(ConfigError, match=message):
            train_decoder(cfg)
    cfg = load_config(config("bad_path", "base", 8, 1))
    cfg.task_path.consistency_weight = 1.0
    with pytest.raises(ConfigError, match="needs stage = 'grow'"):
        train_decoder(cfg)
    assert not (tmp / "bad_path").exists()


def test_decoder_from_another_teacher_is_refused(trained, tmp_path):
    tmp, _, _ = trained
    other = tmp_path / "other.safetensors"
    save_teacher(other, build_teacher(TINY))
    with pytest.raises(checkpoint.CheckpointError, match="another teacher"):
        from_files(other, [tmp / "base" / "final.safetensors"])


def test_encode_and_sample_commands(trained, tmp_path):
    tmp, teacher, _ = trained
    model = f"{teacher},{tmp / 'base' / 'final.safetensors'},{tmp / 'grow' / 'final.safetensors'}"
    img = tmp_path / "x.png"
    save_image(torch.rand(1, 32, 32), img)
    out = tmp_path / "z.safetensors"
    r = cli("encode", img, img, "--label", "3", "--model", model, "--out", out)
    assert r.returncode == 0, r.stderr
    tensors, meta = checkpoint.load(out)
    assert tensors["z"].shape == (2, 1, 8, 8) and meta["levels"] == 4 and tensors["labels"].tolist() == [3, 3]

    bad = tmp_path / "bad.safetensors"
    r = cli("encode", img, "--model", model, "--out", bad)  # class-conditional, no label
    assert r.returncode == 2 and "--label" in r.stderr and len(r.stderr.strip().splitlines()) == 1 and not bad.exists()
    r = cli("encode", tmp_path / "missing.png", "--label", "1", "--model", model, "--out", bad)
    assert r.returncode == 2 and "no such file" in r.stderr and not bad.exists()

    png = tmp_path / "s.png"
    r = cli("sample", "--model", model, "--resolution", "16", "--per-class", "2", "--out", png)
    assert r.returncode == 0, r.stderr
    assert load_image(png).shape == (1, 10 * 34 + 2, 2 * 34 + 2)  # 16 px zoomed 2x, 2 px padding
