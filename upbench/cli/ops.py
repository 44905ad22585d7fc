"""``upbench ops``: list, build, check and benchmark the native operators."""

from __future__ import annotations

import re
import sys
from dataclasses import asdict
from typing import Any

import click
import torch

from upbench.cli._output import console, err_console, print_json, print_table, styled
from upbench.cli._params import Choice
from upbench.utils.numbers import Number, NumberError, check_number, seed_number


def _parse_shape(value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        shape = tuple(int(v) for v in value.replace("x", ",").split(","))
    except ValueError:
        raise click.BadParameter(f"expected N,C,H,W integers, got {value!r}",
                                 param_hint="--shape") from None
    if len(shape) != 4:
        raise click.BadParameter(f"expected four positive integers N,C,H,W, got {value!r}",
                                 param_hint="--shape")
    try:
        for d in shape:
            check_number(d, f"each of N,C,H,W ({value})", integral=True, ge=1, le=2**31 - 1)
    except NumberError as e:
        raise click.BadParameter(str(e), param_hint="--shape") from None
    return shape


def _ops_arg(name: str | None) -> list[str]:
    from upbench.ops import list_ops

    if name is None:
        return list_ops()
    if name not in list_ops():
        from upbench.utils.suggest import unknown_name_message

        raise click.BadParameter(unknown_name_message("op", name, list_ops()), param_hint="--op")
    return [name]


def _device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise click.BadParameter(
            "no CUDA device is available here; run this on a GPU machine with a CUDA build of "
            "torch (the CUDA kernels are only compile-checked on CPU machines)",
            param_hint="--device",
        )
    return torch.device(name)


@click.group("ops")
def ops_group() -> None:
    """Native operators: list, build, check against the reference, benchmark."""


def cuda_status(op_folder: str, loaded, report, nvcc_results: list) -> str:
    """One op's CUDA state, never claiming more than was done: built and registered (in this
    process, or by ``ops cuda-check``), compile-checked only, or not built."""
    import torch

    name = f"upbench::{op_folder}"
    if loaded is not None and loaded.with_cuda:
        ok = torch._C._dispatch_has_kernel_for_dispatch_key(name, "CUDA")
        return (f"built and registered ({loaded.archs})" if ok
                else "built but NOT registered")
    if report is not None:
        if report.error:
            return "cuda-check FAILED (rerun `upbench ops cuda-check` to see why)"
        ks = report.kernels.get(name, {})
        return (f"built and registered by cuda-check ({report.archs}, {report.checked_at[:10]})"
                if ks.get("CUDA") else "cuda-check: NOT registered")
    if nvcc_results and all(r is not None for r in nvcc_results):
        state = "ok" if all(r.ok for r in nvcc_results) else "FAILED"
        return f"kernels compile-checked only ({state}, {','.join(nvcc_results[0].archs)})"
    return "not built (`upbench ops cuda-check` builds and checks it)"


@ops_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_cmd(as_json: bool) -> None:
    """Each op: CPU library built?, CUDA built and registered (or compile-checked only, or not
    built), reference and ATen peer."""
    from upbench.ops import _nvcc, get_op, list_ops
    from upbench.ops._build import LIB_NAME, build_directory, loaded
    from upbench.ops.cuda_check import stored_report

    lib = build_directory() / f"{LIB_NAME}.so"
    current = loaded()
    report = stored_report()
    cu_by_op: dict[str, list] = {}
    for op_dir, cu in _nvcc.kernel_files():
        cu_by_op.setdefault(op_dir, []).append(cu)
    rows = []
    for name in list_ops():
        spec = get_op(name)
        nv = [_nvcc.cached_result(cu) for cu in cu_by_op.get(spec.folder, [])]
        rows.append({
            "op": name,
            "native_cpu_built": lib.is_file() or current is not None,
            "cuda": cuda_status(name, current, report, nv),
            "reference": f"{spec.reference.__module__}.{spec.reference.__name__}",
            "aten_peer": spec.aten_name,
        })
    if as_json:
        print_json({"library": str(lib), "cuda_check_report": report and report.library,
                    "ops": rows})
        return
    print_table("upbench native ops", ["op", "native CPU built", "CUDA", "reference",
                                       "ATen peer"],
                [[r["op"], "yes" if r["native_cpu_built"] else "no (run `upbench ops build`)",
                  r["cuda"], r["reference"], r["aten_peer"]] for r in rows])
    console.print(f"library: {lib}")


ARCH = re.compile(r"^\d+\.\d+[af]?(\+PTX)?$")


def parse_archs(ctx: click.Context | None, param: click.Parameter | None, value: str) -> str:
    """``--archs`` in TORCH_CUDA_ARCH_LIST syntax (``8.0;9.0``, ``8.6+PTX``, ``9.0a``), checked
    before any compiler runs: a bad entry is a usage error naming it."""
    entries = [a for a in re.split(r"[;\s]+", value.strip()) if a]
    bad = [a for a in entries if not ARCH.match(a)]
    if not entries or bad:
        raise click.BadParameter(f"{', '.join(map(repr, bad)) or 'nothing'} is not a CUDA arch: "
                                 "give compute capabilities as TORCH_CUDA_ARCH_LIST does, e.g. "
                                 "\"8.0;9.0\" or \"8.6+PTX\"")
    return ";".join(entries)


@ops_group.command("cuda-check")
@click.option("--archs", default="8.0;9.0", show_default=True, callback=parse_archs,
              help="CUDA archs (TORCH_CUDA_ARCH_LIST syntax).")
@click.option("--verbose", is_flag=True, help="Show the compiler output.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def cuda_check_cmd(archs: str, verbose: bool, as_json: bool) -> None:
    """Build every CUDA kernel and binding under torch's flags (no GPU needed), load the library
    and check that every op has a CPU and a CUDA kernel. Exit 1 on any failure."""
    import os
    import subprocess
    from dataclasses import asdict

    from upbench.ops.cuda_check import stored_report

    # a fresh process: this one may hold the CPU-only library (one `upbench` library per process)
    env = os.environ | {"UPBENCH_NO_AUTOLOAD": "1"}
    cmd = [sys.executable, "-m", "upbench.ops.cuda_check", "--archs", archs]
    subprocess.run(cmd + (["--verbose"] if verbose else []), env=env, check=False)
    rep = stored_report(archs)
    if rep is None:
        err_console.print(styled("cuda-check did not produce a report", "red",
                                 " (see the output above)"))
        sys.exit(1)
    if as_json:
        print_json(asdict(rep))
    else:
        if rep.error:
            err_console.print(styled(rep.error, "red"))
        else:
            print_table(f"CUDA build for {rep.archs}: {'reused' if rep.reused else 'built'} in "
                        f"{rep.seconds:.0f} s ({rep.cuda_home}; torch {rep.torch}, CUDA "
                        f"{rep.torch_cuda})", ["op", "CPU kernel", "CUDA kernel"],
                        [[q, "yes" if k["CPU"] else "MISSING", "yes" if k["CUDA"] else "MISSING"]
                         for q, k in rep.kernels.items()])
            console.print(f"library: {rep.library}")
        console.print("cuda-check: " + ("ok" if rep.ok else "FAILED"))
    sys.exit(0 if rep.ok else 1)


@ops_group.command("build")
@click.option("--cuda-check", is_flag=True,
              help="Also compile every *_cuda.cu with nvcc -c under torch's nvcc flags "
                   "(seconds; `upbench ops cuda-check` is the full build).")
@click.option("--verbose", is_flag=True, help="Show the compiler output.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def build_cmd(cuda_check: bool, verbose: bool, as_json: bool) -> None:
    """Build the native library now; show where and how long."""
    from upbench.ops import NativeBuildError, _nvcc
    from upbench.ops._build import build

    try:
        info = build(verbose=verbose or None)
    except NativeBuildError as e:
        err_console.print(styled(str(e), "red"))
        sys.exit(1)
    out: dict[str, Any] = {"library": str(info.library), "directory": str(info.directory),
           "seconds": round(info.seconds, 2), "reused": info.reused, "with_cuda": info.with_cuda,
           "ops": info.ops}
    failed = False
    if cuda_check:
        nvcc = _nvcc.find_nvcc()
        if nvcc is None:
            out["cuda_check"] = "skipped: nvcc not found"
        else:
            checks = [_nvcc.compile_check(cu, op) for op, cu in _nvcc.kernel_files()]
            out["cuda_check"] = [{"file": c.file, "ok": c.ok, "archs": c.archs} for c in checks]
            for c in checks:
                if not c.ok:
                    failed = True
                    err_console.print(styled(f"nvcc failed on {c.file}", "red",
                                             f"\n{c.command}\n{c.output}"))
    if as_json:
        print_json(out)
    else:
        verb = "reused" if info.reused else "built"
        console.print(f"{verb} {info.library} in {info.seconds:.1f} s "
                      f"({'CPU + CUDA' if info.with_cuda else 'CPU only'}; ops: {', '.join(info.ops)})")
        if cuda_check:
            cc = out["cuda_check"]
            if isinstance(cc, str):
                console.print(f"CUDA compile check: {cc}")
            else:
                for c in cc:
                    state = "ok" if c["ok"] else "FAILED"
                    console.print(f"CUDA compile check {c['file']} ({','.join(c['archs'])}): {state}")
    sys.exit(1 if failed else 0)


@ops_group.command("check")
@click.option("--op", "op_name", default=None, help="Only this op.")
@click.option("--device", type=Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--seed", type=seed_number(), default=None,
              help="Fix the random inputs (default: fresh); 0..2**63-1.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def check_cmd(op_name: str | None, device: str, seed: int | None, as_json: bool) -> None:
    """Native vs reference on fresh random inputs (odd sizes too), forward and backward.

    Prints the max relative error per op and dtype; exits 1 on any mismatch. On CPU both kernel
    modes run: the fast one and the elementwise one that uses the CUDA kernels' math.
    """
    from upbench.ops.check import check_all

    results = check_all(_ops_arg(op_name), _device(device), seed)
    if as_json:
        print_json([r.as_dict() for r in results])
    else:
        print_table("native vs float64 reference (max relative error)",
                    ["op", "device", "dtype", "kernels", "forward", "backward", "tolerance", "ok"],
                    [[r.op, r.device, r.dtype, r.mode, r.forward_err, r.backward_err, r.tolerance,
                      "yes" if r.ok else f"NO {r.error or ''}"] for r in results])
    sys.exit(0 if all(r.ok for r in results) else 1)


@ops_group.command("bench")
@click.option("--op", "op_name", default=None, help="Only this op.")
@click.option("--shape", default=None, help="Input N,C,H,W (default: the op's benchmark case).")
@click.option("--kernel-size", type=Number(ge=1, le=255), default=None,
              help="Kernel size K where the op has one (an error for an op without one).")
@click.option("--scale", type=Number(ge=1, le=64), default=None, help="Scale factor s.")
@click.option("--device", type=Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--threads", type=Number(ge=1, le=4096), default=None,
              help="torch threads (default: torch's).")
@click.option("--repeats", type=Number(ge=3, le=100_000, why="use at least 3 repeats"),
              default=7, show_default=True)
@click.option("--allocator", "alloc", type=Choice(["steady", "system"]), default="steady",
              show_default=True,
              help="steady: freed blocks stay in glibc's heap, so outputs reuse touched pages (as "
                   "under jemalloc/tcmalloc or CUDA's caching allocator); system: glibc's defaults, "
                   "large outputs page-faulted afresh on every call.")
@click.option("--caches", type=Choice(["warm", "cold"]), default="warm", show_default=True,
              help="warm: each timed call follows an untimed call of the same implementation "
                   "(inputs in cache, as inside a network); cold: it follows the other "
                   "implementations' calls.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def bench_cmd(op_name, shape, kernel_size, scale, device, threads, repeats, alloc, caches,
              as_json) -> None:
    """Latency (median, IQR; interleaved repeats after warm-up) of native, reference and ATen,
    forward and forward+backward, peak memory, ratios, and achieved GB/s and GMAC/s against a
    memory-copy and a matmul probe measured in the same run."""
    from upbench.ops.bench import BenchCaseError, bench_op

    dev = _device(device)
    shape = _parse_shape(shape)
    if threads:
        torch.set_num_threads(threads)
    results = []
    for name in _ops_arg(op_name):
        try:
            res = bench_op(name, dev, repeats=repeats, caches=caches, allocator_policy=alloc,
                           shape=shape,
                           kernel_size=kernel_size, scale=scale)
        except BenchCaseError as e:
            err_console.print(styled("error", "red", f" {e}"))
            sys.exit(2)
        if dev.type == "cpu" and res.machine.get("allocator") != alloc:
            err_console.print(styled("warning", "yellow", f": allocator policy {alloc!r} is not "
                                     "available here (glibc's mallopt); timed with the system's"))
        results.append(res)
        if not as_json:
            _print_bench(res)
    if as_json:
        print_json([asdict(r) for r in results])


def _print_bench(res) -> None:
    rows = []
    for impl in res.forward:
        f, fb = res.forward[impl], res.forward_backward.get(impl, {})
        mem = res.peak_memory_bytes.get(impl)
        rows.append([
            f"{impl} ({res.impls[impl]})" if impl == "native" else impl,
            f["median_s"] * 1e3, f["iqr_s"] * 1e3,
            fb.get("median_s", float("nan")) * 1e3, fb.get("iqr_s", float("nan")) * 1e3,
            None if mem is None else mem / 2**20,
            res.derived.get(f"forward_speedup_vs_{impl}", 1.0 if impl == "native" else None),
            res.derived.get(f"fwd_bwd_speedup_vs_{impl}", 1.0 if impl == "native" else None),
        ])
    print_table(f"{res.op}  {res.case}  {res.device} {res.dtype} threads={res.threads} "
                f"repeats={res.repeats} allocator={res.machine.get('allocator', '?')} "
                f"caches={res.machine.get('caches', '?')}",
                ["impl", "fwd ms", "fwd IQR", "fwd+bwd ms", "f+b IQR", "peak MiB",
                 "native speed-up (fwd)", "native speed-up (f+b)"], rows)
    d, p = res.derived, res.probes
    frac_mm = d.get("fraction_of_matmul_rate")
    console.print(
        f"native forward: {d['native_gbps']:.2f} GB/s = {d['fraction_of_copy_bandwidth']:.1%} of "
        f"copy ({p['copy_gbps']:.2f} GB/s); {d['native_gmacs']:.2f} GMAC/s"
        + (f" = {frac_mm:.1%} of matmul ({p['matmul_gmacs']:.2f} GMAC/s)" if frac_mm else "")
    )
    if d.get("fwd_bwd_fraction_of_matmul_rate") is not None:
        console.print(f"native forward+backward: {d['native_fwd_bwd_gmacs']:.2f} GMAC/s "
                      f"(3x the forward's MACs) = {d['fwd_bwd_fraction_of_matmul_rate']:.1%} of matmul")
