"""The project's one implementation of every metric it reports; tests, benchmarks and the CLI use it.

Images are float tensors (B, C, H, W) in [0, 1]; per-image metrics return (B,) tensors.
- psnr, ssim (quality.py): piq, data_range = 1.0; SSIM_WINDOW_RULE for images under 11 px.
- lpips_distance (lpips.py): LPIPS v0.1, AlexNet (default) or VGG trunk, offline weights;
  LPIPS_RESIZE_RULE brings gray and small images to 3 channels and >= 64 px.
"""
from .lpips import LPIPS_RESIZE_RULE, lpips_distance
from .quality import SSIM_WINDOW_RULE, psnr, ssim
