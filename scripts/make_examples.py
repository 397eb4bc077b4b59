"""The example photograph the README's first command super-resolves, made from a held-out photo.

scikit-image's `chelsea` (CC0, Stefan van der Walt; held out from all training, docs/photo_data.md):
the 256x384 region around the cat's face, brought to 64x96 by Pillow's bicubic (8 bits), as a user's
small image would be made (benchmarks/photo_superres.py measures on this photo with its ground truth).

    python scripts/make_examples.py
"""
from pathlib import Path

from pagoda_inverse.data import save_image
from pagoda_inverse.data.photos import skimage_photo
from pagoda_inverse.data.resize import degrade

OUT = Path(__file__).resolve().parent.parent / "docs" / "examples"
TOP, LEFT, H, W = 20, 40, 256, 384  # the face and both ears, inside chelsea's 300x451


def main():
    x = skimage_photo("chelsea")[None, :, TOP:TOP + H, LEFT:LEFT + W]
    save_image(degrade(x, (H // 4, W // 4), "bicubic")[0], OUT / "chelsea_96x64.png")
    print(f"wrote {OUT / 'chelsea_96x64.png'}")


if __name__ == "__main__":
    main()
