"""Tune deepinv's diffusion solvers (DPS, DiffPIR, DDRM; pagoda_inverse/solvers/peers.py) with the peer
prior on images the benchmarks do not report, as tune_solvers.py tuned PaGoDA's settings: Fashion-MNIST
test images from 4000 (the task specs report 0-499), DiffPIR and DDRM on 4000-4029, DPS on the first 10 of
them only (999 network evaluations and as many backward passes per image), each with its true class. On a
2-core CPU the grids below cost about 0.3M network evaluations and 0.3M evaluations with a backward pass
at these sizes; --n 100 --n-dps 30 (the images tune_solvers.py gave PaGoDA) triples that.

Each task spec's operator and noise, drawn as tune_solvers.tuning_problem draws them (seed 12345, one
draw for all the images); each solver run as the benchmark runs it (bench.methods.PeerRow, timed and
counted by bench.runner.run_batch: bench.count_evaluations, bench.score). The grids (deepinv's keywords;
every other setting is deepinv's default, peers.DEFAULTS):
- dps: weight 30, 100, 300, 1000, 3000 ("norm" guidance wants ~hundreds);
- diffpir: lambda_ 1 (the DiffPIR authors' configs), 7 (deepinv's), 25 (the top of the paper's range)
  x zeta 0.1 (deepinv's, the authors' for super-resolution and deblurring), 0.3, 1.0 (theirs for inpainting);
- ddrm: eta 0.5, 0.7, 0.85 (deepinv's), 1.0 x num_steps 20, 50, 100.
DDRM solves a deblurring task with the spec's kernel and CIRCULAR padding (deepinv's BlurFFT), while
the measurement was blurred with reflect padding (solvers/peer_physics.py).

The pick, per task and solver: tune_solvers.pick_row, the lowest VGG LPIPS among the settings whose PSNR
is at least the best classical method's on the same images - 0.8 dB (inpainting: + 0.3 dB), else the
highest PSNR. The unconditional rows (the null class) take the true-class pick.

Each (task, solver, setting) is one record in RUN_DIR/<task>.jsonl (by default benchmarks/results/tune_peers/:
the per-image measurements of every setting tried are results, kept with the repository), appended when it
finishes; a rerun with the same options skips the settings done (a failed one is tried again). Writes OUT
(the grid with every metric, seconds and evaluations per image, the picks, the command), DOC (the same as
tables) and, with --write-specs, the rows dps, dps_unconditional, diffpir, diffpir_unconditional, ddrm,
ddrm_unconditional of each tasks/<task>.toml (other lines untouched; DPS on the first 30 reported images in
batches of 10, the others on the first 100).

    python benchmarks/tune_peers.py --device cuda              # the grids and picks (CPU: leave --device out)
    python benchmarks/tune_peers.py --pick-only --write-specs  # the picked rows into tasks/*.toml
    python benchmarks/tune_peers.py --tasks inpaint_box --peers ddrm --grid 'ddrm={"eta": [0.5, 1.0]}'
"""
import argparse
import itertools
import json
import math
import sys
from pathlib import Path

from pagoda_inverse import checkpoint
from pagoda_inverse.bench import load_spec
from pagoda_inverse.bench.methods import PeerRow, build_row
from pagoda_inverse.bench.runner import run_batch
from pagoda_inverse.bench.scoring import METRICS
from pagoda_inverse.solvers.peers import DEFAULTS as PEER_DEFAULTS, PEERS
from pagoda_inverse.teacher import resolve
from tune_solvers import SPECS, TUNING_SEED as SEED, pick_row, tuning_problem

ROOT = Path(__file__).resolve().parent.parent
GRIDS = {
    "dps": {"weight": [30.0, 100.0, 300.0, 1000.0, 3000.0]},
    "diffpir": {"lambda_": [1.0, 7.0, 25.0], "zeta": [0.1, 0.3, 1.0]},
    "ddrm": {"eta": [0.5, 0.7, 0.85, 1.0], "num_steps": [20, 50, 100]},
}
REPORT = {"dps": {"n": 30, "batch": 10}, "diffpir": {"n": 100}, "ddrm": {"n": 100}}  # the spec rows' images


def grid(settings: dict) -> list[dict]:
    """Every combination of {key: [values]}."""
    return [dict(zip(settings, values)) for values in itertools.product(*settings.values())]


def read_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def means(rec: dict, n: int) -> dict:
    """The mean of each metric over a record's first n images (NaN if any is not finite)."""
    return {k: sum(rec[k][:n]) / len(rec[k][:n]) for k in METRICS}


