"""ADE20K in its real on-disk layout (ADEChallengeData2016: images/ and annotations/, training
and validation, 150 classes, label 0 'other' ignored by reduce_zero_label): a tiny generated
copy validates and trains end to end, with the paper recipe's augmentation."""

from __future__ import annotations

import json

import yaml

from tests.cli.helpers import invoke
from tests.data.layouts import make_ade20k
from upbench.data import FolderSegmentation


def test_labels_are_reduced_and_ignored(tmp_path):
    ade = make_ade20k(tmp_path)
    ds = FolderSegmentation(ade, "ade20k", "validation", num_classes=150, size=(40, 56))
    assert len(ds) == 2 and ds.pairs[0].image.name == "ADE_val_00000001.jpg"
    _, y = ds.batch([0])
    assert set(y.unique().tolist()) == {1, 16, 149, 255}  # 1+1-1, 17-1, 150-1, 0 → ignore
    assert len(FolderSegmentation(ade, "ade20k", "train", 150, (40, 56))) == 4  # train alias


def test_ade20k_suite_validates_and_runs(native, tmp_path):
    ade = make_ade20k(tmp_path)
    suite = {
        "name": "ade", "task": "segmentation", "input_size": [32, 32], "threads": 1,
        "dataset": {"kind": "folder", "format": "ade20k", "root": str(ade), "num_classes": 150,
                    "train_split": "training", "val_split": "validation"},
        "model": {"widths": [4, 4, 8, 8], "decoder_channels": 8},
        "train": {"iterations": 2, "batch_size": 2, "eval_batch_size": 2, "optimizer": "adamw",
                  "lr": 6e-5, "weight_decay": 0.01, "schedule": "poly", "warmup_iters": 1,
                  "precision": "bf16", "workers": 1, "checkpoint_every": 1,
                  "augment": {"scale": [0.5, 2.0], "photometric": True}},
        "upsamplers": ["bilinear", "sapa-b"],
        "profile": {"flops": False, "latency": False, "memory": False},
        "metrics": {"trimap_widths": [1]},
    }
    path = tmp_path / "ade.yaml"
    path.write_text(yaml.safe_dump(suite))
    assert invoke("suite", "validate", path).exit_code == 0
    r = invoke("run", path, "--out", tmp_path / "out", "--json")
    assert r.exit_code == 0, r.output
    cells = json.loads(r.output[r.output.index("{"):])["cells"]
    assert [c["status"] for c in cells] == ["ok", "ok"]
    assert all(0 <= c["metrics"]["mIoU"] <= 100 for c in cells)
