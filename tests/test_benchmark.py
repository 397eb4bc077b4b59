"""The benchmark runner on a tiny spec over the committed fixture: scores, resume, recorded failures,
and the same numbers from two torchrun processes as from one."""
import json
import os
import subprocess
import sys

import pytest
import torch

from pagoda_inverse import benchmark
from pagoda_inverse.config import ConfigError
from pagoda_inverse.metrics import psnr

from conftest import FIXTURE_FMNIST

SPEC = """
title = "tiny"
task = "superres"
model = "fmnist"
figure_images = [0, 1]

[operator]
kind = "downsampling"
factor = 4
noise = 0.0

[data]
dataset = "fashion_mnist"
root = "{root}"
split = "test"
first = 10
n = 6
batch = 3

[methods.pagoda]
method = "pagoda"
labels = "inferred"
settings = {{ latent = {{ steps = 2, restarts = 1 }} }}

[methods.bicubic]
method = "bicubic"

[methods.broken]
method = "biharmonic"  # needs a mask: fails on every batch of a super-resolution task
"""


@pytest.fixture
def spec_path(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(SPEC.format(root=FIXTURE_FMNIST))
    return path


def test_runner_scores_resumes_and_records_failures(spec_path, tmp_path):
    spec = benchmark.load_spec(spec_path)
    out, runs = tmp_path / "out", tmp_path / "runs"
    result = benchmark.run(spec, out, runs, progress=False)
    r = result["methods"]
    assert r["bicubic"]["images"] == 6 and r["pagoda"]["images"] == 6
    # bicubic's PSNR is the metric module's on the same images and operator
    x, _ = benchmark.load_images({**spec.data})
    y = benchmark.make_physics(spec.operator, (32, 32), 0)(x)
    from pagoda_inverse.solvers import upscale
    assert abs(r["bicubic"]["psnr"]["mean"] - psnr(upscale(y, 4), x).mean().item()) < 1e-4
    assert r["pagoda"]["nfe_per_image"] == 2 * 19 + 2 * 3 + 1 and 0 <= r["pagoda"]["label_correct"]["mean"] <= 1
    assert "uncertainty_corr" in r["pagoda"]
    assert r["broken"]["images"] == 0 and len(r["broken"]["failed_batches"]) == 2
    assert "AttributeError" in r["broken"]["failed_batches"][0]["error"]
    assert (out / "tiny.json").exists() and (out / "tiny.png").exists() and "| bicubic |" in (out / "tiny.md").read_text()
    # Resume: a second run computes nothing new and gives the same numbers.
    lines = (runs / "tiny" / "pagoda.jsonl").read_text().count("\n")
    again = benchmark.run(spec, out, runs, progress=False)
    assert (runs / "tiny" / "pagoda.jsonl").read_text().count("\n") == lines
    assert again["methods"]["pagoda"]["lpips_vgg"] == r["pagoda"]["lpips_vgg"]
    # A run killed after one batch continues with the missing ones.
    log = runs / "tiny" / "bicubic.jsonl"
    log.write_text(log.read_text().splitlines()[0] + "\n")
    third = benchmark.run(spec, out, runs, only=["bicubic"], progress=False)
    assert third["methods"]["bicubic"]["psnr"] == r["bicubic"]["psnr"] and log.read_text().count("\n") == 2



def test_runner_recomputes_pagoda_when_the_task_defaults_change(spec_path, tmp_path, monkeypatch):
    from pagoda_inverse.solvers import settings

    spec = benchmark.load_spec(spec_path)
    benchmark.run(spec, tmp_path / "out", tmp_path / "runs", only=["pagoda"], progress=False)
    log = tmp_path / "runs" / "tiny" / "pagoda.jsonl"
    assert log.read_text().count("\n") == 2
    changed = tmp_path / "tasks.toml"
    changed.write_text(settings.TASKS_TOML.read_text().replace("[superres.latent]", "[superres.latent]\nseed = 7", 1))
    monkeypatch.setattr(settings, "TASKS_TOML", changed)
    benchmark.run(spec, tmp_path / "out", tmp_path / "runs", only=["pagoda"], progress=False)
    assert log.read_text().count("\n") == 4  # the old records are stale: both batches computed again


def test_spec_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('task = "superres"\n[operator]\nkind = "downsampling"\nfactor = 4\n[data]\n[methods.x]\nmethod = "magic"\n')
    with pytest.raises(ConfigError, match="method 'x'"):
        benchmark.load_spec(bad)
    with pytest.raises(ConfigError, match="kind must be"):
        benchmark.make_physics({"kind": "warp"}, (8, 8), 0)


def test_two_torchrun_ranks_give_the_numbers_of_one_process(tmp_path):
    """Three noisy batches over two gloo ranks (rank 0 takes two): every per-image score equals the
    single process's."""
    path = tmp_path / "tiny.toml"
    path.write_text(SPEC.format(root=FIXTURE_FMNIST).replace("n = 6", "n = 9").replace("noise = 0.0", "noise = 0.05"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = {}
    for name, launcher in (("one", []), ("two", ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"])):
        cmd = [sys.executable, *launcher, "-m", "pagoda_inverse.cli", "benchmark", str(path),
               "--out-dir", str(tmp_path / f"out_{name}"), "--run-dir", str(tmp_path / f"runs_{name}")]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
        runs[name] = tmp_path / f"runs_{name}" / "tiny"
    for method in ("pagoda", "bicubic", "broken"):
        one, two = ([json.loads(line) for line in (runs[k] / f"{method}.jsonl").read_text().splitlines()] for k in ("one", "two"))
        assert sorted(r["start"] for r in two) == [r["start"] for r in one] == [0, 3, 6]
        two = {r["start"]: r for r in two}
        for r in one:
            for key in ("psnr", "ssim", "lpips_alex", "lpips_vgg", "label_correct", "uncertainty_corr", "error"):
                assert r.get(key) == two[r["start"]].get(key), (method, r["start"], key)
    a, b = (json.loads((tmp_path / f"out_{k}" / "tiny.json").read_text())["methods"]["pagoda"] for k in ("one", "two"))
    assert a["psnr"] == b["psnr"] and a["lpips_vgg"] == b["lpips_vgg"]


def test_peer_methods_and_fewer_images_see_the_same_measurements(tmp_path):
    """A deepinv peer (DiffPIR, 3 iterations, on a tiny untrained 32x32 prior) and a classical method
    run in batches of one on the first 4 of 6 images: each image's measurement is the one the full-batch
    methods saw (same per-image PSNR on a noisy task), and every method is also summarised on those 4."""
    pytest.importorskip("deepinv")
    from pagoda_inverse.nets import UNetConfig
    from pagoda_inverse.teacher import build_teacher, save_teacher

    torch.manual_seed(0)
    prior = tmp_path / "prior.safetensors"
    save_teacher(prior, build_teacher(UNetConfig(resolution=32, channels=1, model_channels=16, channel_mult=[1, 2],
                                                 num_res_blocks=1, attn_resolutions=[], num_classes=10)))
    path = tmp_path / "tiny.toml"
    path.write_text(SPEC.format(root=FIXTURE_FMNIST).replace("noise = 0.0", "noise = 0.05") + f"""
[methods.bicubic_one_by_one]
method = "bicubic"
n = 4
batch = 1

[methods.diffpir]
method = "diffpir"
prior = "{prior}"
n = 4
batch = 1
settings = {{ max_iter = 3 }}
""")
    spec = benchmark.load_spec(path)
    result = benchmark.run(spec, tmp_path / "out", tmp_path / "runs", only=["bicubic", "bicubic_one_by_one", "diffpir"],
                           progress=False)
    r = result["methods"]
    runs = tmp_path / "runs" / "tiny"
    per_image = lambda name: [p for line in (runs / f"{name}.jsonl").read_text().splitlines()  # noqa: E731
                              for p in json.loads(line)["psnr"]]
    assert per_image("bicubic_one_by_one") == per_image("bicubic")[:4]
    assert r["diffpir"]["images"] == 4 and r["diffpir"]["nfe_per_image"] == 3 and not r["diffpir"]["failed_batches"]
    assert result["common_images"] == 4
    assert r["bicubic"]["on_common_images"]["psnr"]["mean"] == pytest.approx(sum(per_image("bicubic")[:4]) / 4)
    assert r["bicubic"]["on_common_images"]["seconds_per_image"] > 0
    md = (tmp_path / "out" / "tiny.md").read_text()
    assert "| diffpir | 4 |" in md and "On the first 4 images" in md
    with pytest.raises(ConfigError, match="does not divide"):
        bad = tmp_path / "bad.toml"
        bad.write_text(path.read_text().replace("batch = 1\n", "batch = 2\n", 1))
        benchmark.load_spec(bad)


PHOTO_SPEC = """
title = "tiny photos"
task = "inpaint"
model = "{model}"

[operator]
kind = "inpainting"
box = 6

[data]
dataset = "photos"
crop = 20
batch = 2

[methods.pagoda]
method = "pagoda"
settings = {{ latent = {{ steps = 1, restarts = 1 }} }}

[methods.biharmonic]
method = "biharmonic"
"""


def test_photo_specs_run_the_validation_crops_in_tiles(tiny_photo_model, tmp_path):
    """dataset = "photos": the four held-out crops; a model that tiles restores each in blended tiles,
    keeps the observed pixels, and counts its network evaluations over all of an image's tiles."""
    from pagoda_inverse.autoencoder import load
    from pagoda_inverse.data.photos import validation_crops
    path = tmp_path / "photo.toml"
    path.write_text(PHOTO_SPEC.format(model=tiny_photo_model))
    result = benchmark.run(benchmark.load_spec(path), tmp_path / "out", tmp_path / "runs", progress=False)
    r = result["methods"]
    assert r["pagoda"]["images"] == r["biharmonic"]["images"] == 4 and not r["pagoda"]["failed_batches"]
    per_tile = benchmark.nfe(r["pagoda"]["config"], load(tiny_photo_model), "inpaint")
    assert r["pagoda"]["nfe_per_image"] == per_tile * 4  # 20x20 in 16x16 tiles, a quarter overlap: 2 x 2
    x = torch.cat(list(validation_crops(20).values()))
    fig = benchmark.checkpoint.load(tmp_path / "runs" / "photo" / "pagoda_figure.safetensors")[0]
    assert torch.equal(fig["x"], x[:2])
    mask = benchmark.box_mask((20, 20), 6)
    assert torch.allclose(fig["x_hat"] * mask, x[:2] * mask, atol=1e-5)  # the observed pixels are put back


def test_every_shipped_spec_loads():
    from pathlib import Path
    specs = sorted((Path(__file__).resolve().parent.parent / "tasks").glob("*.toml"))
    assert len(specs) >= 10
    for path in specs:
        spec = benchmark.load_spec(path)
        benchmark.make_physics(spec.operator, (64, 64), 0)  # the operator parses
