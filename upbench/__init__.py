"""upbench: a benchmark suite for feature-upsampling operators in dense prediction."""

__version__ = "0.1.0"
