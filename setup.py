"""Package layout that pyproject.toml cannot express alone.

ops_cuda/ lives at the top of the repository (docs/architecture.md) and ships inside the wheel as
``upbench/_ops_cuda`` so that a non-editable install can still JIT-build the native operators.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["upbench", "upbench.*"]), "upbench._ops_cuda"],
    package_dir={"upbench._ops_cuda": "ops_cuda"},
)
