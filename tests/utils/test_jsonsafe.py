"""JSON output that other tools can read (:mod:`upbench.utils.jsonsafe`, issue 18, item 6):
``compare --format json`` never writes a bare NaN."""

from __future__ import annotations

import json

from tests.cli.helpers import invoke
from tests.helpers.results import result, strict_json


def test_compare_json_never_writes_bare_nan(tmp_path):
    import numpy as np

    bad = result("carafe", 0, 50)
    bad["metrics"].update(mIoU=float("nan"), bIoU=float("inf"))
    bad["latency"] = {"fps": float("nan"), "median_ms": float("-inf")}
    bad["speed"] = {"ratio": float("nan"), "ratio_samples": [float("nan"), 1.0]}
    d = tmp_path / "r"
    d.mkdir()
    # written the way a foreign tool or a hand edit would: bare NaN tokens (Python's json reads
    # them), not upbench's nulls
    (d / "carafe.json").write_text(json.dumps(bad))
    (d / "bilinear.json").write_text(json.dumps(result("bilinear", 0, 40)))
    for args in (["--format", "json"], ["--json"]):
        r = invoke("compare", d, *args)
        assert r.exit_code == 0, r.output
        rows = strict_json(r.stdout)  # raises on NaN / Infinity
        assert {x["upsampler"] for x in rows} == {"bilinear", "carafe"}
    from upbench.utils.jsonsafe import json_safe

    assert json_safe({"a": np.float32("nan"), "b": np.int64(3), "c": np.float64(2.5)}) == {
        "a": None, "b": 3, "c": 2.5}
    assert isinstance(json_safe(np.int64(3)), int)
