"""Datasets: seeded synthetic generators and loaders of real on-disk formats.

Each task builds its splits from these (``upbench/tasks/<task>/data.py``); a split follows
:class:`upbench.tasks.base.Split`.
"""

from upbench.data.batching import TensorSplit, flip_samples
from upbench.data.folder import FolderSegmentation, find_pairs
from upbench.data.synthetic import class_layout, synthetic_split

__all__ = ["FolderSegmentation", "TensorSplit", "class_layout", "find_pairs", "flip_samples",
           "synthetic_split"]
