"""The benchmark runner: a declarative task spec (tasks/*.toml) in; per method PSNR, SSIM, LPIPS
(AlexNet and VGG), seconds and counted network evaluations per image out, as JSON (mean and standard
error), a Markdown table and a figure (input, each method's output, ground truth).

    pagoda-inverse benchmark tasks/superres_x4.toml [--n 100]

    spec = load_spec("tasks/superres_x4.toml")        # checked whole: ConfigError before any work
    result = run(spec, "runs/benchmark_results", "runs/benchmarks", n=100)
    print(markdown(result))

- spec.py: the spec's format, its checks, the images it names.
- methods.py: the rows (PaGoDA, the classical baselines, deepinv's peers) and their keys.
- scoring.py: per-image scores, count_evaluations (forward hooks), the summary statistics.
- runner.py: the resumable, torchrun-shared loop over batches; report.py: the table and the figure.
"""
from .methods import build_row, check_method, is_classical
from .report import markdown, write_figure
from .runner import run
from .scoring import METRICS, count_evaluations, score, summarise
from .spec import Spec, image_size, load_images, load_spec
