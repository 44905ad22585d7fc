"""No activations are kept on upsampler modules (issue 17 item 5): after a training step every
registered upsampler deep-copies (the EMA/SWA pattern), pickles without activations and traces
with ``torch.jit.trace``; its losses take the forward's state as an argument."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
from torch import nn

from upbench.cli.flops import Standalone, standalone_inputs
from upbench.upsamplers import (
    create_upsampler,
    get_upsampler_class,
    list_upsamplers,
    upsampler_hparams,
)


def _build(name: str):
    cls = get_upsampler_class(name)
    hp = {"num_classes": 3} if "num_classes" in upsampler_hparams(name) else {}
    scale = 8 if cls.space == "label" else 2
    up = create_upsampler(name, 4, scale, **hp)
    inputs = standalone_inputs(up, 4, 4, 4)
    if cls.space == "label":
        guide = inputs[1] if len(inputs) > 1 else None
        args = (inputs[0], guide, list(inputs[2:]) or None)
    else:
        args = inputs
    return up, args


def _stray_tensors(module: nn.Module) -> list[str]:
    """Tensor attributes that are neither parameters nor buffers (activations kept around)."""
    bad = []
    for mod_name, mod in module.named_modules():
        for k, v in vars(mod).items():
            if k in ("_parameters", "_buffers", "_modules"):
                continue
            vals = v.values() if isinstance(v, dict) else v if isinstance(v, (list, tuple)) else [v]
            if any(isinstance(t, torch.Tensor) for t in vals):
                bad.append(f"{mod_name or '<root>'}.{k}")
    return bad


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore::FutureWarning")
@pytest.mark.parametrize("name", list_upsamplers())
def test_no_activations_after_a_training_step(name):
    torch.manual_seed(0)
    up, args = _build(name)
    args = tuple(a.requires_grad_() if isinstance(a, torch.Tensor) else a for a in args)
    opt = torch.optim.SGD(up.parameters(), lr=0.01) if list(up.parameters()) else None
    out, state = up.forward_with_state(*args)
    target = torch.randint(0, out.shape[1], (out.shape[0], *out.shape[2:]))
    loss = out.float().mean() + sum(up.extra_losses(out, target, state).values(), torch.zeros(()))
    loss.backward()
    if opt is not None:
        opt.step()
    with torch.no_grad():
        up(*args)
    assert _stray_tensors(up) == []
    twin = copy.deepcopy(up)
    blob = pickle.dumps(up)
    n_state = sum(t.numel() * t.element_size() for t in up.state_dict().values())
    assert len(blob) < 2 * n_state + 200_000  # parameters and buffers, no activations
    up.eval()
    twin.eval()
    args = tuple(a.detach() if isinstance(a, torch.Tensor) else
                 [t.detach() for t in a] if isinstance(a, list) else a for a in args)
    with torch.no_grad():
        torch.testing.assert_close(twin(*args), up(*args))
        flat = Standalone(up)
        flat_args = tuple(a for a in (args[0], args[1] if len(args) > 1 else None,
                                      *(args[2] or [] if len(args) > 2 else []))
                          if a is not None)
        traced = torch.jit.trace(flat, flat_args, check_trace=False)
        torch.testing.assert_close(traced(*flat_args), flat(*flat_args))
