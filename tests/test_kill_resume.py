"""SIGKILL anywhere: the latent-pair cache and a decoder stage (discriminator, EMA, growth) killed at
random moments, some while a chunk or checkpoint file is being written, then resumed, end with the
same latents and weights as an uninterrupted run; no chunk or checkpoint is ever read corrupt."""
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from pagoda_inverse import checkpoint
from pagoda_inverse.teacher import save_teacher

from conftest import cli, tiny_decoder_config
from test_decoder import trained_like_teacher

def write_config(tmp: Path, name: str, teacher: Path, stage="base", init="", resolution=8, steps=40) -> Path:
    """All 300 fixture images and their mirrors in chunks of 50; a checkpoint every step."""
    return tiny_decoder_config(tmp / f"{name}.toml", teacher, tmp / name, tmp / f"latents_{name}", stage, init, resolution,
                               steps, adv=1.0, limit=300, chunk=50, checkpoint_every=1)


# Every run of this test uses one thread: a float sum splits differently over 1 and 2 threads, so runs
# with different thread counts differ in the last bits, which is not what is under test.
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


def kill_when(proc: subprocess.Popen, ready, timeout: float = 120) -> None:
    """SIGKILL `proc` as soon as ready() holds (or at the timeout, or when it ends by itself)."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None and not ready():
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


# `python -m pagoda_inverse.cli`, with every checkpoint write held open for 0.3 s after the
# temporary file is written and before the rename that completes it, so that a kill can land inside one.
SLOW_WRITES = """
import runpy, time
from pagoda_inverse import checkpoint
write = checkpoint.save_file
def slow_write(*args, **kwargs):
    write(*args, **kwargs)
    time.sleep(0.3)
checkpoint.save_file = slow_write
runpy.run_module("pagoda_inverse.cli", run_name="__main__", alter_sys=True)
"""


def start(config: Path, resume: bool, slow_writes: bool = False) -> subprocess.Popen:
    """`train decoder` in its own process, its file writes slowed when `slow_writes`."""
    runner = ["-c", SLOW_WRITES] if slow_writes else ["-m", "pagoda_inverse.cli"]
    args = [sys.executable, *runner, "train", "decoder", "--config", str(config)]
    return subprocess.Popen(args + (["--resume"] if resume else []), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, **ONE_THREAD})


def files_of(folder: Path) -> dict[str, dict[str, torch.Tensor]]:
    return {p.name: checkpoint.load(p)[0] for p in sorted(folder.glob("*.safetensors"))}


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.slow
def test_latent_cache_and_decoder_stage_survive_sigkill_anywhere(tmp_path):
    rng = random.Random(0)
    D = trained_like_teacher(0)
    teacher = tmp_path / "teacher.safetensors"
    save_teacher(teacher, D)

    # The uninterrupted runs: base stage (encodes 600 latents in 12 chunks, then 40 steps), then growth.
    straight = write_config(tmp_path, "straight", teacher)
    assert cli("train", "decoder", "--config", straight, env=ONE_THREAD).returncode == 0
    grow_straight = write_config(tmp_path, "grow_straight", teacher, "grow", tmp_path / "straight" / "final.safetensors", 16, 30)
    assert cli("train", "decoder", "--config", grow_straight, env=ONE_THREAD).returncode == 0

    # 1. The latent cache: killed after a random number of chunks, and while a chunk is being written.
    killed = write_config(tmp_path, "killed", teacher)
    cache = tmp_path / "latents_killed"
    for when in ("chunks", "writing", "chunks"):
        target = rng.randint(1, 10)
        ready = (lambda: len(list(cache.glob("*.safetensors"))) >= target) if when == "chunks" else \
            (lambda: len(list(cache.glob("*.safetensors"))) >= target and any(cache.glob(".*.tmp*")))
        kill_when(start(killed, resume=False, slow_writes=when == "writing"), ready)
        if when == "writing":
            assert any(cache.glob(".*.tmp*")), "the kill did not land inside a chunk write"
        for f in cache.glob("*.safetensors"):  # whatever is there reads whole
            checkpoint.load(f)
    # 2. The decoder stage: killed at random steps, and while the checkpoint is being written.
    run = tmp_path / "killed"
    for when in ("step", "writing", "step", "writing"):
        target = rng.randint(2, 35)
        ckpt = run / "checkpoint.safetensors"
        at_target = lambda: ckpt.exists() and checkpoint.read_meta(ckpt)["step"] >= target  # noqa: E731
        ready = at_target if when == "step" else (lambda: any(run.glob(".checkpoint.safetensors.tmp*")))
        kill_when(start(killed, resume=ckpt.exists(), slow_writes=when == "writing"), ready)
        if when == "writing":
            assert any(run.glob(".checkpoint.safetensors.tmp*")), "the kill did not land inside a checkpoint write"
        if ckpt.exists():
            checkpoint.load(ckpt)  # never partial
    r = cli("train", "decoder", "--config", killed, *(["--resume"] if (run / "checkpoint.safetensors").exists() else []),
            env=ONE_THREAD)
    assert r.returncode == 0, r.stderr[-2000:]
    for name, tensors in files_of(tmp_path / "latents_straight").items():
        assert_same(tensors, files_of(cache)[name])
    assert_same(checkpoint.load(tmp_path / "straight" / "final.safetensors")[0], checkpoint.load(run / "final.safetensors")[0])

    # 3. Growth from the killed run's decoder: killed twice, resumed; equal to the uninterrupted growth.
    grow = write_config(tmp_path, "grow_killed", teacher, "grow", run / "final.safetensors", 16, 30)
    grow_run = tmp_path / "grow_killed"
    for _ in range(2):
        target = rng.randint(2, 25)
        ckpt = grow_run / "checkpoint.safetensors"
        kill_when(start(grow, resume=ckpt.exists()),
                  lambda: ckpt.exists() and checkpoint.read_meta(ckpt)["step"] >= target)
    r = cli("train", "decoder", "--config", grow, "--resume", env=ONE_THREAD)
    assert r.returncode == 0, r.stderr[-2000:]
    assert_same(checkpoint.load(tmp_path / "grow_straight" / "final.safetensors")[0],
                checkpoint.load(grow_run / "final.safetensors")[0])
