"""The benchmark runner on a tiny spec over the committed fixture: scores, resume, recorded failures."""
import json

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


def test_spec_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('task = "superres"\n[operator]\nkind = "downsampling"\nfactor = 4\n[data]\n[methods.x]\nmethod = "magic"\n')
    with pytest.raises(ConfigError, match="method 'x'"):
        benchmark.load_spec(bad)
    with pytest.raises(ConfigError, match="kind must be"):
        benchmark.make_physics({"kind": "warp"}, (8, 8), 0)
