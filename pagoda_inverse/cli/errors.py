"""Errors a user can cause, as one line on stderr (`error: ...`), exit code 2, no traceback; and the
output checks that run before any work, so a failed command leaves no file behind."""
import os
import sys
import tempfile
from pathlib import Path

import click

IMAGE_OUT_SUFFIXES = (".png", ".jpg", ".jpeg")


def one_of(items) -> str:
    """"a, b or c": the choices an error message names."""
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


class UserError(click.ClickException):
    """Bad input: printed as one line, exit code 2."""
    exit_code = 2

    def show(self, file=None):
        click.echo(f"error: {self.format_message()}", err=True)


def library_errors() -> tuple[type[Exception], ...]:
    """The library's exceptions that mean bad input (a file, a config, a spec, a value), not a bug."""
    from ..checkpoint import CheckpointError
    from ..config import ConfigError
    from ..data import DataError, ImageError
    from ..metrics.lpips import LPIPSWeightsError
    return (CheckpointError, ConfigError, DataError, ImageError, LPIPSWeightsError, ValueError)


def _message(e: Exception) -> str:
    if isinstance(e, OSError) and e.strerror:  # the file and the reason, without errno noise
        return f"{e.filename}: {e.strerror}" if e.filename else e.strerror
    return " ".join(str(e).split()) or type(e).__name__


class OneLineErrors(click.Group):
    """Usage errors, the library's input errors and file-system errors all end as one line: the
    commands raise, this is the one place that prints."""

    def main(self, args=None, prog_name=None, **extra):
        extra.pop("standalone_mode", None)
        try:
            code = super().main(args, prog_name, standalone_mode=False, **extra)
        except click.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(1)
        except click.UsageError as e:
            where = f" (see {e.ctx.command_path} --help)" if e.ctx is not None else ""
            click.echo(f"error: {' '.join(e.format_message().split())}{where}", err=True)
            sys.exit(2)
        except click.ClickException as e:
            e.show()
            sys.exit(e.exit_code)
        except (*library_errors(), OSError) as e:
            click.echo(f"error: {_message(e)}", err=True)
            sys.exit(2)
        sys.exit(code if isinstance(code, int) else 0)


def check_output(path: str, option: str = "--out", suffixes: tuple[str, ...] = IMAGE_OUT_SUFFIXES) -> None:
    """Refuse an output path that cannot be written, before any work is done. The folder is probed
    with a real file, since permission bits do not bind every user (root) or file system."""
    p = Path(path)
    if p.is_dir():
        raise UserError(f"{option} {path} is a folder; give a file name")
    if p.suffix.lower() not in suffixes:
        raise UserError(f"{option} {path}: give a {one_of(suffixes)} file name")
    check_folder(p.parent, f"{option} {path}: the folder {p.parent}")


def check_folder(folder: Path, what: str, create: bool = False) -> None:
    """Refuse a folder that does not exist (unless `create`) or cannot be written in."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{what} is a file, not a folder")
    if create and not folder.exists():
        try:
            folder.mkdir(parents=True, exist_ok=True)  # exist_ok: torchrun's ranks race to make it
        except OSError as e:
            raise UserError(f"{what} cannot be made ({e.strerror or e})") from None
    if not folder.is_dir():
        raise UserError(f"{what} does not exist")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".pagoda-write-check-"):
            pass
    except OSError:
        raise UserError(f"{what} is not writable") from None


def check_outputs(outputs: dict[str, str | None], inputs=(), suffixes: tuple[str, ...] = IMAGE_OUT_SUFFIXES) -> None:
    """Each named output checked, no two the same file, and none of them an input (a failed or
    finished run must not have overwritten what it read)."""
    given = {option: path for option, path in outputs.items() if path is not None}
    seen: dict[Path, str] = {Path(p).resolve(): f"input {p}" for p in inputs if p is not None}
    for option, path in given.items():
        check_output(path, option, suffixes)
        where = Path(path).resolve()
        if where in seen:
            raise UserError(f"{option} {path} names the same file as {seen[where]}; give another name")
        seen[where] = option


def check_device(device: str):
    """A torch device that exists here: cpu, cuda (when there is one), cuda:N (N below the count), mps."""
    import torch
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise UserError(f"--device {device}: not a device; use cpu, cuda, cuda:N or mps") from None
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise UserError(f"--device {device}: this machine has no CUDA device; use --device cpu")
        if dev.index is not None and dev.index >= count:
            raise UserError(f"--device {device}: this machine has {count} CUDA device(s), "
                            f"{one_of(f'cuda:{i}' for i in range(count))}")
        return dev
    if dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise UserError(f"--device {device}: MPS is not available here; use --device cpu")
        return dev
    raise UserError(f"--device {device}: not a device this runs on; use cpu, cuda, cuda:N or mps")


def rank() -> int:
    """This process's rank under torchrun (0 alone): only rank 0 prints the results."""
    return int(os.environ.get("RANK", "0"))
