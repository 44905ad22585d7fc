"""The detection task: Faster R-CNN on the upsampler-slotted FPN, the COCO loader with
non-contiguous category ids, a cell end to end with its COCO results JSON."""

from __future__ import annotations

import json

import pytest
import torch

from tests.data.layouts import coco_annotation_file, make_coco
from upbench.engine import ConfigError, expand, load_suite
from upbench.engine.flops import count_flops
from upbench.engine.results import load_results
from upbench.engine.runner import run_suite
from upbench.tasks import Unhostable
from upbench.tasks.detection import TASK
from upbench.upsamplers import get_upsampler_class, list_upsamplers

SUITE = """\
name: det
task: detection
input_size: [64, 64]
dataset: {DATASET}
model: {widths: [8, 8, 16, 16], fpn_channels: 8, representation_size: 16, rpn_batch: 16,
        roi_batch: 8, proposals_train: 20, proposals_test: 10, flops_proposals: 10}
train: {iterations: 2, batch_size: 2, eval_batch_size: 4}
upsamplers: [nearest, carafe, dupsampling]
threads: 1
profile: {flops_size: [64, 64], latency_size: [64, 64], latency_repeats: 2, latency_warmup: 1,
          memory: false}
"""


def _suite(tmp_path, dataset="{num_classes: 3, train_size: 4, val_size: 4}"):
    p = tmp_path / "det.yaml"
    p.write_text(SUITE.replace("{DATASET}", dataset))
    return load_suite(p), p


@pytest.mark.parametrize("name", list_upsamplers())
def test_every_upsampler_is_hosted_in_the_fpn_or_na(name, tmp_path):
    suite, _ = _suite(tmp_path)
    try:
        m = TASK.build_model(suite, name, {}, None, 0)
    except Unhostable as e:
        assert get_upsampler_class(name).space == "label" and str(e)
        return
    train, _ = TASK.splits(suite)
    (x,), t = train.batch(torch.arange(2))
    m.train()
    losses = m.training_losses((x,), t)
    assert set(losses) == {"loss_classifier", "loss_box_reg", "loss_objectness",
                           "loss_rpn_box_reg"}
    sum(losses.values()).backward()
    m.eval()
    with torch.no_grad():
        det = m.infer(x[:1])
    assert set(det[0]) == {"boxes", "labels", "scores"}
    target, part = m.flops_target()
    rep = count_flops(target, (torch.zeros(1, 3, 64, 64),), part)
    assert rep.unsupported_ops == {} and 0 < rep.part < rep.total


def test_same_init_outside_the_slots(tmp_path):
    suite, _ = _suite(tmp_path)
    a = TASK.build_model(suite, "nearest", {}, None, 3).state_dict()
    b = TASK.build_model(suite, "carafe", {}, None, 3).state_dict()
    shared = [k for k in a if ".up." not in k and ".adapt." not in k]
    assert len(shared) > 20 and all(torch.equal(a[k], b[k]) for k in shared)


COCO_DS = ("{kind: folder, format: coco, root: coco, num_classes: 3, "
           f"train_ann: {coco_annotation_file('train')}, val_ann: {coco_annotation_file('val')}, "
           "train_images: train2017, val_images: val2017}")


def test_coco_loader_maps_category_ids_and_resizes_boxes(tmp_path):
    make_coco(tmp_path / "coco")
    suite, p = _suite(tmp_path, COCO_DS)
    TASK.check_data(suite, str(p), deep=True)
    train, val = TASK.splits(suite)
    assert train.category_ids == [1, 3, 7] and len(val) == 3
    (x,), t = train.batch(torch.tensor([1, 2]), torch.tensor([False, True]))
    assert x.shape == (2, 3, 64, 64)
    # image 1 is 90×60 → 64×64: x scales by 64/90, y by 64/60; category 3 → label 2
    torch.testing.assert_close(t[0]["boxes"][0], torch.tensor([10 * 64 / 90, 20 * 64 / 60,
                                                               50 * 64 / 90, 40 * 64 / 60]))
    assert t[0]["labels"].tolist() == [2, 3] and t[0]["iscrowd"].tolist() == [0, 1]
    assert int(t[0]["image_id"]) == 101
    # image 2 (100×60), flipped: x → 64 − x
    x1, x2 = 10 * 64 / 100, 50 * 64 / 100
    torch.testing.assert_close(t[1]["boxes"][0, [0, 2]], torch.tensor([64 - x2, 64 - x1]))
    ev = TASK.evaluator(suite)
    ev.update([{"boxes": t[0]["boxes"], "labels": t[0]["labels"],
                "scores": torch.tensor([0.9, 0.5])}], t[:1])
    assert [a["category_id"] for a in ev.ground_truth()["annotations"]] == [3, 7]


def test_coco_errors_name_the_file(tmp_path):
    root = make_coco(tmp_path / "coco")
    suite, p = _suite(tmp_path, COCO_DS)
    val = root / coco_annotation_file("val")
    bad = json.loads(val.read_text())
    bad["annotations"][0]["category_id"] = 5
    val.write_text(json.dumps(bad))
    with pytest.raises(ConfigError, match=r"val2017.json: annotation id 1 \(#0\): has unknown "
                       "category id 5"):
        TASK.check_data(suite, str(p))
    val.write_text("{not json")
    with pytest.raises(ConfigError, match="val2017.json: not a readable JSON"):
        TASK.check_data(suite, str(p))
    (root / "train2017" / "0.jpg").unlink()
    with pytest.raises(ConfigError, match="train_images.*0.jpg"):
        TASK.check_data(suite, str(p))
    suite2, p2 = _suite(tmp_path, COCO_DS.replace("num_classes: 3", "num_classes: 4"))
    with pytest.raises(ConfigError, match="num_classes: 3"):
        TASK.check_data(suite2, str(p2))


def test_a_detection_cell_end_to_end_with_its_coco_results(tmp_path):
    suite, _ = _suite(tmp_path)
    summary = run_suite(suite, expand(suite), tmp_path / "out")
    recs = {r["label"]: r for r in load_results(tmp_path / "out")}
    assert summary.exit_code == 0 and recs["dupsampling"]["status"] == "n/a"
    r = recs["nearest"]
    assert r["status"] == "ok" and set(r["metrics"]) >= {"AP", "AP50", "AP75", "APs", "APm"}
    assert "box head on 10 proposals" in r["flops"]["counted"]
    art = tmp_path / "out" / r["artifacts"][0]
    dets = json.loads(art.read_text())
    assert art.name.endswith(".detections.json") and isinstance(dets, list)
    assert all(set(d) == {"image_id", "category_id", "bbox", "score"} for d in dets)
