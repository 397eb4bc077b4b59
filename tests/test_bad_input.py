"""The bad-input corpus: every input a user can get wrong, across the commands, ends with exit code
2, exactly one line on stderr starting with "error:", no traceback, and no file written. The inputs
are made in a temporary folder; most cases fail before any model loads, the rest load fmnist once."""
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from pagoda_inverse.cli import main
from pagoda_inverse.data import FASHION_MNIST_CLASSES, downsample, fashion_mnist_32, load_image, save_image
from pagoda_inverse.diffusion import to_unit_range

from conftest import FIXTURE_FMNIST, cli

pytestmark = pytest.mark.usefixtures("one_thread", "cached_fmnist")


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (8-bit gray) and which holds no pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def d(tmp_path_factory):
    """The inputs: Fashion-MNIST test images, and files broken in every way the corpus needs."""
    d = tmp_path_factory.mktemp("inputs")
    x, _ = fashion_mnist_32("test", FIXTURE_FMNIST)
    x = to_unit_range(x[:2])
    save_image(x[0], d / "x.png")
    save_image(x[1], d / "x1.png")
    save_image(downsample(x[:1], 8)[0], d / "x8.png")
    save_image(torch.rand(1, 20, 20), d / "x20.png")
    save_image(torch.rand(1, 40, 32), d / "wide.png")  # 32 wide, 40 high
    save_image(torch.ones(1, 16, 16), d / "mask16.png")
    save_image(torch.rand(1, 4, 4), d / "kernel4.png")  # a kernel image of even side
    (d / "empty.png").write_bytes(b"")
    data = (d / "x.png").read_bytes()
    (d / "truncated.png").write_bytes(data[:len(data) // 2])
    (d / "notes.png").write_text("not an image\n")
    (d / "folder.png").mkdir()
    (d / "huge.png").write_bytes(png_header(100_000, 100_000))  # 10^10 pixels: Pillow's decompression-bomb guard
    (d / "bad_task.toml").write_text('task = "wobble"\nmodel = "fmnist"\n[operator]\nkind = "blur"\nblur = "gaussian:1"\n'
                                     f'[data]\ndataset = "fashion_mnist"\nroot = "{FIXTURE_FMNIST}"\nn = 2\n'
                                     '[methods.pagoda]\nmethod = "pagoda"\n')
    (d / "good.toml").write_text('task = "superres"\nmodel = "fmnist"\n[operator]\nkind = "downsampling"\nfactor = 4\n'
                                 f'[data]\ndataset = "fashion_mnist"\nroot = "{FIXTURE_FMNIST}"\nn = 2\nbatch = 2\n'
                                 '[methods.bicubic]\nmethod = "bicubic"\n')
    return d




def unwritable_folder(tmp_path) -> Path:
    """A folder no one may write in: permission bits where they bind, else a read-only file system."""
    if os.geteuid() != 0:
        ro = tmp_path / "read_only"
        ro.mkdir()
        ro.chmod(0o500)
        return ro
    if not Path("/sys").is_dir():
        pytest.skip("running as root without a read-only /sys")
    return Path("/sys")


def cases(d: Path, out: Path, tmp: Path) -> dict:
    """name -> (arguments, a phrase the one line must hold)."""
    x, x8, fm = d / "x.png", d / "x8.png", ("--model", "fmnist")
    return {
        # Input files
        "missing input": (["superres", d / "nosuch.png", "-o", out], "no such file"),
        "empty file": (["deblur", d / "empty.png", "--blur", "gaussian:1", "-o", out], "empty"),
        "truncated png": (["inpaint", d / "truncated.png", "--box", 4, "-o", out], "truncated"),
        "text file as image": (["transfer", d / "notes.png", "--to-class", 1, "-o", out], "unknown format"),
        "folder as image": (["encode", d / "folder.png", "--label", 1, "-o", tmp / "z.safetensors"], "no such file"),
        "huge image header": (["superres", d / "huge.png", "-o", out], "decompression bomb"),
        "huge image to encode": (["encode", d / "huge.png", "--label", 1, "-o", tmp / "z.safetensors"], "decompression bomb"),
        "metrics of two sizes": (["metrics", x, x8], "one size"),
        # Masks and operators
        "mask of another size": (["inpaint", x, *fm, "--mask", d / "mask16.png", "-o", out], "the mask is 16x16"),
        "missing mask file": (["inpaint", x, *fm, "--mask", d / "nosuch_mask.png", "-o", out], "no such file"),
        "no mask": (["inpaint", x, *fm, "-o", out], "none"),
        "two masks": (["inpaint", x, *fm, "--box", 4, "--random", 0.5, "-o", out], "--box, --random"),
        "box of two numbers": (["inpaint", x, *fm, "--box", "1,2", "-o", out], "TOP,LEFT,HEIGHT,WIDTH"),
        "box larger than the image": (["inpaint", x, *fm, "--box", 40, "-o", out], "does not fit"),
        "random fraction 1.5": (["inpaint", x, *fm, "--random", 1.5, "-o", out], "[0, 1)"),
        "blur gaussian:abc": (["deblur", x, *fm, "--blur", "gaussian:abc", "-o", out], "gaussian:abc"),
        "blur gaussian:-1": (["deblur", x, *fm, "--blur", "gaussian:-1", "-o", out], "gaussian:-1"),
        "blur motion:7": (["deblur", x, *fm, "--blur", "motion:7", "-o", out], "motion:7"),
        "blur wobble:3": (["deblur", x, *fm, "--blur", "wobble:3", "-o", out], "no such kernel image"),
        "kernel image of even side": (["deblur", x, *fm, "--blur", d / "kernel4.png", "-o", out], "odd side"),
        "kernel wider than the image": (["deblur", x, *fm, "--blur", "gaussian:11", "-o", out], "32x32"),
        "negative noise": (["deblur", x, *fm, "--blur", "gaussian:1", "--noise", -0.1, "-o", out], "--noise"),
        # Sizes
        "superres input size": (["superres", x, *fm, "-o", out], "8x8"),
        "inpaint input size": (["inpaint", d / "x20.png", *fm, "--box", 4, "-o", out], "resize it to 16x16"),
        "scale the model lacks": (["superres", x8, *fm, "--scale", 3, "-o", out], "2 or 4"),
        "scale 1": (["superres", x8, *fm, "--scale", 1, "-o", out], "--scale"),
        "non-square transfer": (["transfer", d / "wide.png", "--to-class", 1, "-o", out], "32x40"),
        "non-square encode": (["encode", d / "wide.png", "--label", 1, "-o", tmp / "z.safetensors"], "--resize"),
        # Classes, models, tasks, devices
        "label 12": (["superres", x8, *fm, "--label", 12, "-o", out], "0..9"),
        "to-class -1": (["transfer", x, "--to-class", -1, "-o", out], "0..9"),
        "label-b 10": (["interpolate", x, x, "--label-b", 10, "-o", out], "0..9"),
        "encode label 10": (["encode", x, "--label", 10, "-o", tmp / "z.safetensors"], "0..9"),
        "unknown model": (["deblur", x, "--blur", "gaussian:1", "--model", "nosuch", "-o", out], "unknown model 'nosuch'"),
        "teacher as autoencoder": (["transfer", x, "--to-class", 1, "--model", "fmnist-teacher", "-o", out], "autoencoder"),
        "unknown task in a spec": (["benchmark", d / "bad_task.toml", "-o", tmp / "bench"], "wobble"),
        "missing spec": (["benchmark", d / "nosuch.toml", "-o", tmp / "bench"], "nosuch.toml"),
        "device index missing": (["transfer", x, "--to-class", 1, "--device", "cuda:99", "-o", out], "cuda:99"),
        "device not a device": (["sample", "--device", "banana", "-o", out], "banana"),
        "option only pagoda takes": (["deblur", x, "--blur", "gaussian:1", "--method", "wiener", "--steps", 3, "-o", out],
                                     "--steps"),
        "native with uncertainty": (["superres", x8, *fm, "--native", "-o", out, "--uncertainty", tmp / "s.png"], "--native"),
        "spread without restarts": (["superres", x8, "-o", out, "--uncertainty", tmp / "s.png"], "add --restarts 1"),
        "one frame": (["interpolate", x, x, "--frames", 1, "-o", out], "--frames"),
        "publish a partial run": (["benchmark", d / "bad_task.toml", "--publish", "--n", 2], "--publish"),
        "missing train config": (["train", "teacher", "--config", d / "nosuch.toml"], "nosuch.toml"),
        # Outputs
        "output into a missing folder": (["superres", x8, *fm, "-o", tmp / "no" / "such" / "out.png"], "does not exist"),
        "output is a folder": (["inpaint", x, *fm, "--box", 4, "-o", d / "folder.png"], "is a folder"),
        "output not an image name": (["superres", x8, *fm, "-o", tmp / "out.txt"], ".png"),
        "latents not safetensors": (["encode", x, "--label", 1, "-o", tmp / "z.png"], ".safetensors"),
        "spread into a missing folder": (["superres", x8, *fm, "-o", out, "--uncertainty", tmp / "no" / "s.png"],
                                         "--uncertainty"),
        "same file for two outputs": (["superres", x8, *fm, "--restarts", 1, "-o", out, "--uncertainty", out], "same file"),
        "comparison is the output": (["superres", x8, *fm, "-o", out, "--compare", out], "same file"),
        "output is the input": (["deblur", x, *fm, "--blur", "gaussian:1", "-o", x], "same file"),
        "sample into a missing folder": (["sample", "-o", tmp / "no" / "samples.png"], "does not exist"),
        "benchmark into a file": (["benchmark", d / "good.toml", "-o", x], "not a folder"),
        "benchmark on a device index missing": (["benchmark", d / "good.toml", "--device", "cuda:99", "-o", tmp / "b"],
                                                "cuda:99"),
    }


def check_one_line(r, expected: str) -> None:
    assert r.exit_code == 2, (r.exit_code, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert expected in lines[0], lines[0]


CASE_NAMES = list(cases(Path("d"), Path("o.png"), Path("t")))


@pytest.mark.parametrize("case", CASE_NAMES)
def test_bad_input_is_one_line_and_writes_nothing(d, tmp_path, case):
    work = tmp_path / "work"
    work.mkdir()
    before = {p: p.stat().st_mtime_ns for p in d.rglob("*")}
    args, expected = cases(d, work / "out.png", work)[case]
    r = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    check_one_line(r, expected)
    assert not list(work.iterdir()), list(work.iterdir())  # nothing written, not even a partial file
    assert {p: p.stat().st_mtime_ns for p in d.rglob("*")} == before  # and no input touched


def test_device_cuda_without_cuda(d, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    r = CliRunner().invoke(main, ["transfer", str(d / "x.png"), "--to-class", "1", "--device", "cuda",
                                  "-o", str(tmp_path / "t.png")], catch_exceptions=False)
    check_one_line(r, "no CUDA device")
    assert not list(tmp_path.iterdir())


def test_device_index_beyond_the_count(monkeypatch):
    from pagoda_inverse.cli.errors import UserError, check_device
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert check_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(UserError, match=r"cuda:7: this machine has 2 CUDA device\(s\), cuda:0 or cuda:1"):
        check_device("cuda:7")


def test_unwritable_output_folder(d, tmp_path):
    folder = unwritable_folder(tmp_path)
    r = CliRunner().invoke(main, ["superres", str(d / "x8.png"), "--model", "fmnist", "--native",
                                  "-o", str(folder / "out.png")], catch_exceptions=False)
    check_one_line(r, "not writable")
    assert not (folder / "out.png").exists()


@pytest.mark.slow
def test_huge_image_through_the_entry_point(d, tmp_path):
    """In a real process, where a warning or a traceback would reach stderr."""
    r = cli("deblur", d / "huge.png", "--blur", "gaussian:1", "-o", tmp_path / "o.png", env={"OMP_NUM_THREADS": "1"})
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and r.stderr.startswith("error: "), r.stderr
    assert "decompression bomb" in r.stderr and not list(tmp_path.iterdir())


# ---- Inputs the loader supports work (data.MODE_RULE), through a command that needs no model ----


def test_sixteen_bit_png_works(d, tmp_path):
    a = (load_image(d / "x8.png")[0].numpy() * 65535).round().astype(np.uint16)
    Image.fromarray(a).save(tmp_path / "x8_16.png")  # mode I;16
    r = CliRunner().invoke(main, ["superres", str(tmp_path / "x8_16.png"), "--method", "bicubic", "--scale", "4",
                                  "-o", str(tmp_path / "out.png")], catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    assert load_image(tmp_path / "out.png").shape == (1, 32, 32)


def test_palette_png_works(d, tmp_path):
    gray = (load_image(d / "x.png")[0].numpy() * 255).round().astype(np.uint8)
    Image.fromarray(gray).convert("P").save(tmp_path / "x_p.png")
    r = CliRunner().invoke(main, ["inpaint", str(tmp_path / "x_p.png"), "--method", "biharmonic", "--box", "6",
                                  "-o", str(tmp_path / "out.png")], catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    out = load_image(tmp_path / "out.png", channels=1)[0]
    keep = torch.ones(32, 32, dtype=torch.bool)
    keep[13:19, 13:19] = False
    assert (out[keep] - torch.from_numpy(gray / 255.0).float()[keep]).abs().max() <= 1 / 255  # observed pixels kept


def test_class_names_come_from_the_model(d, tmp_path):
    r = CliRunner().invoke(main, ["transfer", str(d / "x.png"), "--to-class", "7", "--label", "9",
                                  "-o", str(tmp_path / "t.png")], catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    assert f"as class 7 ({FASHION_MNIST_CLASSES[7]})" in r.stdout
