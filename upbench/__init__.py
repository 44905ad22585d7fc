"""upbench: a benchmark suite for feature-upsampling operators in dense prediction.

Importing upbench loads its native operators when this machine has built them (a saved
``torch.export`` program that calls ``upbench::`` ops then loads in a fresh process); the first
call of an op builds them otherwise.
"""

__version__ = "0.1.0"

from upbench._interrupt import quiet_interrupt

with quiet_interrupt():  # Ctrl-C while the command imports torch: exit 130, no traceback
    from upbench import ops  # noqa: F401  (registers the upbench:: ops when built)
