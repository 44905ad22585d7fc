"""The paper recipes of ``suites/paper/`` (docs/recipes.md): each names the rows of its SAPA
table that upbench has, validates, refuses to start without its dataset (naming the key and the
override), and runs — shrunk with ``--set`` to two iterations on CPU — on a tiny dataset written
in the real on-disk layout, every cell ``ok``."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli.helpers import invoke
from tests.data.layouts import make_ade20k, make_coco, make_composition1k, make_nyu
from upbench import catalog
from upbench.engine import load_suite
from upbench.papers import get_table

PAPER = Path(__file__).resolve().parents[2] / "suites" / "paper"

# COCO's 80 category ids (1..90 with gaps), so the recipe's num_classes: 80 holds
COCO_IDS = tuple(i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83))

# what shrinks a recipe to seconds on a CPU; everything else stays the recipe's
SHRINK = ("device=cpu", "threads=1", "input_size=[64, 64]", "model.weights=null",
          "train.iterations=2", "train.batch_size=2", "train.eval_batch_size=2",
          "train.devices=1", "train.sync_bn=false", "train.workers=0",
          "dataset.max_train=4", "dataset.max_val=2",
          "profile.latency=false", "profile.memory=false", "profile.flops_size=[64, 64]")


@dataclass(frozen=True)
class Recipe:
    """One paper suite and what its test needs."""

    file: str
    table: str  # the published table (upbench/papers/sapa.yaml) the suite reproduces
    data: Callable[[Path], Path]  # writes the tiny dataset, returns its dataset.root
    sets: tuple[str, ...]  # overrides beyond SHRINK
    only: tuple[str, ...]  # the upsamplers the run test trains


RECIPES = {
    "segformer-b1-ade20k": Recipe(
        "segformer-b1-ade20k.yaml", "sapa-t2-segformer-b1", make_ade20k,
        ("train.precision=bf16",), ("bilinear", "sapa-b")),
    "faster-rcnn-r50-fpn-coco": Recipe(
        "faster-rcnn-r50-fpn-coco.yaml", "sapa-t3-faster-rcnn-r50",
        lambda d: make_coco(d / "coco", category_ids=COCO_IDS),
        ("train.precision=fp32",), ("nearest",)),
    "bts-r50-nyu": Recipe(
        "bts-r50-nyu.yaml", "sapa-t4-bts-r50", lambda d: make_nyu(d / "nyu"),
        ("train.precision=fp32", "metrics.eigen_crop=false"), ("nearest", "sapa-b")),
    "a2u-r34-composition1k": Recipe(
        "a2u-r34-composition1k.yaml", "sapa-t5-a2u-r34",
        lambda d: make_composition1k(d / "Combined_Dataset"),
        ("train.precision=bf16",), ("bilinear", "sapa-b")),
}
# the two ResNet-50 networks take longest on the CPU
SLOW = {"faster-rcnn-r50-fpn-coco", "bts-r50-nyu"}


def _sets(recipe: Recipe, root: Path) -> list[str]:
    out = [*SHRINK, *recipe.sets, f"dataset.root={root}"]
    return [x for s in out for x in ("--set", s)]


def _json(output: str) -> dict:
    return json.loads(output[output.index("{"):])


def test_every_paper_suite_is_tested_and_stored():
    assert sorted(p.stem for p in PAPER.glob("*.yaml")) == sorted(RECIPES)
    stored = catalog.suite_files()
    for stem in RECIPES:
        assert stored[f"paper/{stem}"] == PAPER / f"{stem}.yaml"
        assert catalog.resolve_suite(f"paper/{stem}") == PAPER / f"{stem}.yaml"


@pytest.mark.parametrize("stem", sorted(RECIPES))
def test_the_suite_runs_the_rows_of_its_table_upbench_has(stem, tmp_path):
    recipe = RECIPES[stem]
    suite = load_suite(PAPER / recipe.file, [f"dataset.root={recipe.data(tmp_path)}"])
    table = get_table(recipe.table)
    assert suite.baseline == table.baseline
    assert [e.name for e in suite.upsamplers] == [r.upsampler for r in table.rows if r.upsampler]
    assert suite.name == f"paper-{stem}"  # results/paper-<stem>
    assert suite.device == "cuda" and suite.train.precision in ("bf16", "fp16")
    assert suite.train.checkpoint_every and suite.train.workers > 0


@pytest.mark.parametrize("stem", sorted(RECIPES))
def test_without_its_dataset_the_suite_names_the_override(stem, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = invoke("suite", "validate", f"paper/{stem}", "--set", "device=cpu", "--json")
    assert r.exit_code == 2
    report = _json(r.output)
    assert report["key"] == "dataset.root" and "`--set dataset.root=PATH`" in report["error"]
    listed = {s["name"]: s for s in _json(invoke("suite", "list", "--json").output)["suites"]}
    row = listed[f"paper/{stem}"]
    assert row["error"] is None and row["data"].startswith("not here")
    assert row["cells"] == len(load_suite(PAPER / RECIPES[stem].file,
                                          ["dataset.kind=synthetic"]).upsamplers)


@pytest.mark.parametrize("stem", [pytest.param(s, marks=pytest.mark.slow) if s in SLOW else s
                                  for s in sorted(RECIPES)])
def test_the_recipe_validates_and_runs_on_its_layout(stem, tmp_path, native):
    recipe = RECIPES[stem]
    sets = _sets(recipe, recipe.data(tmp_path))
    only = [x for name in recipe.only for x in ("--only", name)]
    v = invoke("suite", "validate", f"paper/{stem}", *sets, "--json")
    assert v.exit_code == 0, v.output
    assert _json(v.output)["valid"]
    r = invoke("run", f"paper/{stem}", *sets, *only, "--out", tmp_path / "out", "--json")
    assert r.exit_code == 0, r.output
    cells = _json(r.output)["cells"]
    assert sorted(c["label"] for c in cells) == sorted(recipe.only)
    assert all(c["status"] == "ok" for c in cells), cells
    # the recipe's checkpoint at the end of training sits beside each result
    assert len(list((tmp_path / "out").glob("*.ckpt/iter_*2.pt"))) == len(recipe.only)
