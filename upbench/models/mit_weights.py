"""Key layouts of MiT checkpoints, and the named ImageNet source.

upbench's MiT uses mmseg's module names (:mod:`upbench.models.mit`), so NVlabs' files load as
they are: the ImageNet encoders ``mit_b*.pth`` (keys ``patch_embed1.proj.weight``,
``block1.0.attn.kv.weight``, ..., plus the ImageNet classifier ``head.*``, which the
segmentation network does not have) and mmseg's segmentation checkpoints (the same names under
``backbone.``).

Hugging Face's ``transformers`` names the same tensors differently, and has done so in two ways:

* ``huggingface`` — the files on the hub (``nvidia/mit-b1``, ``nvidia/segformer-b1-finetuned-
  ade-512-512``) and ``transformers`` < 5: ``segformer.encoder.patch_embeddings.0.proj``,
  ``segformer.encoder.block.0.0.attention.self.query``, ``...attention.self.sr``,
  ``...attention.output.dense``, ``...mlp.dense1``, ``segformer.encoder.layer_norm.0``;
* ``huggingface-v5`` — the module names of ``transformers`` ≥ 5 (what its ``state_dict()``
  returns): ``segformer.stages.0.patch_embeddings.proj``, ``segformer.stages.0.blocks.0.attention
  .q_proj``, ``...attention.sequence_reduction.sequence_reduction``, ``...attention.o_proj``,
  ``...mlp.fc1``, ``segformer.stages.0.layer_norm``.

Both split mmseg's fused ``kv`` linear into ``key`` and ``value`` (``k_proj``, ``v_proj``); the
conversion concatenates them, keys first (mmseg's ``kv`` output holds the C key channels, then
the C value channels). Stage indices are 0-based there, 1-based in mmseg. The ``segformer.``
prefix is absent in a ``SegformerModel``'s state dict; the ImageNet classifier (``classifier.*``
of ``SegformerForImageClassification``) is dropped as mmseg drops ``head.*``.
"""

from __future__ import annotations

import re

import torch

from upbench.models.weights import NamedWeights, StateDict

# (pattern on the key without "segformer.", replacement in mmseg's names); group 1 = 0-based stage
_HF_STAGE = {
    "huggingface": [
        (r"encoder\.patch_embeddings\.(\d+)\.proj\.", "patch_embed{}.proj."),
        (r"encoder\.patch_embeddings\.(\d+)\.layer_norm\.", "patch_embed{}.norm."),
        (r"encoder\.block\.(\d+)\.(\d+)\.", "block{}.{}."),
        (r"encoder\.layer_norm\.(\d+)\.", "norm{}."),
    ],
    "huggingface-v5": [
        (r"stages\.(\d+)\.patch_embeddings\.proj\.", "patch_embed{}.proj."),
        (r"stages\.(\d+)\.patch_embeddings\.layer_norm\.", "patch_embed{}.norm."),
        (r"stages\.(\d+)\.blocks\.(\d+)\.", "block{}.{}."),
        (r"stages\.(\d+)\.layer_norm\.", "norm{}."),
    ],
}
# inside a block: (Hugging Face's name, mmseg's); "attn.k" / "attn.v" are fused into "attn.kv"
_HF_BLOCK = {
    "huggingface": {
        "layer_norm_1.": "norm1.", "layer_norm_2.": "norm2.",
        "attention.self.query.": "attn.q.", "attention.self.key.": "attn.k.",
        "attention.self.value.": "attn.v.", "attention.self.sr.": "attn.sr.",
        "attention.self.layer_norm.": "attn.norm.", "attention.output.dense.": "attn.proj.",
        "mlp.dense1.": "mlp.fc1.", "mlp.dwconv.dwconv.": "mlp.dwconv.dwconv.",
        "mlp.dense2.": "mlp.fc2.",
    },
    "huggingface-v5": {
        "layernorm_before.": "norm1.", "layernorm_after.": "norm2.",
        "attention.q_proj.": "attn.q.", "attention.k_proj.": "attn.k.",
        "attention.v_proj.": "attn.v.",
        "attention.sequence_reduction.sequence_reduction.": "attn.sr.",
        "attention.sequence_reduction.layer_norm.": "attn.norm.",
        "attention.o_proj.": "attn.proj.", "mlp.fc1.": "mlp.fc1.",
        "mlp.dwconv.dwconv.": "mlp.dwconv.dwconv.", "mlp.fc2.": "mlp.fc2.",
    },
}
HF_LAYOUTS = tuple(_HF_STAGE)
HF_IMAGENET_HEAD = "classifier."  # SegformerForImageClassification's ImageNet classifier
MMSEG_IMAGENET_HEAD = "head."  # the classifier in NVlabs' ImageNet files (not in the network)


def _hf_key(key: str, layout: str) -> str | None:
    """mmseg's encoder name of a Hugging Face encoder key (prefix removed), None if not one."""
    for pattern, repl in _HF_STAGE[layout]:
        m = re.match(pattern, key)
        if not m:
            continue
        idx = [int(g) for g in m.groups()]
        idx[0] += 1  # 0-based stages → mmseg's 1-based names
        rest = key[m.end():]
        if "block" not in repl:
            return repl.format(*idx) + rest
        for hf, mm in _HF_BLOCK[layout].items():
            if rest.startswith(hf):
                return repl.format(*idx) + mm + rest[len(hf):]
        return None
    return None


def mit_from_huggingface(state: StateDict, layout: str, prefix: str = "") -> StateDict:
    """A Hugging Face state dict (``layout``: ``huggingface`` or ``huggingface-v5``) with its MiT
    tensors renamed to ``prefix`` + mmseg's names and ``key``/``value`` fused into ``kv``. Keys
    that are not the encoder's pass through unchanged (the ImageNet classifier is dropped)."""
    out: StateDict = {}
    kv: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        if key.startswith(HF_IMAGENET_HEAD):
            continue
        name = _hf_key(key.removeprefix("segformer."), layout)
        if name is None:
            out[key] = value
            continue
        m = re.match(r"(.*\.attn\.)([kv])\.(weight|bias)$", name)
        if m:
            kv.setdefault(m.group(1) + "kv." + m.group(3), {})[m.group(2)] = value
        else:
            out[prefix + name] = value
    for name, parts in kv.items():
        if set(parts) == {"k", "v"}:
            out[prefix + name] = torch.cat([parts["k"], parts["v"]], 0)
        else:  # half a kv pair: report it under its own name
            for part, value in parts.items():
                out[prefix + name.replace(".kv.", f".{part}.")] = value
    return out


def mit_from_mmseg(state: StateDict, prefix: str = "") -> StateDict:
    """NVlabs' ImageNet file (bare mmseg names) under ``prefix``, its classifier dropped."""
    return {prefix + k: v for k, v in state.items() if not k.startswith(MMSEG_IMAGENET_HEAD)}


def mit_named_weights(size: str) -> tuple[NamedWeights, ...]:
    """The named sources of a MiT size: ``imagenet`` = NVlabs' ``<size>.pth``, which has no
    public direct address (it must be put into torch's hub cache by hand)."""
    return (NamedWeights(
        "imagenet", f"{size}.pth", None,
        note=f"NVlabs distributes {size}.pth (ImageNet-1k) through the Google Drive / OneDrive "
             "links in the README of github.com/NVlabs/SegFormer; alternatively set "
             f"model.weights to the pytorch_model.bin of the Hugging Face repository "
             f"nvidia/{size.replace('_', '-')}"),)


__all__ = ["HF_LAYOUTS", "mit_from_huggingface", "mit_from_mmseg", "mit_named_weights"]
