"""The speed gate end to end with a real, measured slowdown (issue 25; the tests use constructed
samples, this uses the clock).

Run: ``python scripts/gate_slowdown.py [--times K] [--keep DIR]`` (a few minutes on 2 cores). It

1. runs a tiny suite (bilinear, nearest, carafe; speed timed interleaved against bilinear,
   ``speed_repeats: 15``) with seeds 0 and 1 and builds a baseline from it (``check --update``,
   which records this machine);
2. reruns seed 0 with CARAFE's upsampler doing its work K times (default 2: a 2x slowdown of
   the op) and runs ``upbench check``. The gate judges the cell's latency ratio, so the op's
   slowdown shows diluted by the rest of the model: expect exit 1 with the carafe
   ``speed_ratio`` row as the regression once the cell is more than 1.25x slower (here CARAFE is
   a small part of the tiny model: K=2 moves the cell by ~15%, K=10 by ~2x);
3. checks the same slowed results against a copy of the baseline whose machine is another CPU
   model: expect exit 0 and the line "speed not compared".

Prints each check's exit code and its speed line.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from click.testing import CliRunner

SUITE = """\
name: gate-slowdown
input_size: [64, 64]
dataset: {num_classes: 4, train_size: 16, val_size: 8}
model: {widths: [8, 16, 32, 64], decoder_channels: 16}
train: {iterations: 20, batch_size: 4, eval_batch_size: 8}
upsamplers: [bilinear, nearest, carafe]
profile: {flops_size: [64, 64], latency_size: [128, 128], latency_warmup: 3, memory: false,
          speed_reference: bilinear, speed_repeats: 15}
metrics: {trimap_widths: [1]}
threads: 1
"""


def invoke(*args: object):
    from upbench.cli.main import cli

    r = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return r


def slow_down_carafe(times: int) -> None:
    """CARAFE's forward computed ``times`` times (the last result returned)."""
    from upbench.upsamplers.carafe import CARAFEPack

    forward = CARAFEPack.forward

    def slowed(self, x, guide=None):
        for _ in range(times - 1):
            forward(self, x, guide)
        return forward(self, x, guide)

    CARAFEPack.forward = slowed


def speed_rows(output: str) -> list[dict]:
    return [r for r in json.loads(output)["rows"] if r["quantity"] == "speed_ratio"]


def main(keep: str | None, times: int) -> int:
    tmp = Path(keep or tempfile.mkdtemp(prefix="gate-slowdown-"))
    tmp.mkdir(parents=True, exist_ok=True)
    suite = tmp / "suite.yaml"
    suite.write_text(SUITE)
    baseline = tmp / "baseline.json"
    for args in (("run", suite, "--out", tmp / "base", "--seeds", "0,1", "--jobs", "1"),
                 ("check", tmp / "base", "--baseline", baseline, "--update")):
        r = invoke(*args)
        if r.exit_code:
            print(r.output)
            return r.exit_code
    slow_down_carafe(times)
    r = invoke("run", suite, "--out", tmp / "slow", "--seeds", "0", "--jobs", "1")
    if r.exit_code:
        print(r.output)
        return r.exit_code
    same = invoke("check", tmp / "slow", "--baseline", baseline, "--json")
    print(f"same machine, carafe's upsampler run {times}x: exit {same.exit_code}")
    for row in speed_rows(same.stdout):
        print(f"  {row['cell']:10} {row['baseline']} → {row['value']}  {row['verdict']}  "
              f"{row['detail']}")
    other = json.loads(baseline.read_text())
    other["machine"]["cpu"] = "AMD EPYC 9R14 (edited: another CPU model)"
    other_path = tmp / "baseline-other-cpu.json"
    other_path.write_text(json.dumps(other))
    r = invoke("check", tmp / "slow", "--baseline", other_path)
    print(f"baseline from another CPU model: exit {r.exit_code}")
    print("  " + next(ln for ln in r.output.splitlines() if ln.startswith("speed ")))
    print(f"results and baselines in {tmp}")
    return 0 if r.exit_code == 0 else 1


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(main(args[args.index("--keep") + 1] if "--keep" in args else None,
                  int(args[args.index("--times") + 1]) if "--times" in args else 2))
