"""Training infrastructure: torchrun data parallelism, exact resume after a kill, safe loading."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from pagoda_inverse import checkpoint
from pagoda_inverse.teacher import load_teacher

from conftest import cli


def tensors_of(path):
    return checkpoint.load(path)[0]


def assert_same_tensors(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.slow
def test_torchrun_two_cpu_ranks_end_identical(tiny_teacher_config):
    cfg, run_dir = tiny_teacher_config("ddp", total_steps=4)
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                        "-m", "pagoda_inverse.cli", "train", "teacher", "--config", str(cfg)],
                       capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    r0, r1 = tensors_of(run_dir / "final-rank0.safetensors"), tensors_of(run_dir / "final-rank1.safetensors")
    assert_same_tensors(r0, r1)
    assert_same_tensors(tensors_of(run_dir / "final.safetensors"), r0)  # the model rank 0 exports
    rows = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4] and all(r["loss"] > 0 for r in rows)


@pytest.mark.slow
def test_resume_after_kill_continues_exactly(tiny_teacher_config):
    steps = 300
    cfg_a, dir_a = tiny_teacher_config("straight", total_steps=steps, batch_size=8, log_every=10, checkpoint_every=20)
    assert cli("train", "teacher", "--config", cfg_a).returncode == 0

    cfg_b, dir_b = tiny_teacher_config("killed", total_steps=steps, batch_size=8, log_every=10, checkpoint_every=20)
    proc = subprocess.Popen([sys.executable, "-m", "pagoda_inverse.cli", "train", "teacher", "--config", str(cfg_b)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt, deadline = dir_b / "checkpoint.safetensors", time.time() + 120
    while time.time() < deadline and not (ckpt.exists() and checkpoint.read_meta(ckpt)["step"] >= 60):
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)  # no chance to save anything more
    proc.wait()
    killed_at = checkpoint.read_meta(ckpt)["step"]
    assert 60 <= killed_at < steps, "the run was not killed mid-way"

    r = cli("train", "teacher", "--config", cfg_b, "--resume")
    assert r.returncode == 0, r.stderr[-2000:]
    assert_same_tensors(tensors_of(dir_a / "final.safetensors"), tensors_of(dir_b / "final.safetensors"))
    assert_same_tensors(tensors_of(dir_a / "checkpoint.safetensors"), tensors_of(dir_b / "checkpoint.safetensors"))
    log_a, log_b = ((d / "log.jsonl").read_text().splitlines() for d in (dir_a, dir_b))
    losses = lambda log: [(json.loads(x)["step"], json.loads(x)["loss"]) for x in log]
    assert losses(log_a) == losses(log_b)  # one row per logged step, none lost or repeated



def test_the_checkpoint_file_alone_resumes_with_the_whole_log(tiny_teacher_config):
    """A run stopped by its time limit leaves its EMA model as latest.safetensors; a run moved to
    another machine as its checkpoint file alone keeps its whole log."""
    cfg, run = tiny_teacher_config("travel", total_steps=4, batch_size=8, log_every=1)
    assert cli("train", "teacher", "--config", cfg, "--max-minutes", "0.00001").returncode == 0  # stops after a step
    assert (run / "latest.safetensors").exists() and not (run / "final.safetensors").exists()
    assert load_teacher(run / "latest.safetensors").meta["training"]["step"] == 1
    assert cli("train", "teacher", "--config", cfg, "--resume").returncode == 0
    assert load_teacher(run / "final.safetensors").meta["training"]["step"] == 4
    log = (run / "log.jsonl").read_text()
    state = (run / "checkpoint.safetensors").read_bytes()
    shutil.rmtree(run)
    run.mkdir()
    (run / "checkpoint.safetensors").write_bytes(state)
    r = cli("train", "teacher", "--config", cfg, "--resume", "--total-steps", "6")
    assert r.returncode == 0, r.stderr[-2000:]
    rows = (run / "log.jsonl").read_text().splitlines()
    assert "".join(r + "\n" for r in rows[:4]) == log and [json.loads(r)["step"] for r in rows] == [1, 2, 3, 4, 5, 6]


def test_resume_without_checkpoint_is_a_one_line_error(tiny_teacher_config):
    cfg, _ = tiny_teacher_config("none")
    r = cli("train", "teacher", "--config", cfg, "--resume")
    assert r.returncode == 2 and "no checkpoint" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_bad_config_key_is_reported(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[model]\nwidth = 3\n")
    r = cli("train", "teacher", "--config", p)
    assert r.returncode == 2 and "unknown key(s) ['width']" in r.stderr and "Traceback" not in r.stderr


def test_pickle_checkpoint_is_refused(tmp_path):
    p = tmp_path / "teacher.safetensors"
    torch.save({"net/conv_in.weight": torch.zeros(1)}, p)
    with pytest.raises(checkpoint.CheckpointError, match="pickle"):
        load_teacher(p)
    r = cli("sample", "--model", p, "--out", tmp_path / "x.png")
    assert r.returncode == 2 and "never unpickles" in r.stderr and not (tmp_path / "x.png").exists()


@pytest.mark.slow
def test_srnet_starts_as_bicubic_and_trains_from_the_cli(tmp_path):
    import torch.nn.functional as F

    from conftest import FIXTURE_FMNIST
    from pagoda_inverse.nets import SRNet, SRNetConfig
    from pagoda_inverse.nets.srnet import load_srnet

    y = torch.rand(2, 3, 8, 8)
    net = SRNet(SRNetConfig(width=8, blocks=2))
    torch.testing.assert_close(net(y), F.interpolate(y, scale_factor=4, mode="bicubic", align_corners=False))
    cfg = tmp_path / "srnet.toml"
    cfg.write_text(f'lowres = "mix"\n[model]\nchannels = 1\nwidth = 8\nblocks = 1\nscale = 4\n'
                   f'[data]\ndataset = "fashion_mnist"\nroot = "{FIXTURE_FMNIST}"\nresolution = 32\nchannels = 1\n'
                   f'[train]\nrun_dir = "{tmp_path / "run"}"\nbatch_size = 8\nlr = 1e-3\ntotal_steps = 3\nlog_every = 1\n')
    r = cli("train", "srnet", "--config", cfg)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all(row["L1"] > 0 and 0 < row["LPIPS"] < 1 for row in rows)
    trained = load_srnet(tmp_path / "run" / "final.safetensors")
    assert trained.meta["training"]["step"] == 3 and trained(torch.rand(1, 1, 8, 8)).shape == (1, 1, 32, 32)
    bad = tmp_path / "bad.toml"
    bad.write_text(cfg.read_text().replace("resolution = 32", "resolution = 30"))
    r = cli("train", "srnet", "--config", bad)
    assert r.returncode != 0 and "divisible by model.scale" in r.stderr and "Traceback" not in r.stderr
    # Stopped part-way and resumed (its photo run spans working days), it ends as one run ends.
    straight, split = (tmp_path / f"{name}.toml" for name in ("straight", "split"))
    for path in (straight, split):
        path.write_text(cfg.read_text().replace(str(tmp_path / "run"), str(tmp_path / path.stem)).replace("total_steps = 3", "total_steps = 5"))
    assert cli("train", "srnet", "--config", straight).returncode == 0
    assert cli("train", "srnet", "--config", split, "--total-steps", "2").returncode == 0
    r = cli("train", "srnet", "--config", split, "--resume")
    assert r.returncode == 0, r.stderr[-2000:]
    assert_same_tensors(tensors_of(tmp_path / "straight" / "final.safetensors"), tensors_of(tmp_path / "split" / "final.safetensors"))
