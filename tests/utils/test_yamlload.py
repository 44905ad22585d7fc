"""Suite files as hostile input (:mod:`upbench.utils.yamlload`): size and alias limits, duplicate
keys, encodings, the same limits on ``--set`` values. Each is exit 2 with the file (and line or
key) named, fast."""

from __future__ import annotations

import json

import yaml

from tests.cli.helpers import invoke
from tests.helpers.suites import TINY, write_suite

LAUGHS = """\
name: tiny
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
upsamplers: [{carafe: {up_kernel: *i}}]
"""


def _error(path, *extra):
    r = invoke("suite", "validate", path, "--json", *extra)
    assert r.exit_code == 2, r.output
    return json.loads(r.stdout)


def test_billion_laughs_fails_fast(tmp_path, monkeypatch):
    from upbench.utils import yamlload

    p = tmp_path / "laughs.yaml"
    p.write_text(LAUGHS)
    constructed = []
    real = yamlload._Loader.construct_document
    monkeypatch.setattr(yamlload._Loader, "construct_document",
                        lambda self, node: constructed.append(node) or real(self, node))
    out = _error(p)
    assert "aliases expand" in out["error"] and str(p) in out["error"]
    # refused from the composed node graph: nothing was ever built from it
    assert constructed == []
    # the memoised count stops at the limit: the graph is measured, never expanded
    node = yamlload._Loader(LAUGHS).get_single_node()
    assert yamlload.expanded_size(node) == yamlload.MAX_NODES + 1
    r = invoke("run", p, "--out", tmp_path / "out")
    assert r.exit_code == 2 and "alias" in r.output


def test_aliases_and_merge_keys_within_limits_still_work(tmp_path):
    p = tmp_path / "anchors.yaml"
    body = yaml.safe_dump({k: v for k, v in TINY.items() if k not in ("train", "model")})
    p.write_text(body + "model: {widths: &w [4, 4, 4, 4], blocks: [1, 1, 1, 1], "
                 "decoder_channels: 4}\n"
                 "train: {<<: {iterations: 1, batch_size: 2}, eval_batch_size: 2}\n")
    r = invoke("suite", "validate", p, "--json")
    assert r.exit_code == 0, r.output


def test_size_limit(tmp_path):
    p = tmp_path / "big.yaml"
    p.write_text(yaml.safe_dump(TINY) + "description: " + "x" * (1 << 20) + "\n")
    out = _error(p)
    assert "larger than 1024 KiB" in out["error"]


def test_duplicate_keys_refused(tmp_path):
    p = tmp_path / "dup.yaml"
    p.write_text(yaml.safe_dump(TINY, sort_keys=False) + "name: other\n")
    out = _error(p)
    assert out["key"] == "name" and "duplicate key" in out["error"] and "line 1" in out["error"]
    nested = tmp_path / "nested.yaml"
    nested.write_text("name: n\ntrain:\n  lr: 0.1\n  lr: 0.2\n")
    out = _error(nested)
    assert out["key"] == "lr" and "line 3 and line 4" in out["error"]


def test_non_utf8_suite(tmp_path):
    p = tmp_path / "latin1.yaml"
    p.write_bytes("name: tiny\ndescription: caf\xe9\n".encode("latin-1"))
    out = _error(p)
    assert "not UTF-8" in out["error"] and "line 2" in out["error"] and str(p) in out["error"]
    r = invoke("run", p, "--out", tmp_path / "out")
    assert r.exit_code == 2 and "not UTF-8" in r.output


def test_utf8_bom_is_accepted(tmp_path):
    p = write_suite(tmp_path / "bom.yaml")
    p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())
    assert invoke("suite", "validate", p, "--json").exit_code == 0


def test_set_values_have_the_same_limits(tmp_path):
    bomb = "[" + ", ".join(f"&a{i} [" + ", ".join([f"*a{i - 1}" if i else "1"] * 9) + "]"
                           for i in range(10)) + "]"
    out = _error(write_suite(tmp_path / "s.yaml"), "--set", f"description={bomb}")
    assert "aliases expand" in out["error"]
    out = _error(write_suite(tmp_path / "s.yaml"), "--set", "train.lr=.nan")
    assert out["key"] == "train.lr" and "finite" in out["error"]
