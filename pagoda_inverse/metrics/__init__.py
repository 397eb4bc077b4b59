"""The project's one implementation of every metric it reports; tests, benchmarks and the CLI use it.

Images are float tensors (B, C, H, W) in [0, 1]; per-image metrics return (B,) tensors.
- psnr, ssim, haarpsi (quality.py): piq, data_range = 1.0; SSIM_WINDOW_RULE for images under 11 px.
- lpips_distance (lpips.py): LPIPS v0.1, AlexNet (default) or VGG trunk, offline weights;
  LPIPS_RESIZE_RULE brings gray and small images to 3 channels and >= 64 px.
- FashionMNISTJudge, class_accuracy (classifier.py), fid, kid (fid.py): the project's
  Fashion-MNIST classifier and the Frechet / kernel distances of its penultimate features;
  JUDGE_RESIZE_RULE brings any square grayscale size to its 32x32.
"""
from .classifier import JUDGE_RESIZE_RULE, FashionMNISTJudge, class_accuracy
from .fid import fid, kid
from .lpips import LPIPS_RESIZE_RULE, lpips_distance
from .quality import SSIM_WINDOW_RULE, haarpsi, psnr, ssim
