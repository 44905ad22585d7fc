"""Package layout that pyproject.toml cannot express alone.

Three top-level folders of the repository ship inside the wheel under other names, so that a
``pip install upbench`` away from the source tree has everything a checkout has:

* ``ops_cuda/`` → ``upbench/_ops_cuda`` (one data package per operator folder): the native
  sources, JIT-built on first use (docs/architecture.md);
* ``suites/`` → ``upbench/_suites``: the stored suites, run by name (``upbench run quick``),
  with the paper recipes of ``suites/paper/`` (``upbench run paper/segformer-b1-ade20k``);
* ``results/baselines/`` → ``upbench/_baselines``: the stored CI baselines, found by suite name
  (``upbench check DIR``).

(Data inside the package itself, e.g. the published tables ``upbench/papers/*.yaml``, is listed
in ``package_data`` as well.)

The folders stay where they are in the repository; :mod:`upbench.catalog` and
:mod:`upbench.ops._sources` read the checkout's folders in a source checkout and the packaged
copies in an installed wheel.
"""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent
SOURCES = ["*.cpp", "*.h", "*.cu", "*.cuh"]
op_dirs = sorted(p.name for p in ROOT.joinpath("ops_cuda").iterdir() if p.is_dir())
native = ["upbench._ops_cuda", *(f"upbench._ops_cuda.{d}" for d in op_dirs)]

setup(
    packages=[*find_packages(include=["upbench", "upbench.*"]), *native, "upbench._suites",
              "upbench._baselines"],
    package_dir={"upbench._ops_cuda": "ops_cuda", "upbench._suites": "suites",
                 "upbench._baselines": "results/baselines"},
    package_data={**{p: SOURCES for p in native}, "upbench._suites": ["*.yaml", "paper/*.yaml"],
                  "upbench._baselines": ["*.json"], "upbench": ["py.typed", "noise_floors/*.json"],
                  "upbench.papers": ["*.yaml"]},
)
