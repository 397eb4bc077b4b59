from .unet import UNet, UNetConfig
