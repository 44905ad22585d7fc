"""The training data stream: the seeded order is the historical one, shards split each global
batch, and DataLoader workers give the same batches (and the same training) as none."""

from __future__ import annotations

import torch

from upbench.engine.loader import batch_keys, shard, skip, stream
from upbench.engine.suite import build_suite
from upbench.engine.train import train


def test_order_is_seeded_and_resumable():
    a = list(zip(range(7), batch_keys(10, 3, torch.Generator().manual_seed(1), flip=True),
                 strict=False))
    b = list(zip(range(7), batch_keys(10, 3, torch.Generator().manual_seed(1), flip=True),
                 strict=False))
    for (_, (i1, f1)), (_, (i2, f2)) in zip(a, b, strict=True):
        assert torch.equal(i1, i2) and torch.equal(f1, f2)
    # skipping k keys continues exactly where an uninterrupted stream is
    resumed = skip(batch_keys(10, 3, torch.Generator().manual_seed(1), flip=True), 4)
    i, f = next(resumed)
    assert torch.equal(i, a[4][1][0]) and torch.equal(f, a[4][1][1])
    # every epoch is a permutation without the partial last batch (3 batches of 3 from 10)
    first = torch.cat([k[0] for _, k in a[:3]])
    assert len(set(first.tolist())) == 9


def test_shards_partition_the_global_batch():
    keys = list(zip(range(3), batch_keys(16, 8, torch.Generator().manual_seed(0), flip=True),
                    strict=False))
    g = [k for _, k in keys]
    parts = [list(shard(iter(g), r, 2)) for r in range(2)]
    for j, (idx, f) in enumerate(g):
        assert torch.equal(torch.cat([parts[0][j][0], parts[1][j][0]]), idx)
        assert torch.equal(torch.cat([parts[0][j][1], parts[1][j][1]]), f)


def _suite(**train):
    return build_suite({"name": "w", "input_size": [32, 32], "threads": 1,
                        "dataset": {"num_classes": 3, "train_size": 8, "val_size": 2},
                        "model": {"widths": [4, 4, 8, 8], "decoder_channels": 8},
                        "upsamplers": ["carafe"],
                        "train": {"iterations": 4, "batch_size": 2} | train})


def test_workers_stream_the_same_batches():
    suite = _suite()
    tr, _ = suite.task_def.splits(suite)
    plain = stream(tr, batch_keys(len(tr), 2, torch.Generator().manual_seed(3), True), 0,
                   torch.device("cpu"), 3)
    loaded = stream(tr, batch_keys(len(tr), 2, torch.Generator().manual_seed(3), True), 2,
                    torch.device("cpu"), 3)
    for _ in range(6):
        (x0,), y0 = next(plain)
        (x1,), y1 = next(loaded)
        assert torch.equal(x0, x1) and torch.equal(y0, y1)


def test_training_with_workers_equals_training_without(native):
    out = []
    for workers in (0, 2):
        suite = _suite(workers=workers)
        e = suite.upsamplers[0]
        model = suite.task_def.build_model(suite, e.name, e.hparams, None, 0)
        tr, _ = suite.task_def.splits(suite)
        out.append((train(model, tr, suite.train, 0, torch.device("cpu")), model.state_dict()))
    (r0, s0), (r1, s1) = out
    assert r0["loss_curve"] == r1["loss_curve"]
    assert all(torch.equal(s0[k], s1[k]) for k in s0)