class Tuner:
    """The records of one run: where they live and what they must have been computed with."""

    def __init__(self, args):
        self.args, self.run_dir = args, Path(args.run_dir)
        try:
            self.prior_sha256 = checkpoint.file_sha256(resolve(args.prior))  # the records' prior, by content
        except (checkpoint.CheckpointError, OSError) as e:
            raise SystemExit(f"--prior {args.prior}: {e}") from None
        self.grids = {**GRIDS, **dict(parse_grid(g) for g in args.grid)}
        for peer, g in self.grids.items():
            unknown = set(g) - set(PEER_DEFAULTS[peer])
            if unknown:
                raise SystemExit(f"{peer}: unknown settings {sorted(unknown)}; known: {', '.join(PEER_DEFAULTS[peer])}")

    def images(self, peer: str | None) -> int:
        return min(self.args.n, self.args.n_dps) if peer == "dps" else self.args.n

    def classical_key(self, name: str, spec, method: str) -> dict:
        return {"task": name, "classical": method, "config": spec.methods[method], "operator": spec.operator,
                "first": self.args.first, "n": self.args.n, "seed": SEED}

    def peer_key(self, name: str, spec, peer: str, settings: dict) -> dict:
        return {"task": name, "peer": peer, "settings": settings, "labels": "true", "prior": self.args.prior,
                "prior_sha256": self.prior_sha256, "operator": spec.operator, "first": self.args.first,
                "n": self.images(peer), "seed": SEED}

    def keys(self, name: str, spec) -> list[tuple[dict, dict]]:
        """(key, method table) of every record this task needs: its classical methods, then the grids."""
        out = [(self.classical_key(name, spec, k), m) for k, m in spec.methods.items()
               if m["method"] != "pagoda" and m["method"] not in PEERS]
        for peer in self.args.peers.split(","):
            for s in grid(self.grids[peer]):
                out.append((self.peer_key(name, spec, peer, s),
                            {"method": peer, "prior": self.args.prior, "labels": "true", "settings": s}))
        return out

    def run(self, name: str, spec) -> None:
        """Compute the records of task `name` not yet done."""
        log = self.run_dir / f"{name}.jsonl"
        done = [r["spec"] for r in read_records(log) if "error" not in r]
        todo = [(key, m) for key, m in self.keys(name, spec) if key not in done]
        if not todo:
            return
        _, x, labels, physics, y = tuning_problem(spec, self.args.first, self.args.n)
        log.parent.mkdir(parents=True, exist_ok=True)
        for key, m in todo:
            k, peer = key["n"], m["method"] in PEERS
            # the peers' networks run on --device, the classical methods on the CPU
            row = PeerRow(m, self.args.device) if peer else build_row(m, None, spec.task)
            op = physics.select(slice(0, k))
            rec, _ = run_batch(row, x[:k], y[:k], op.to(self.args.device) if peer else op, labels[:k], key,
                               self.args.first)
            with open(log, "a") as f:
                f.write(json.dumps(rec) + "\n")
            what = key.get("classical") or f"{key['peer']} {json.dumps(key['settings'])}"
            print(f"{name}: {what}: " + (rec["error"] if "error" in rec else
                  f"PSNR {sum(rec['psnr']) / k:.2f} VGG LPIPS {sum(rec['lpips_vgg']) / k:.4f} "
                  f"{rec['seconds'] / k:.3f} s, {rec['evaluations'] / k:.0f} evaluations per image"), flush=True)

    def summary(self, name: str, spec) -> dict:
        """The task's grid from its records, and each solver's pick by tune_solvers.pick_row."""
        records = read_records(self.run_dir / f"{name}.jsonl")
        found, failed = [], []
        for key, _ in self.keys(name, spec):
            ok = [r for r in records if r["spec"] == key and "error" not in r]
            if ok:
                found.append((key, ok[-1]))
            elif any(r["spec"] == key for r in records):
                failed.append(key)
        classical = {key["classical"]: rec for key, rec in found if "classical" in key}
        out = {"task": spec.task, "classical": {k: means(r, self.args.n) for k, r in classical.items()}, "peers": {}}
        for peer in self.args.peers.split(","):
            n = self.images(peer)
            rows = [{"settings": key["settings"], **means(rec, n), "seconds_per_image": rec["seconds"] / n,
                     "evaluations_per_image": rec["evaluations"] / n}
                    for key, rec in found if key.get("peer") == peer]
            res = {"images": [self.args.first, self.args.first + n - 1], "settings_done": len(rows),
                   "settings_total": len(grid(self.grids[peer])), "grid": rows,
                   "failed": [key["settings"] for key in failed if key.get("peer") == peer]}
            finite = [r for r in rows if all(math.isfinite(r[k]) for k in METRICS)]
            if finite and classical:
                floor = [means(r, n)["psnr"] for r in classical.values()]
                res["best_classical_psnr"] = max(floor)
                res["pick"] = pick_row(finite, floor, spec.task)["settings"]
            out["peers"][peer] = res
        return out


