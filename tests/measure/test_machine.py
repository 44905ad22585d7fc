"""What a result records about its machine, and which parts decide whether speeds compare."""

from __future__ import annotations

from upbench.measure.machine import isa_summary, kind_difference, machine, speed_kind

XEON = ["processor\t: 0", "model name\t: Intel(R) Xeon(R) Processor",
        "flags\t\t: fpu sse sse2 sse4_2 avx avx2 fma avx512f avx512bw avx512vl amx_tile"]
GRAVITON = ["processor\t: 0", "Features\t: fp asimd asimdhp sve sve2 i8mm bf16"]


def test_isa_summary_names_the_capability_and_the_simd_flags_only():
    s = isa_summary(XEON, "AVX512")
    assert s.endswith("AVX512: amx_tile avx avx2 avx512bw avx512f avx512vl fma sse4_2")
    assert "fpu" not in s and "sse2" not in s.split(":")[1].split()
    assert isa_summary(GRAVITON, "SVE256").endswith(
        "SVE256: asimd asimdhp bf16 i8mm sve sve2")
    assert isa_summary([], "DEFAULT").endswith("no SIMD flags known")


def test_this_machine_is_recorded_with_the_threads_asked():
    m = machine(threads=3)
    assert m["threads"] == 3 and m["cores"] >= 1 and m["cpu"] and ":" in m["isa"]
    assert set(m) == {"cpu", "isa", "cores", "threads", "gpu"}


def test_speed_kind_and_its_differences():
    a = {"cpu": "A", "isa": "x AVX2: avx2", "cores": 2, "threads": 1, "gpu": "H100"}
    assert speed_kind(a) == {"cpu": "A", "isa": "x AVX2: avx2", "threads": 1, "gpu": None,
                             "device": "cpu"}
    assert speed_kind(a, "cuda")["gpu"] == "H100"
    assert speed_kind(None) is None
    b = speed_kind(a | {"isa": "x AVX512: avx2 avx512f", "cores": 96})
    assert kind_difference(speed_kind(a), b) == ["isa 'x AVX2: avx2' → 'x AVX512: avx2 avx512f'"]
    assert kind_difference(speed_kind(a), speed_kind(a)) == []
    assert "records no machine" in kind_difference(None, b)[0]
