"""Package layout that pyproject.toml cannot express alone.

ops_cuda/ lives at the top of the repository (docs/architecture.md) and ships inside the wheel as
``upbench/_ops_cuda`` (one data package per operator folder) so that a non-editable install can
still JIT-build the native operators. The stored noise floors (``upbench/noise_floors/*.json``) ship
as package data.
"""

from pathlib import Path

from setuptools import find_packages, setup

SOURCES = ["*.cpp", "*.h", "*.cu", "*.cuh"]
op_dirs = sorted(p.name for p in Path(__file__).parent.joinpath("ops_cuda").iterdir()
                 if p.is_dir())
native = ["upbench._ops_cuda", *(f"upbench._ops_cuda.{d}" for d in op_dirs)]

setup(
    packages=[*find_packages(include=["upbench", "upbench.*"]), *native],
    package_dir={"upbench._ops_cuda": "ops_cuda"},
    # the stored noise floors (`upbench noise`) that compare and the reports read
    package_data={**{p: SOURCES for p in native}, "upbench": ["noise_floors/*.json"]},
)