def markdown(results: dict) -> str:
    """The grids as tables, one per task and solver: every setting tried, its means on the tuning images,
    seconds and network evaluations per image, the pick in bold."""
    first = results["images"][0]
    out = ["# The diffusion solvers' settings, tuned", "",
           f"DPS, DiffPIR and DDRM (deepinv, `pagoda_inverse/solvers/peers.py`) on the prior `{results['prior']}`, "
           f"each task's operator and noise, the true class, on Fashion-MNIST test images from {first} (the task "
           "specs report 0-499). The pick (bold): the lowest VGG LPIPS among the settings whose PSNR is at least "
           "the best classical method's on the same images - 0.8 dB (inpainting: + 0.3 dB), else the highest PSNR; "
           "the spec rows `<solver>` and `<solver>_unconditional` run it. Made by", "",
           f"    {results['command']}", ""]
    for name, res in results["tasks"].items():
        for peer, r in res["peers"].items():
            if not r["grid"]:
                continue
            floor = f"; best classical PSNR {r['best_classical_psnr']:.2f} dB" if "best_classical_psnr" in r else ""
            out += [f"## {name}: {peer}", "",
                    f"Images {r['images'][0]}-{r['images'][1]}, {r['settings_done']} of {r['settings_total']} "
                    f"settings done{floor}.", "",
                    "| settings | PSNR | SSIM | LPIPS Alex | LPIPS VGG | s/image | evaluations/image |",
                    "|---|---|---|---|---|---|---|"]
            for row in r["grid"]:
                s = ", ".join(f"{k} {v}" for k, v in row["settings"].items())
                s = f"**{s}**" if row["settings"] == r.get("pick") else s
                out.append(f"| {s} | {row['psnr']:.2f} | {row['ssim']:.3f} | {row['lpips_alex']:.4f} | "
                           f"{row['lpips_vgg']:.4f} | {row['seconds_per_image']:.2f} | {row['evaluations_per_image']:.0f} |")
            out.append("")
    return "\n".join(out)


def parse_grid(text: str) -> tuple[str, dict]:
    """--grid PEER=JSON: the grid of PEER, {keyword: [values]}."""
    peer, _, body = text.partition("=")
    if peer not in PEERS:
        raise SystemExit(f"--grid {text!r}: PEER must be one of {', '.join(PEERS)}")
    values = json.loads(body)
    if not isinstance(values, dict) or not all(isinstance(v, list) and v for v in values.values()):
        raise SystemExit(f"--grid {text!r}: give {{keyword: [values, ...]}}")
    return peer, values


# The spec rows: TOML text edited in place (no TOML writer is installed), every other line kept.

