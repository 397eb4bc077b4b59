"""Do the tests catch wrong values? Apply one deliberate break at a time to the library, run the
test meant to catch it, and restore the file (run it on a clean checkout, nothing else running
from it). Writes one JSON line per break: caught (the test failed), its summary and first error.

    python benchmarks/deliberate_breaks.py [--only 0 3] [--out benchmarks/results/deliberate_breaks.jsonl]
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (what is broken, file, text, broken text, the test that should fail)
BREAKS = [
 ("hinge D loss uses relu(1 + real)", "pagoda_inverse/distill/loss.py", "F.relu(1 - real_scores)", "F.relu(1 + real_scores)",
  "tests/test_decoder.py::test_hinge_losses_and_the_generator_objective_on_known_values"),
 ("adaptive weight inverted (|grad L_adv| / |grad L_rec|)", "pagoda_inverse/distill/loss.py", "(g_rec.norm() / (g_adv.norm() + 1e-4))", "(g_adv.norm() / (g_rec.norm() + 1e-4))",
  "tests/test_decoder.py::test_adaptive_weight_is_gradient_norm_ratio"),
 ("growth leaves the whole up path trainable", "pagoda_inverse/distill/decoder.py", "for block in list(self.net.dec)[len(self.net.dec) - trainable_up_blocks:]:", "for block in list(self.net.dec):",
  "tests/test_decoder.py -k grow"),
 ("mirror chunks encode the unmirrored image", "pagoda_inverse/distill/latents.py", "xb.flip(-1) if flip else xb", "xb",
  "tests/test_decoder.py -k grow"),
 ("benchmark noise drawn from each process's own random stream", "pagoda_inverse/bench/runner.py", "g = torch.Generator().manual_seed(spec.seed * 1_000_003 + b0)", "g = None",
  "tests/test_benchmark.py::test_two_torchrun_ranks_give_the_numbers_of_one_process"),
 ("latent chunks shared out but rank 1 uses the null label", "pagoda_inverse/distill/latents.py", "y[i].to(device), cfg.levels", "(y[i] if rank == 0 else torch.full_like(y[i], 10)).to(device), cfg.levels",
  "tests/test_autoencoder.py -k share_the_latent"),
 ("resume forgets the discriminator's Adam state", "pagoda_inverse/train/loop.py",
  "        for name, opt in self.optimizers.items():\n            checkpoint.optimizer_from_flat(",
  "        for name, opt in self.optimizers.items():\n            if name == \"disc\":\n                continue\n            checkpoint.optimizer_from_flat(",
  "tests/test_kill_resume.py"),
 ("writes in place instead of temporary file + rename", "pagoda_inverse/checkpoint.py",
  """    try:
        save_file(tensors, str(tmp), metadata={META_KEY: json.dumps(meta)})
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)""",
  """    from safetensors.torch import save as to_bytes
    data = to_bytes(tensors, metadata={META_KEY: json.dumps(meta)})
    with open(path, "wb") as f:
        f.write(data[:len(data) // 2])
        f.flush()
        save_file({}, str(tmp))  # the test's slowed save_file holds this moment open while a .tmp file exists
        f.write(data[len(data) // 2:])
    tmp.unlink(missing_ok=True)""",
  "tests/test_kill_resume.py"),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", type=int, nargs="*", help="indices into BREAKS")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/deliberate_breaks.jsonl"))
    args = ap.parse_args()
    rows = []
    for i, (name, path, old, new, test) in enumerate(BREAKS):
        if args.only and i not in args.only:
            continue
        path = ROOT / path
        src = path.read_text()
        if src.count(old) != 1:
            sys.exit(f"break {i} ({name}): the text to break occurs {src.count(old)} times in {path}; update BREAKS")
        path.write_text(src.replace(old, new))
        try:
            t = time.time()
            r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", *test.split()], cwd=ROOT, capture_output=True, text=True)
            lines = [line for line in r.stdout.splitlines() if line.strip()]
            rows.append({"break": name, "test": test, "caught": r.returncode != 0, "summary": lines[-1] if lines else "",
                         "first_error": next((line for line in lines if line.startswith("E ")), ""), "seconds": round(time.time() - t)})
            print(json.dumps(rows[-1]), flush=True)
        finally:
            path.write_text(src)
    # Rows of breaks not run this time (--only) are kept.
    old = [json.loads(line) for line in Path(args.out).read_text().splitlines()] if Path(args.out).exists() else []
    ran = {r["break"] for r in rows}
    keep = {r["break"]: r for r in old if r["break"] not in ran} | {r["break"]: r for r in rows}
    Path(args.out).write_text("".join(json.dumps(keep[name]) + "\n" for name, *_ in BREAKS if name in keep))


if __name__ == "__main__":
    main()
