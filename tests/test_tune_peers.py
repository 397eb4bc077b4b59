"""benchmarks/tune_peers.py: the spec-table writer (written specs load, every other line kept), the
tuning measurement (tune_solvers.tuning_problem's), and the whole command on a tiny untrained prior:
grid records, resume, picks by tune_solvers.pick_row, the rows written into copies of the task specs."""
import json
import os
import subprocess
import sys

import pytest
import torch

from pagoda_inverse.bench import load_spec

from conftest import FIXTURE_FMNIST, ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import tune_peers  # noqa: E402
import tune_solvers  # noqa: E402

SIX = tune_solvers.SPECS
PICKS = {"dps": {"weight": 300.0}, "diffpir": {"lambda_": 7.0, "zeta": 0.3}, "ddrm": {"eta": 0.85, "num_steps": 50}}


@pytest.fixture
def specs(tmp_path):
    """Copies of the six Fashion-MNIST task specs as they were before the peers' rows (written last,
    from [methods.dps] on), so that writing them is tested from the start."""
    d = tmp_path / "tasks"
    d.mkdir()
    for name in SIX:
        text = (ROOT / "tasks" / f"{name}.toml").read_text()
        (d / f"{name}.toml").write_text(text.split("\n\n[methods.dps]\n")[0].rstrip("\n") + "\n")
    return d


def test_toml_value():
    assert tune_peers.toml_value(300.0) == "300.0" and tune_peers.toml_value(1e-5) == "1e-05"
    assert tune_peers.toml_value(50) == "50" and tune_peers.toml_value(True) == "true"
    assert tune_peers.toml_value('a "b"\\c') == '"a \\"b\\"\\\\c"'
    assert tune_peers.toml_value({"eta": 0.5, "num_steps": 20}) == "{ eta = 0.5, num_steps = 20 }"
    assert tune_peers.toml_value({"a b": [1, 2]}) == '{ "a b" = [1, 2] }'
    with pytest.raises(ValueError):
        tune_peers.toml_value(float("nan"))


def test_set_method_table_replaces_appends_and_keeps_every_other_line():
    text = ('task = "deblur"\n\n[methods.a]\nmethod = "wiener"\nx = 1\n\n# about b\n[methods.b]\nmethod = "b"\n'
            '\n[methods.c]\nmethod = "c"  # kept\n')
    table = ["[methods.b]", 'method = "dps"']
    out = tune_peers.set_method_table(text, "b", table)
    assert out == text.replace('[methods.b]\nmethod = "b"\n', '[methods.b]\nmethod = "dps"\n')
    assert tune_peers.set_method_table(out, "b", table) == out  # idempotent
    last = tune_peers.set_method_table(text, "c", ["[methods.c]", 'method = "d"'])
    assert last == text.replace('method = "c"  # kept\n', 'method = "d"\n')
    new = tune_peers.set_method_table(text + "\n\n", "z", ["[methods.z]", 'method = "z"'])
    assert new == text + '\n[methods.z]\nmethod = "z"\n'
    assert tune_peers.set_method_table(new, "z", ["[methods.z]", 'method = "y"']).count("[methods.z]") == 1


def test_written_rows_load_and_leave_the_spec_as_it_was(specs):
    results = {"tasks": {name: {"peers": {p: {"pick": s, "images": [4000, 4029 if p == "dps" else 4099]}
                                          for p, s in PICKS.items()}} for name in SIX}}
    before = {name: (specs / f"{name}.toml").read_text() for name in SIX}
    original = {name: load_spec(specs / f"{name}.toml") for name in SIX}
    tune_peers.write_specs(specs, results, "fmnist-peer-32")
    for name in SIX:
        text = (specs / f"{name}.toml").read_text()
        assert text.startswith(before[name].rstrip("\n") + "\n\n[methods.dps]\n")  # appended: nothing else changed
        spec = load_spec(specs / f"{name}.toml")
        assert not any(p in original[name].methods for p in PICKS)
        assert {k: v for k, v in spec.methods.items() if k in original[name].methods} == original[name].methods
        for peer, pick in PICKS.items():
            true, null = spec.methods[peer], spec.methods[f"{peer}_unconditional"]
            assert true["method"] == null["method"] == peer and true["prior"] == "fmnist-peer-32"
            assert (true["labels"], null["labels"]) == ("true", "none")
            assert true["settings"] == null["settings"] == pick
            assert true["n"] == (30 if peer == "dps" else 100) and true.get("batch") == (10 if peer == "dps" else None)
        circular = "CIRCULAR padding" in text
        assert circular == (spec.operator["kind"] == "blur"), name  # DDRM's deblurring rows say what they solve
    # A second write with other picks replaces the six rows, and only them.
    once = {name: (specs / f"{name}.toml").read_text() for name in SIX}
    results["tasks"]["inpaint_box"]["peers"]["ddrm"]["pick"] = {"eta": 1.0, "num_steps": 20}
    tune_peers.write_specs(specs, results, "fmnist-peer-32")
    assert {n: (specs / f"{n}.toml").read_text() for n in SIX if n != "inpaint_box"} == \
        {n: t for n, t in once.items() if n != "inpaint_box"}
    changed = (specs / "inpaint_box.toml").read_text()
    assert changed.replace("eta = 1.0, num_steps = 20", "eta = 0.85, num_steps = 50") == once["inpaint_box"]


