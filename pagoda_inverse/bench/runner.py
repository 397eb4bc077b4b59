"""The resumable benchmark loop: every method of a spec on its images, in batches, each batch's
per-image scores appended to RUN_DIR/<spec>/<method>.jsonl as they come, so a killed run continues
where it stopped; a batch a method fails on is recorded with its error (the other methods go on).

Measurement noise and random masks are drawn from (seed, data batch), so a method that takes its
images in smaller batches, or only the first n, sees the very same measurements. Under torchrun the
ranks take the batches in turn and rank 0 writes the records and the outputs, so the numbers do not
depend on the number of processes.
"""
import dataclasses
import json
import time
import traceback
from pathlib import Path

import torch

from .. import checkpoint
from ..distributed import setup_distributed
from ..physics import operator_from_spec
from .methods import build_row
from .report import markdown, write_figure
from .scoring import count_evaluations, score, summarise
from .spec import Spec, load_images


def record_key(spec: Spec, m: dict, row) -> dict:
    """What a record must have been computed with to count: this very method, operator and images and,
    for PaGoDA, its resolved task settings, so a change to configs/tasks.toml or to the model's
    defaults makes the old records stale."""
    return {"method": m, "operator": spec.operator, "data": spec.data, **row.resolved}


def read_records(log: Path, key: dict) -> list[dict]:
    """The records of `log` computed under `key` (a record with no evaluation count is recomputed)."""
    records = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return [r for r in records if r["spec"] == key and ("evaluations" in r or "error" in r)]


def measure(spec: Spec, x_all: torch.Tensor, start: int, stop: int):
    """The clean images start..stop-1, their measurements and the operator for them: the whole data
    batch holding them is measured, then cut, so the measurement does not depend on the method's batch."""
    b0 = start - start % spec.batch
    g = torch.Generator().manual_seed(spec.seed * 1_000_003 + b0)
    physics = operator_from_spec(spec.operator, tuple(x_all.shape[-2:]), spec.seed * 1_000_003 + b0)
    y = physics(x_all[b0:b0 + spec.batch], g)[start - b0:stop - b0]
    return x_all[start:stop], y, physics.select(slice(start - b0, stop - b0))


def run_batch(row, x, y, physics, labels, key: dict, start: int) -> tuple[dict, torch.Tensor | None]:
    """One method on one batch: its record (scores, seconds, counted evaluations, or the error) and
    its outputs (None on failure)."""
    rec = {"spec": key, "start": start, "images": list(range(start, start + len(x)))}
    try:
        with count_evaluations(*row.networks) as count:
            t = time.time()
            x_hat, extras = row(y, physics, labels)
            x_hat = x_hat.cpu()
            rec["seconds"] = time.time() - t
        rec["evaluations"] = count.rows
        rec.update(score(x_hat, x, extras))
        return rec, x_hat
    except Exception as e:  # a failure is recorded, not fatal
        rec["error"] = f"{type(e).__name__}: {e}"
        rec["traceback"] = traceback.format_exc(limit=3)
        return rec, None


def run(spec: Spec, out_dir: str | Path, run_dir: str | Path, n: int | None = None, only: list[str] | None = None,
        device: str | torch.device = "cpu", seed: int | None = None, progress: bool = True) -> dict:
    """Run (or resume) the methods of `spec` (those named in `only`, else all) on its images (the first
    `n`, else all) with the models on `device`, measurement noise and masks drawn from `seed` (else the
    spec's data.seed); records go to <run_dir>/<spec.name>/, and <out_dir>/<spec.name>.json, .md and .png
    are written. Returns the result (the JSON's content)."""
    from tqdm.auto import tqdm

    from ..autoencoder import load

    if seed is not None:
        spec = dataclasses.replace(spec, data={**spec.data, "seed": seed})
    torch.manual_seed(0)
    x_all, labels_all = load_images(spec.data)
    if n is not None:
        x_all, labels_all = x_all[:n], None if labels_all is None else labels_all[:n]
    model = load(spec.model, device)
    run_dir = Path(run_dir) / spec.name
    run_dir.mkdir(parents=True, exist_ok=True)
    methods = {k: v for k, v in spec.methods.items() if not only or k in only}
    rows = {name: build_row(m, model, spec.task) for name, m in methods.items()}
    figure = [i for i in spec.figure_images if i < len(x_all)]
    records: dict[str, list[dict]] = {}
    d = setup_distributed()  # under torchrun, the ranks share each method's batches round-robin
    for name, m in methods.items():
        log = run_dir / f"{name}.jsonl"
        key = record_key(spec, m, rows[name])
        done = read_records(log, key)
        chunk, n_m = int(m.get("batch", spec.batch)), min(len(x_all), int(m.get("n", len(x_all))))
        todo = [s for s in range(0, n_m, chunk) if s not in {r["start"] for r in done}]
        mine = todo[d.rank::d.world]
        bar = tqdm(total=len(todo), desc=name, disable=not (progress and d.is_main))
        for k in range(-(-len(todo) // d.world)):
            rec = None
            if k < len(mine):
                start = mine[k]
                x, y, physics = measure(spec, x_all, start, min(start + chunk, n_m))
                labels = None if labels_all is None else labels_all[start:start + len(x)]
                rec, x_hat = run_batch(rows[name], x, y, physics.to(model.device), labels, key, start)
                if start == 0 and x_hat is not None:
                    shown = [i for i in figure if i < len(x)]
                    checkpoint.save(run_dir / f"{name}_figure.safetensors",
                                    {"x_hat": x_hat[shown], "y": y[shown], "x": x[shown]}, {"kind": "figure"})
            new = [rec]
            if d.world > 1:
                new = [None] * d.world
                torch.distributed.all_gather_object(new, rec)
            new = [r for r in new if r is not None]
            if d.is_main:  # one writer; a killed run loses at most this round
                with open(log, "a") as f:
                    f.writelines(json.dumps(r) + "\n" for r in new)
            done.extend(new)
            bar.update(len(new))
        bar.close()
        records[name] = sorted(done, key=lambda r: r["start"])
    result = {"spec": spec.name, "title": spec.title, "task": spec.task, "model": spec.model, "operator": spec.operator,
              "data": {**spec.data, "n": len(x_all)}, "threads": torch.get_num_threads(),
              "methods": {name: {"config": methods[name], **summarise(records[name])} for name in methods}}
    # Methods run on only the first n images (DPS) are compared with the others on those images.
    common = min(min(len(x_all), int(m.get("n", len(x_all)))) for m in methods.values()) if methods else 0
    if common < len(x_all):
        result["common_images"] = common
        for name in methods:
            result["methods"][name]["on_common_images"] = summarise(records[name], common)
    if d.world > 1:
        torch.distributed.barrier()  # every figure file is written before rank 0 reads them
    if not d.is_main:
        return result
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{spec.name}.json").write_text(json.dumps(result, indent=1) + "\n")
    (out_dir / f"{spec.name}.md").write_text(markdown(result) + "\n")
    write_figure(result, run_dir, out_dir / f"{spec.name}.png")
    return result
