from .unet import UNet, UNetConfig
from .srnet import SRNet, SRNetConfig