@pytest.mark.parametrize("name", ["superres_x4_noisy", "inpaint_random", "deblur_motion"])
def test_tuning_problem_takes_a_name_or_a_loaded_spec(name, monkeypatch):
    """tune_peers measures through tune_solvers.tuning_problem with a loaded spec (a copy, in tests)."""
    monkeypatch.setenv("PAGODA_FASHION_MNIST", str(FIXTURE_FMNIST))
    _, x, labels, physics, y = tune_solvers.tuning_problem(load_spec(ROOT / "tasks" / f"{name}.toml"), 5, 3)
    _, x0, labels0, physics0, y0 = tune_solvers.tuning_problem(name, 5, 3)
    assert torch.equal(x, x0) and torch.equal(labels, labels0) and torch.equal(y, y0)
    assert torch.equal(physics.A(x), physics0.A(x))


def test_grid_and_bad_options():
    assert tune_peers.grid({"eta": [0.5, 1.0], "num_steps": [20]}) == [{"eta": 0.5, "num_steps": 20},
                                                                        {"eta": 1.0, "num_steps": 20}]
    assert tune_peers.parse_grid('ddrm={"eta": [0.5]}') == ("ddrm", {"eta": [0.5]})
    with pytest.raises(SystemExit, match="PEER"):
        tune_peers.parse_grid('ddpm={"eta": [0.5]}')
    with pytest.raises(SystemExit, match="values"):
        tune_peers.parse_grid('ddrm={"eta": 0.5}')


