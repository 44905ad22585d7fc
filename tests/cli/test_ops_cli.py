"""``upbench ops`` end to end through click."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from tests.cli.helpers import invoke
from upbench.cli.main import cli


def _run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_list_json(native):
    res = _run("ops", "list", "--json")
    assert res.exit_code == 0
    data = json.loads(res.output)
    names = {o["op"] for o in data["ops"]}
    assert {"carafe", "bilinear_upsample", "pixel_shuffle"} <= names
    assert all(o["native_cpu_built"] for o in data["ops"])
    # never "built" where it was not: a CPU-only process says what was done for CUDA
    for o in data["ops"]:
        assert o["cuda"].startswith(("built and registered", "kernels compile-checked only",
                                     "not built", "cuda-check"))


def test_cuda_status_never_overclaims():
    from types import SimpleNamespace

    from upbench.cli.ops import cuda_status

    assert cuda_status("carafe", None, None, []).startswith("not built")
    ok = SimpleNamespace(ok=True, archs=["sm_80", "sm_90"])
    assert cuda_status("carafe", None, None, [ok]) == ("kernels compile-checked only "
                                                      "(ok, sm_80,sm_90)")
    rep = SimpleNamespace(error=None, archs="8.0;9.0", checked_at="2026-11-24T00:00:00",
                          kernels={"upbench::carafe": {"CPU": True, "CUDA": True}})
    assert cuda_status("carafe", None, rep, [ok]).startswith("built and registered by cuda-check")
    rep.kernels = {"upbench::carafe": {"CPU": True, "CUDA": False}}
    assert cuda_status("carafe", None, rep, [ok]) == "cuda-check: NOT registered"


def test_build_json(native):
    res = _run("ops", "build", "--json")
    assert res.exit_code == 0
    data = json.loads(res.output)
    assert data["library"].endswith(".so") and Path(data["library"]).is_file()
    assert isinstance(data["seconds"], float) and isinstance(data["with_cuda"], bool)


def test_check_passes_and_reports_errors(native):
    res = _run("ops", "check", "--op", "pixel_shuffle", "--json", "--seed", "3")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert {r["dtype"] for r in rows} == {"float64", "float32"}
    assert {r["mode"] for r in rows} == {"fast", "elementwise"}
    assert all(r["ok"] for r in rows)


def test_check_fails_on_a_wrong_kernel(native, monkeypatch):
    from upbench.ops import get_op

    spec = get_op("pixel_shuffle")
    monkeypatch.setattr(spec, "native", lambda x, s: torch_flip(spec.reference(x, s)))
    res = _run("ops", "check", "--op", "pixel_shuffle", "--json")
    assert res.exit_code == 1
    assert not any(r["ok"] for r in json.loads(res.output))


def torch_flip(t):
    return t.flip(-1)


def test_bench_json_small(native):
    # --allocator system: the steady policy would change this (the test) process for good
    res = _run("ops", "bench", "--op", "carafe", "--shape", "1,8,6,5", "--kernel-size", "3",
               "--scale", "2", "--repeats", "3", "--allocator", "system", "--caches", "cold",
               "--json")
    assert res.exit_code == 0, res.output
    (r,) = json.loads(res.output)
    assert r["case"] == "x(1,8,6,5) K3 G1 s2"
    assert set(r["forward"]) == {"native", "reference"}
    assert r["impls"]["native"] == "native-cpu"
    assert r["macs"] == 1 * 8 * 12 * 10 * 9
    assert r["derived"]["forward_speedup_vs_reference"] > 0
    assert r["probes"]["copy_gbps"] > 0 and r["probes"]["matmul_gmacs"] > 0
    # (an earlier in-process memory measurement may have left glibc at its "resident" policy)
    assert r["machine"]["allocator"] in ("system", "resident") and r["machine"]["caches"] == "cold"
    fb = r["derived"]["fwd_bwd_fraction_of_matmul_rate"]
    assert fb == pytest.approx(3 * r["macs"] / r["forward_backward"]["native"]["median_s"] / 1e9
                               / r["probes"]["matmul_gmacs"])


def test_bench_defaults_to_a_steady_heap_and_warm_caches(native):
    """In its own process (the allocator policy is process-wide): the defaults are recorded."""
    out = subprocess.run([sys.executable, "-m", "upbench.cli.main", "ops", "bench", "--op",
                          "pixel_shuffle", "--shape", "1,8,4,4", "--repeats", "3", "--json"],
                         check=False, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    (r,) = json.loads(out.stdout)
    assert r["machine"]["allocator"] == "steady" and r["machine"]["caches"] == "warm"


def test_bench_has_aten_peer_for_bilinear(native):
    res = _run("ops", "bench", "--op", "bilinear_upsample", "--shape", "1,4,8,8", "--repeats", "3",
               "--allocator", "system", "--json")
    (r,) = json.loads(res.output)
    assert set(r["forward"]) == {"native", "reference", "aten"}


def test_unknown_op_suggests():
    res = CliRunner().invoke(cli, ["ops", "check", "--op", "carafee"])
    assert res.exit_code == 2
    assert "did you mean 'carafe'" in res.output


def test_bad_shape():
    res = CliRunner().invoke(cli, ["ops", "bench", "--shape", "1,2,3"])
    assert res.exit_code == 2
    assert "N,C,H,W" in res.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_device_unavailable_is_a_clear_error():
    res = CliRunner().invoke(cli, ["ops", "check", "--device", "cuda"])
    assert res.exit_code == 2
    assert "no CUDA device" in res.output


def test_ops_bench_even_kernel_size():
    r = invoke("ops", "bench", "--op", "carafe", "--kernel-size", "4", "--repeats", "3")
    assert r.exit_code == 2
    assert "carafe refuses the case (--kernel-size 4)" in r.output and "odd" in r.output
