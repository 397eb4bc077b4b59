"""The benchmark runner on tiny specs over the committed fixture: scores, resume, recorded failures,
counted network evaluations, spec errors, and the same numbers from two torchrun processes as from one."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from pagoda_inverse import bench, checkpoint
from pagoda_inverse.config import ConfigError
from pagoda_inverse.metrics import psnr
from pagoda_inverse.physics import box_mask, operator_from_spec

from conftest import FIXTURE_FMNIST, ROOT, cli

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
"""


@pytest.fixture
def spec_path(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(SPEC.format(root=FIXTURE_FMNIST))
    return path


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_runner_scores_and_resumes(spec_path, tmp_path):
    spec = bench.load_spec(spec_path)
    out, runs = tmp_path / "out", tmp_path / "runs"
    result = bench.run(spec, out, runs, progress=False)
    r = result["methods"]
    assert r["bicubic"]["images"] == 6 and r["pagoda"]["images"] == 6
    # bicubic's PSNR is the metric module's on the same images and operator
    x, _ = bench.load_images(spec.data)
    y = operator_from_spec(spec.operator, (32, 32), 0)(x)
    from pagoda_inverse.solvers import upscale
    assert abs(r["bicubic"]["psnr"]["mean"] - psnr(upscale(y, 4), x).mean().item()) < 1e-4
    assert r["bicubic"]["nfe_per_image"] == 0 and 0 <= r["pagoda"]["label_correct"]["mean"] <= 1
    assert "uncertainty_corr" in r["pagoda"]
    assert (out / "tiny.json").exists() and (out / "tiny.png").exists() and "| bicubic |" in (out / "tiny.md").read_text()
    # Resume: a second run computes nothing new and gives the same numbers.
    lines = (runs / "tiny" / "pagoda.jsonl").read_text().count("\n")
    again = bench.run(spec, out, runs, progress=False)
    assert (runs / "tiny" / "pagoda.jsonl").read_text().count("\n") == lines
    assert again["methods"]["pagoda"]["lpips_vgg"] == r["pagoda"]["lpips_vgg"]
    assert again["methods"]["pagoda"]["nfe_per_image"] == r["pagoda"]["nfe_per_image"]
    # A run killed after one batch continues with the missing ones; a record without an evaluation
    # count is computed again.
    log = runs / "tiny" / "bicubic.jsonl"
    first, second = records(log)
    del second["evaluations"]
    log.write_text(json.dumps(first) + "\n" + json.dumps(second) + "\n")
    third = bench.run(spec, out, runs, only=["bicubic"], progress=False)
    assert third["methods"]["bicubic"]["psnr"] == r["bicubic"]["psnr"] and log.read_text().count("\n") == 3


@pytest.mark.slow
def test_a_failing_batch_is_recorded_and_the_others_go_on(spec_path, tmp_path, monkeypatch):
    real = bench.methods.classical

    def classical(name, y, physics, **kw):
        if name == "nearest":
            raise RuntimeError("deliberate")
        return real(name, y, physics, **kw)

    monkeypatch.setattr(bench.methods, "classical", classical)
    spec_path.write_text(spec_path.read_text() + '\n[methods.nearest]\nmethod = "nearest"\n')
    result = bench.run(bench.load_spec(spec_path), tmp_path / "out", tmp_path / "runs", only=["bicubic", "nearest"],
                       progress=False)
    r = result["methods"]
    assert r["bicubic"]["images"] == 6 and not r["bicubic"]["failed_batches"]
    assert r["nearest"]["images"] == 0 and len(r["nearest"]["failed_batches"]) == 2
    assert r["nearest"]["failed_batches"][0]["error"] == "RuntimeError: deliberate"
    assert "| nearest | failed: RuntimeError: deliberate |" in (tmp_path / "out" / "tiny.md").read_text()


def test_count_evaluations_sums_the_rows_of_every_forward_pass():
    """Each call adds its batch rows; a network listed twice or nested in a call counts per call of
    its own; None is skipped; backward passes and calls after the block are not counted."""
    a, b, unused = nn.Linear(4, 4), nn.Linear(4, 2), nn.Linear(2, 2)
    x = torch.randn(3, 4, requires_grad=True)
    with bench.count_evaluations(a, b, a, None) as count:
        b(a(x)).sum().backward()  # 3 + 3
        b(a(x[:1]))  # 1 + 1
        a(input=x[:2])  # a keyword input: 2
        unused(torch.randn(5, 2))
    a(x)
    assert count.rows == 3 + 3 + 1 + 1 + 2
    assert not a._forward_pre_hooks and not b._forward_pre_hooks


COUNT_SPEC = SPEC.split("[methods.pagoda]")[0].replace("n = 6", "n = 2").replace("batch = 3", "batch = 2") + """
[methods.true_class]
method = "pagoda"
labels = "true"
settings = {{ latent = {{ steps = 2, restarts = 1 }} }}

[methods.classifier]
method = "pagoda"
labels = "inferred"
settings = {{ label_method = "classifier", label_recheck = false, latent = {{ steps = 2, restarts = 1 }} }}

[methods.classifier_and_teacher]
method = "pagoda"
labels = "inferred"
settings = {{ label_recheck = false, latent = {{ steps = 2, restarts = 1 }} }}

[methods.rechecked]
method = "pagoda"
labels = "inferred"
settings = {{ latent = {{ steps = 2, restarts = 1 }} }}
"""


@pytest.mark.slow
def test_pagoda_evaluations_are_counted_with_the_class_scoring_and_the_recheck(tmp_path):
    """Per image, by hand (the shipped fmnist model: 20 encoder levels, Heun, 2 teacher evaluations per
    step; superres's label defaults: the classifier's top 5 scored by the teacher at 4 noise levels,
    4 draws each, on y and its mirror):
      encoder 2 * 19 = 38, 2 chains x (2 steps + the final decode) = 6: 44 with the true class;
      + 1 classifier evaluation: 45; + the teacher's scores 4 levels x 4 draws x 5 classes x 2 = 160: 205;
      the recheck classifies the restoration again (161 more) and solves again, with that class, the
      images whose class changed."""
    path = tmp_path / "count.toml"
    path.write_text(COUNT_SPEC.format(root=FIXTURE_FMNIST))
    r = bench.run(bench.load_spec(path), tmp_path / "out", tmp_path / "runs", progress=False)["methods"]
    assert r["true_class"]["nfe_per_image"] == 44
    assert r["classifier"]["nfe_per_image"] == 45
    assert r["classifier_and_teacher"]["nfe_per_image"] == 205
    # 205 + 161 = 366, and 44 more (the true-class solve) for each of the 2 images whose class changed
    assert r["rechecked"]["nfe_per_image"] in (366, 366 + 44 / 2, 366 + 44)


BAD_SPECS = [
    ("", 'colour = "red"\n', "unknown key(s) ['colour']"),
    ('task = "superres"\n', 'task = "denoise"\n', "unknown task 'denoise'"),
    ('task = "superres"\n', 'task = "inpaint"\n', "a downsampling operator poses superres"),
    ('model = "fmnist"\n', 'model = "fashion"\n', "model = 'fashion': unknown model"),
    ('model = "fmnist"\n', 'model = "fmnist-teacher"\n', "model = 'fmnist-teacher': a teacher, not an autoencoder"),
    ('kind = "downsampling"\n', 'kind = "warp"\n', "[operator] kind must be one of"),
    ("factor = 4\n", "factor = 5\n", "[operator] the 32x32 image is not divisible by factor 5"),
    ("factor = 4\n", "factor = 4\nbox = 3\n", "[operator] unknown key box"),
    ('split = "test"\n', 'split = "test"\nshuffle = true\n', "[data] unknown key(s) ['shuffle']"),
    ('dataset = "fashion_mnist"\n', 'dataset = "mnist"\n', "[data] unknown dataset 'mnist'"),
    ('method = "bicubic"\n', 'method = "magic"\n', "[methods.bicubic] unknown method 'magic'"),
    ('method = "bicubic"\n', 'method = "biharmonic"\n', "[methods.bicubic] biharmonic restores inpaint, not superres"),
    ('method = "bicubic"\n', 'method = "bicubic"\nscale = 2\n', "[methods.bicubic] unknown key(s) ['scale']"),
    ('labels = "inferred"\n', 'labels = "guess"\n', "[methods.pagoda] labels = 'guess'; use true or inferred"),
    ("steps = 2,", "stpes = 2,", "unknown key(s) ['stpes'] in [superres.latent]"),
    ('method = "bicubic"\n', 'method = "dps"\nsettings = { steps = 3 }\n', "[methods.bicubic] unknown dps setting(s) ['steps']"),
    ('method = "bicubic"\n', 'method = "bicubic"\nbatch = 2\n', "batch = 2 does not divide the data batch 3"),
    ('method = "bicubic"\n', 'method = "bicubic"\nn = "all"\n', "[methods.bicubic] n must be a positive integer"),
    ("batch = 3\n", "batch = 0\n", "[data] batch must be an integer >= 1, not 0"),
    ("[methods.bicubic]\nmethod", "[methods.bicubic.x]\nmethod", "[methods.bicubic] unknown method None"),
    ('[operator]\nkind = "downsampling"\nfactor = 4\nnoise = 0.0\n', "", "missing [operator]"),
]


@pytest.mark.parametrize("old,new,message", BAD_SPECS, ids=[m.split(";")[0][:40] for *_, m in BAD_SPECS])
def test_a_bad_spec_is_one_line_before_any_work(spec_path, old, new, message):
    text = spec_path.read_text()
    assert old in text
    spec_path.write_text(text.replace(old, new, 1) if old else new + text)
    with pytest.raises(ConfigError) as e:
        bench.load_spec(spec_path)
    assert message in str(e.value) and str(e.value).startswith(str(spec_path)) and "\n" not in str(e.value)


@pytest.mark.slow
def test_a_bad_spec_ends_the_command_in_one_line(spec_path, tmp_path):
    spec_path.write_text(spec_path.read_text().replace('task = "superres"', 'task = "denoise"'))
    r = cli("benchmark", spec_path, "-o", tmp_path / "out", "--run-dir", tmp_path / "runs")
    assert r.returncode == 2 and "unknown task 'denoise'" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_runner_recomputes_pagoda_when_the_task_defaults_or_the_weights_change(spec_path, tmp_path, monkeypatch):
    from pagoda_inverse.solvers import settings

    spec_path.write_text(spec_path.read_text().replace('labels = "inferred"', 'labels = "true"'))
    spec = bench.load_spec(spec_path)
    bench.run(spec, tmp_path / "out", tmp_path / "runs", only=["pagoda"], progress=False)
    log = tmp_path / "runs" / "tiny" / "pagoda.jsonl"
    assert log.read_text().count("\n") == 2
    changed = tmp_path / "tasks.toml"
    changed.write_text(settings.TASKS_TOML.read_text().replace("[superres.latent]", "[superres.latent]\nseed = 7", 1))
    monkeypatch.setattr(settings, "TASKS_TOML", changed)
    bench.run(spec, tmp_path / "out", tmp_path / "runs", only=["pagoda"], progress=False)
    assert log.read_text().count("\n") == 4  # the old records are stale: both batches computed again
    # Retrained weights (another decoder file) make them stale too.
    from pagoda_inverse import autoencoder

    loaded = autoencoder.load

    def retrained(name, device="cpu"):
        model = loaded(name, device)
        model.weights = {**model.weights, "decoders": ["0123456789abcdef", *model.weights["decoders"][1:]]}
        return model

    monkeypatch.setattr(autoencoder, "load", retrained)
    bench.run(spec, tmp_path / "out", tmp_path / "runs", only=["pagoda"], progress=False)
    assert log.read_text().count("\n") == 6
    bench.run(spec, tmp_path / "out", tmp_path / "runs", only=["pagoda"], progress=False)
    assert log.read_text().count("\n") == 6  # the same weights again: resumed, nothing computed


@pytest.mark.slow
def test_two_torchrun_ranks_give_the_numbers_of_one_process(tmp_path):
    """Three noisy batches over two gloo ranks (rank 0 takes two): every per-image score and count
    equals the single process's."""
    path = tmp_path / "tiny.toml"
    path.write_text(SPEC.format(root=FIXTURE_FMNIST).replace("n = 6", "n = 9").replace("noise = 0.0", "noise = 0.05"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = {}
    for name, launcher in (("one", []), ("two", ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"])):
        cmd = [sys.executable, *launcher, "-m", "pagoda_inverse.cli", "benchmark", str(path),
               "-o", str(tmp_path / f"out_{name}"), "--run-dir", str(tmp_path / f"runs_{name}")]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
        runs[name] = tmp_path / f"runs_{name}" / "tiny"
    for method in ("pagoda", "bicubic"):
        one, two = (records(runs[k] / f"{method}.jsonl") for k in ("one", "two"))
        assert sorted(r["start"] for r in two) == [r["start"] for r in one] == [0, 3, 6]
        two = {r["start"]: r for r in two}
        for r in one:
            for key in ("psnr", "ssim", "lpips_alex", "lpips_vgg", "label_correct", "uncertainty_corr", "evaluations"):
                assert r.get(key) == two[r["start"]].get(key), (method, r["start"], key)
    a, b = (json.loads((tmp_path / f"out_{k}" / "tiny.json").read_text())["methods"]["pagoda"] for k in ("one", "two"))
    assert a["psnr"] == b["psnr"] and a["lpips_vgg"] == b["lpips_vgg"]


@pytest.mark.slow
def test_peer_methods_and_fewer_images_see_the_same_measurements(tmp_path):
    """A deepinv peer (DiffPIR, 3 iterations, on a tiny untrained 32x32 prior) and a classical method
    run in batches of one on the first 4 of 6 images: each image's measurement is the one the full-batch
    methods saw (same per-image PSNR on a noisy task), and every method is also summarised on those 4.
    DiffPIR's evaluations are counted on its prior: one per iteration."""
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
    spec = bench.load_spec(path)
    result = bench.run(spec, tmp_path / "out", tmp_path / "runs", only=["bicubic", "bicubic_one_by_one", "diffpir"],
                       progress=False)
    r = result["methods"]
    runs = tmp_path / "runs" / "tiny"
    per_image = lambda name: [p for rec in records(runs / f"{name}.jsonl") for p in rec["psnr"]]  # noqa: E731
    assert per_image("bicubic_one_by_one") == per_image("bicubic")[:4]
    assert r["diffpir"]["images"] == 4 and r["diffpir"]["nfe_per_image"] == 3 and not r["diffpir"]["failed_batches"]
    assert result["common_images"] == 4
    assert r["bicubic"]["on_common_images"]["psnr"]["mean"] == pytest.approx(sum(per_image("bicubic")[:4]) / 4)
    assert r["bicubic"]["on_common_images"]["seconds_per_image"] > 0
    md = (tmp_path / "out" / "tiny.md").read_text()
    assert "| diffpir | 4 |" in md and "On the first 4 images" in md


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


@pytest.mark.slow
def test_photo_specs_run_the_validation_crops_in_tiles(tiny_photo_model, tmp_path):
    """dataset = "photos": the four held-out crops; a model that tiles restores each in blended tiles,
    keeps the observed pixels, and its evaluations are counted over all of an image's tiles: 20x20 in
    16x16 tiles with a quarter overlap is 2 x 2 tiles, each 2 * 3 encoder evaluations (4 levels) and
    2 chains x (1 step + the final decode)."""
    from pagoda_inverse.data.photos import validation_crops
    path = tmp_path / "photo.toml"
    path.write_text(PHOTO_SPEC.format(model=tiny_photo_model))
    result = bench.run(bench.load_spec(path), tmp_path / "out", tmp_path / "runs", progress=False)
    r = result["methods"]
    assert r["pagoda"]["images"] == r["biharmonic"]["images"] == 4 and not r["pagoda"]["failed_batches"]
    assert r["pagoda"]["nfe_per_image"] == 4 * (2 * 3 + 2 * 2)
    x = torch.cat(list(validation_crops(20).values()))
    fig = checkpoint.load(tmp_path / "runs" / "photo" / "pagoda_figure.safetensors")[0]
    assert torch.equal(fig["x"], x[:2])
    mask = box_mask((20, 20), 6)
    assert torch.allclose(fig["x_hat"] * mask, x[:2] * mask, atol=1e-5)  # the observed pixels are put back


def test_every_shipped_spec_loads():
    specs = sorted((Path(__file__).resolve().parent.parent / "tasks").glob("*.toml"))
    assert len(specs) >= 10
    for path in specs:
        bench.load_spec(path)  # its operator, methods and settings are checked there


def test_photo_ablation_table_reads_each_variant_and_keeps_its_training_summary(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import photo_ablation_table

    def summary(psnr, vgg):
        m = {"psnr": psnr, "ssim": 0.9, "haarpsi": 0.95, "lpips_alex": 0.1, "lpips_vgg": vgg, "seconds_per_megapixel": 1.0,
             "psnr_minus_bicubic_db": psnr - 29.0, "lpips_alex_over_bicubic": 0.5, "lpips_vgg_over_bicubic": vgg / 0.15}
        return {"mean_over_kernels": m}

    out, runs = tmp_path / "results", tmp_path / "runs"
    out.mkdir()
    (out / "shipped_x2.json").write_text(json.dumps({"summary": {
        "bicubic": summary(29.0, 0.15), "bicubic_bp": summary(29.6, 0.13),
        "pagoda_native": summary(21.5, 0.40), "pagoda": summary(27.0, 0.20), "pagoda_cli": summary(28.3, 0.17)}}))
    (out / "B_x2.json").write_text(json.dumps({"summary": {
        "bicubic": summary(29.0, 0.15), "pagoda_native": summary(22.6, 0.33), "pagoda": summary(29.1, 0.14)}}))
    run = runs / "photo_ablation_32_B"
    run.mkdir(parents=True)
    (run / "log.jsonl").write_text(json.dumps({"step": 300, "images_per_s": 11.7}) + "\n")
    checkpoint.save(run / "latest.safetensors", {"w": torch.zeros(1)},
                    {"training": {"step": 301, "config": {"train": {"batch_size": 64}}}})
    photo_ablation_table.main(["--dir", str(out), "--runs", str(runs)])
    rows = (out / "table.md").read_text().splitlines()[2:]
    assert [r.split(" | ")[0] for r in rows] == ["| bicubic", "| bicubic, then the bicubic back-projection",
                                                 "| " + photo_ablation_table.VARIANTS["shipped"], "| " + photo_ablation_table.VARIANTS["B"]]
    shipped, b = [[c.strip() for c in r.split("|")[1:-1]] for r in rows[2:]]
    assert shipped[1] == "28.30 (-0.70)" and shipped[6] == "21.50 / 0.400"  # the CLI-path row, then the decoder alone
    assert b[1] == "29.10 (+0.10)" and b[5] == "0.140 (0.93x)" and b[8:] == ["301 (19.3)", "11.7"]
    # the summary is kept beside the results, so the table survives the run folder
    import shutil
    shutil.rmtree(runs)
    photo_ablation_table.main(["--dir", str(out), "--runs", str(runs)])
    assert (out / "table.md").read_text().splitlines()[-1].split("|")[-3:-1] == [" 301 (19.3) ", " 11.7 "]
