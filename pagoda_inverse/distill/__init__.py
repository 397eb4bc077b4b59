"""The PaGoDA autoencoder: the teacher's PF-ODE encoder and the progressively grown one-step decoder."""
from .decoder import Decoder, DecoderConfig
