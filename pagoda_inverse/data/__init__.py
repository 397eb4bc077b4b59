from .errors import DataError, ImageError
from .cache import cache_dir
from .datasets import (FASHION_MNIST_CLASSES, DataConfig, fashion_mnist_32, image_folder,
                       load_fashion_mnist_uint8, load_training_data, read_idx)
from .images import MODE_RULE, load_image, make_grid, save_image
from .resize import downsample, upsample, upsample_nearest
