"""Building blocks shared by the task baselines (each baseline lives in its task's folder):
the encoder, the top-down path with ×2 upsampler slots, and slot construction."""

from upbench.models.blocks import BasicBlock, conv_bn
from upbench.models.encoder import Encoder
from upbench.models.slots import SLOT_SEED_OFFSET, Unhostable, make_upsampler

__all__ = ["SLOT_SEED_OFFSET", "BasicBlock", "Encoder", "Unhostable", "conv_bn", "make_upsampler"]