def toml_value(v) -> str:
    """A TOML literal for a bool, int, finite float, string, list or dict (an inline table)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError(f"toml_value: {v} is not a TOML number here")
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a TOML basic string: JSON's escapes are TOML's
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        bare = lambda k: k if k and all(c.isalnum() or c in "_-" for c in k) else json.dumps(k)  # noqa: E731
        return "{ " + ", ".join(f"{bare(k)} = {toml_value(x)}" for k, x in v.items()) + " }" if v else "{}"
    raise ValueError(f"toml_value: no TOML form for {type(v).__name__}")


def method_table(name: str, fields: dict, comments: dict | None = None, note: list[str] = ()) -> list[str]:
    """The lines of [methods.NAME]: comment lines `note`, then `fields` in order; `comments` puts a
    trailing comment on a field."""
    comments = comments or {}
    return [f"[methods.{name}]", *(f"# {line}" for line in note)] + [
        f"{k} = {toml_value(v)}" + (f"  # {comments[k]}" if k in comments else "") for k, v in fields.items()]


def set_method_table(text: str, name: str, table: list[str]) -> str:
    """`text` with its [methods.NAME] table replaced by the lines `table` (the comments and blank lines
    before the next table stay), or `table` appended after a blank line."""
    lines = text.splitlines()
    header = f"[methods.{name}]"
    start = next((i for i, line in enumerate(lines) if line.split("#")[0].strip() == header), None)
    if start is None:
        while lines and not lines[-1].strip():
            lines.pop()
        return "\n".join(lines + [""] + table) + "\n"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1  # what precedes the next table belongs to it
    return "\n".join(lines[:start] + table + lines[end:]) + "\n"


def spec_rows(spec, peer: str, pick: dict, prior: str, images: list[int]) -> dict[str, list[str]]:
    """The two [methods.*] tables of `peer` with the settings picked on test images `images` (first, last):
    the true class and the null class."""
    report = dict(REPORT[peer])
    if "batch" in report and spec.batch % report["batch"]:
        del report["batch"]  # the row's batch must divide the data batch
    comments = {"settings": f"picked on test images {images[0]}-{images[1]} by benchmarks/tune_peers.py"}
    note = []
    padding = spec.operator.get("padding", "reflect")
    if peer == "ddrm" and spec.operator.get("kind") == "blur" and padding != "circular":
        note = ["DDRM solves with the same kernel and CIRCULAR padding (deepinv's BlurFFT, solvers/peer_physics.py);",
                f"y was blurred with {padding} padding."]
    return {f"{peer}{suffix}": method_table(f"{peer}{suffix}", {"method": peer, "labels": labels, "prior": prior,
                                                                 **report, "settings": pick}, comments, note)
            for suffix, labels in (("", "true"), ("_unconditional", "none"))}


def write_specs(specs_dir: Path, results: dict, prior: str) -> None:
    for name, res in results["tasks"].items():
        path = specs_dir / f"{name}.toml"
        spec, text = load_spec(path), path.read_text()
        for peer, r in res["peers"].items():
            if "pick" in r:
                for row, table in spec_rows(spec, peer, r["pick"], prior, r["images"]).items():
                    text = set_method_table(text, row, table)
        path.write_text(text)
        load_spec(path)  # the written spec must load
        print(f"wrote {path}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default=",".join(SPECS), help="task specs (names in --specs)")
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--first", type=int, default=4000, help="the first tuning image of the test split")
    ap.add_argument("--n", type=int, default=30, help="tuning images")
    ap.add_argument("--n-dps", type=int, default=10, help="DPS's tuning images: the first of the --n")
    ap.add_argument("--prior", default="fmnist-peer-32", help="a teacher's registry name or file")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--grid", action="append", default=[], metavar="PEER=JSON",
                    help='replace a solver\'s grid, e.g. ddrm=\'{"eta": [0.5, 1.0]}\' (repeatable)')
    ap.add_argument("--specs", default=str(ROOT / "tasks"), help="the folder of the task specs")
    ap.add_argument("--run-dir", default=str(ROOT / "benchmarks/results/tune_peers"),
                    help="the records, one file per task")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/tune_peers.json"))
    ap.add_argument("--doc", default=str(ROOT / "docs/peer_tuning.md"), help="the grids as markdown tables")
    ap.add_argument("--write-specs", action="store_true", help="put the picked rows into the task specs")
    ap.add_argument("--pick-only", action="store_true", help="recompute the picks from the stored records")
    args = ap.parse_args(argv)
    for peer in args.peers.split(","):
        if peer not in PEERS:
            raise SystemExit(f"--peers: unknown solver {peer!r}; use {', '.join(PEERS)}")
    tuner = Tuner(args)
    results = {"command": "python " + " ".join(sys.argv if argv is None else ["benchmarks/tune_peers.py", *argv]),
               "images": [args.first, args.first + args.n - 1], "prior": args.prior,
               "prior_sha256": tuner.prior_sha256, "seed": SEED, "grids": tuner.grids, "tasks": {}}
    if Path(args.out).exists():  # keep the tasks an earlier run of the same tuning wrote
        old = json.loads(Path(args.out).read_text())
        if all(old.get(k) == results[k] for k in ("images", "prior_sha256", "seed")):
            results["tasks"] = old.get("tasks", {})
    for name in args.tasks.split(","):
        spec = load_spec(Path(args.specs) / f"{name}.toml")
        if not args.pick_only:
            tuner.run(name, spec)
        results["tasks"][name] = res = tuner.summary(name, spec)
        print(f"{name}: picks " + json.dumps({p: r.get("pick") for p, r in res["peers"].items()}), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    Path(args.doc).parent.mkdir(parents=True, exist_ok=True)
    Path(args.doc).write_text(markdown(results))
    print(f"wrote {args.out} and {args.doc}")
    if args.write_specs:
        write_specs(Path(args.specs), results, args.prior)


if __name__ == "__main__":
    main()