@pytest.mark.slow
def test_tune_peers_end_to_end(specs, tmp_path, monkeypatch):
    """Three tasks (one per operator kind), 2 tuning images (DPS 1), 2 settings per solver, 3 steps."""
    pytest.importorskip("deepinv")
    from pagoda_inverse.nets import UNetConfig
    from pagoda_inverse.teacher import build_teacher, save_teacher

    torch.manual_seed(0)
    prior = tmp_path / "prior.safetensors"
    save_teacher(prior, build_teacher(UNetConfig(resolution=32, channels=1, model_channels=16, channel_mult=[1, 2],
                                                 num_res_blocks=1, attn_resolutions=[], num_classes=10)))
    tasks = ["superres_x4", "inpaint_box", "deblur_gaussian"]
    out, runs = tmp_path / "tune_peers.json", tmp_path / "runs"
    args = ["--tasks", ",".join(tasks), "--first", "0", "--n", "2", "--n-dps", "1", "--prior", str(prior),
            "--grid", 'dps={"weight": [100.0, 300.0], "num_steps": [3]}',
            "--grid", 'diffpir={"lambda_": [1.0, 7.0], "max_iter": [3]}',
            "--grid", 'ddrm={"eta": [0.5, 1.0], "num_steps": [3]}',
            "--specs", str(specs), "--run-dir", str(runs), "--out", str(out), "--doc", str(tmp_path / "tuning.md"), "--write-specs"]
    env = {**os.environ, "PAGODA_FASHION_MNIST": str(FIXTURE_FMNIST), "OMP_NUM_THREADS": "1"}  # tiny images
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "tune_peers.py"), *args], capture_output=True,
                       text=True, env=env, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["command"].startswith("python ") and res["images"] == [0, 1]
    nfe = {"dps": 2, "diffpir": 3, "ddrm": 3}  # per image: DPS skips t = 0
    for name in tasks:
        t = res["tasks"][name]
        assert t["classical"] and all("psnr" in v for v in t["classical"].values())
        for peer, p in t["peers"].items():
            assert p["settings_done"] == p["settings_total"] == 2 and not p["failed"], (name, peer)
            assert p["images"] == ([0, 0] if peer == "dps" else [0, 1])
            for row in p["grid"]:
                assert row["evaluations_per_image"] == nfe[peer] and row["seconds_per_image"] > 0
                assert all(k in row for k in ("psnr", "ssim", "lpips_alex", "lpips_vgg"))
            assert p["pick"] == tune_solvers.pick_row(p["grid"], [p["best_classical_psnr"]], t["task"])["settings"]
        spec = load_spec(specs / f"{name}.toml")
        for peer in nfe:
            assert spec.methods[peer]["settings"] == t["peers"][peer]["pick"]
            assert spec.methods[f"{peer}_unconditional"]["labels"] == "none"
        lines = (runs / f"{name}.jsonl").read_text().splitlines()
        assert len(lines) == len(t["classical"]) + 6
    doc = (tmp_path / "tuning.md").read_text()  # a table per task and solver, a row per setting, the pick in bold
    assert doc.count("| settings |") == 3 * len(tasks) and doc.count("**") == 2 * 3 * len(tasks)
    for name in tasks:
        for peer, p in res["tasks"][name]["peers"].items():
            bold = "**" + ", ".join(f"{k} {v}" for k, v in p["pick"].items()) + "**"
            assert bold in doc.split(f"## {name}: {peer}")[1].split("## ")[0]
    # Resume: a rerun computes nothing; --pick-only recomputes the same picks from the records.
    monkeypatch.setenv("PAGODA_FASHION_MNIST", str(FIXTURE_FMNIST))
    tune_peers.main(args)
    assert [len((runs / f"{n}.jsonl").read_text().splitlines()) for n in tasks] == \
        [len(res["tasks"][n]["classical"]) + 6 for n in tasks]
    out.unlink()
    tune_peers.main(args + ["--pick-only"])
    again = json.loads(out.read_text())
    assert {n: {p: v["pick"] for p, v in t["peers"].items()} for n, t in again["tasks"].items()} == \
        {n: {p: v["pick"] for p, v in t["peers"].items()} for n, t in res["tasks"].items()}


def test_headline_judges_pagoda_against_the_best_peer_by_each_lpips_and_against_dps_time():
    import headline

    def row(alex, vgg, psnr, seconds, method):
        return {"config": {"method": method}, "lpips_alex": {"mean": alex}, "lpips_vgg": {"mean": vgg},
                "psnr": {"mean": psnr}, "seconds_per_image": seconds}

    peers = {"dps": row(0.10, 0.20, 20.0, 30.0, "dps"), "ddrm": row(0.12, 0.15, 21.0, 1.0, "ddrm")}
    result = {"methods": {"pagoda": row(0.105, 0.16, 20.5, 1.0, "pagoda"), **peers}, "data": {"n": 500}, "common_images": 30}
    cells = [c.strip() for c in headline.peer_row("inpaint_box", result, peers).split("|")[1:-1]]
    assert cells[1] == "30" and cells[3] == "dps 0.100" and cells[4] == "ddrm 0.150"
    assert cells[5:8] == ["1.05", "1.07", "20.50 / 21.00"] and cells[9] == "30x" and cells[10] == "met"
    result["methods"]["pagoda"]["seconds_per_image"] = 2.0  # 15x less time than DPS: the goal is missed
    assert headline.peer_row("inpaint_box", result, peers).rstrip(" |").endswith("missed")
    # The README's summary: the best classical and the best peer by VGG LPIPS (lowest) and PSNR (highest).
    rows = {**result["methods"], "wiener": row(0.30, 0.40, 19.0, 0.01, "wiener"),
            "ddrm_unconditional": row(0.13, 0.17, 21.5, 1.0, "ddrm")}
    cells = [c.strip() for c in headline.summary_row("inpaint_box", rows, {"wiener"},
                                                      {"dps", "ddrm", "ddrm_unconditional"}).split("|")[1:-1]]
    assert cells == ["`inpaint_box`", "0.160", "wiener 0.400", "ddrm 0.150", "20.50", "wiener 19.00",
                     "ddrm (uncond.) 21.50", "15x"]
