"""train.devices: N — DistributedDataParallel with gloo on CPU follows the loss curve of one
process with the same global batch; the driver writes the result once."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from upbench.engine import expand
from upbench.engine.distributed import GlooSyncBatchNorm, convert_sync_bn
from upbench.engine.preflight import available_devices, check_devices
from upbench.engine.results import load_results
from upbench.engine.runner import Reporter, run_suite
from upbench.engine.suite import build_suite
from upbench.utils.schema import ConfigError


def _suite(**train):
    return build_suite({"name": "ddp", "input_size": [32, 32], "threads": 1,
                        "dataset": {"num_classes": 3, "train_size": 16, "val_size": 4},
                        "model": {"widths": [4, 4, 8, 8], "decoder_channels": 8},
                        "upsamplers": ["carafe"],
                        "profile": {"flops": False, "latency": False, "memory": False},
                        "train": {"iterations": 5, "batch_size": 4, "lr": 0.01} | train})


@pytest.mark.skipif(available_devices("cpu") < 2, reason="needs 2 CPU cores")
def test_two_gloo_processes_follow_the_single_process_loss_curve(native, tmp_path):
    one, two = _suite(), _suite(devices=2, sync_bn=True)
    r1 = run_suite(one, expand(one), tmp_path / "one")

    class Seen(Reporter):
        def __init__(self):
            self.its = []

        def iteration(self, cell, it, total, loss):
            self.its.append(it)

    seen = Seen()
    r2 = run_suite(two, expand(two), tmp_path / "two", reporter=seen)
    assert seen.its == [1, 2, 3, 4, 5]  # rank 0's log followed by the cell's progress
    (a,), (b,) = r1.results, r2.results
    assert a["status"] == "ok" and b["status"] == "ok", b.get("traceback")
    ca, cb = torch.tensor(a["train"]["loss_curve"]), torch.tensor(b["train"]["loss_curve"])
    assert len(ca) == 5
    torch.testing.assert_close(cb, ca, rtol=1e-4, atol=1e-5)
    # the driver evaluated the trained weights and wrote one result
    assert len(load_results(tmp_path / "two")) == 1
    assert abs(a["metrics"]["mIoU"] - b["metrics"]["mIoU"]) < 1.0


def test_gloo_sync_batch_norm_alone_is_batch_norm():
    torch.manual_seed(0)
    bn = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))
    x = torch.randn(2, 3, 5, 5)
    want = bn(x)
    sync = convert_sync_bn(bn, torch.device("cpu"))
    assert isinstance(sync[1], GlooSyncBatchNorm)
    torch.testing.assert_close(sync(x), want)  # no process group: plain batch norm


def test_more_devices_than_available_is_refused():
    suite = _suite(devices=available_devices("cpu") + 1, batch_size=4 * (available_devices("cpu") + 1))
    with pytest.raises(ConfigError, match="train.devices.*requested but this machine has"):
        check_devices(suite)
