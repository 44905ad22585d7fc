"""Loading pretrained weights into a baseline's encoder: one mechanism for every baseline.

A suite's ``model.weights:`` is either a local file or the name of a source the encoder declares
(:class:`NamedWeights`, e.g. ``imagenet``). A named source is looked up in torch's hub cache
(``$TORCH_HOME/hub/checkpoints/<file>``) and downloaded there only when it is missing and the
machine is online; offline, the error names the file and where to put it.

A checkpoint's keys may follow any of the layouts the encoder accepts (:class:`KeyLayout`:
torchvision's, mmseg's, Hugging Face's, ...): each layout maps the file's keys to the module's,
and the one that places the most tensors wins. Missing or unexpected keys are an error naming
the first few, unless ``strict`` is off (``model.weights_strict: false``), when the
:class:`WeightsReport` records them for the result. A tensor of the wrong shape is always an
error. A file that matches no layout at all (a checkpoint of another baseline, say) is an error
that says so.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

StateDict = dict[str, torch.Tensor]

# containers a checkpoint file may wrap its state dict in (mmcv, timm, detectron2, Lightning)
CONTAINER_KEYS = ("state_dict", "model", "module", "model_state", "net")
# bookkeeping buffers an older checkpoint may lack without any consequence
IGNORED_MISSING = ("num_batches_tracked",)
SHOWN = 5  # keys named in an error
DOWNLOAD_TIMEOUT_S = 60.0  # a stalled connection while fetching a named source


class WeightsError(ValueError):
    """Pretrained weights that cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class NamedWeights:
    """A named source of pretrained weights (``model.weights: <name>``).

    Attributes:
        name: the name a suite uses (``imagenet``).
        filename: the file's name in torch's hub cache.
        url: where it downloads from when online (None: it must be put there by hand).
        note: where a user gets it (printed when it is missing and cannot be downloaded).
    """

    name: str
    filename: str
    url: str | None = None
    note: str = ""

    @property
    def cached_path(self) -> Path:
        """Where torch's hub cache keeps the file."""
        return Path(torch.hub.get_dir()) / "checkpoints" / self.filename


@dataclass(frozen=True)
class KeyLayout:
    """A key layout of checkpoints for one module.

    Attributes:
        name: e.g. ``torchvision``, ``mmseg``, ``huggingface``.
        convert: maps a checkpoint's state dict to the module's own key names (keys it does not
            know pass through unchanged, so that they are reported as unexpected).
        note: why a checkpoint of this layout cannot fit the module completely, when it
            cannot (e.g. a 7×7 stem where the module has a deep one); added to the error.
    """

    name: str
    convert: Callable[[StateDict], StateDict]
    note: str = ""


IDENTITY = KeyLayout("native", dict)


@dataclass
class WeightsReport:
    """What loading placed, recorded in the cell's result."""

    source: str
    file: str
    layout: str
    loaded: int
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    strict: bool = True
    omitted: list[str] = field(default_factory=list)  # optional groups the file left out

    def as_dict(self) -> dict[str, Any]:
        """JSON-able."""
        return asdict(self)


def strip_prefix(state: Mapping[str, Any], prefix: str) -> StateDict:
    """Keys starting with ``prefix`` without it; other keys unchanged."""
    return {(k.removeprefix(prefix)): v for k, v in state.items()}


def read_state_dict(path: str | os.PathLike) -> StateDict:
    """The tensors of a checkpoint file, unwrapped from the usual containers.

    Raises:
        WeightsError: the file is missing, unreadable, or holds no tensors.
    """
    p = Path(path)
    if not p.is_file():
        what = "a directory" if p.is_dir() else "no such file"
        raise WeightsError(f"weights file {p}: {what}; set model.weights to a checkpoint file "
                           "(.pth/.pt/.bin) or a named source")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - pickle, zip and format errors alike
        if p.suffix == ".safetensors":
            obj = _read_safetensors(p)
        else:
            raise WeightsError(f"weights file {p} cannot be read as a PyTorch checkpoint "
                               f"({type(e).__name__}: {' '.join(str(e).split())[:200]})"
                               ) from None
    for _ in range(3):  # nested containers, e.g. {"model": {"state_dict": ...}}
        if isinstance(obj, Mapping) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
            inner = next((obj[k] for k in CONTAINER_KEYS if isinstance(obj.get(k), Mapping)), None)
            if inner is None:
                break
            obj = inner
    if not isinstance(obj, Mapping):
        raise WeightsError(f"weights file {p} holds a {type(obj).__name__}, not a state dict")
    state = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not state:
        raise WeightsError(f"weights file {p} holds no tensors")
    if all(k.startswith("module.") for k in state):  # saved from DataParallel / DDP
        state = strip_prefix(state, "module.")
    return state


def _read_safetensors(p: Path) -> StateDict:
    try:
        from safetensors.torch import load_file
    except ImportError:
        raise WeightsError(f"weights file {p} is a safetensors file: pip install safetensors"
                           ) from None
    try:
        return load_file(str(p))
    except Exception as e:  # noqa: BLE001
        raise WeightsError(f"weights file {p} cannot be read ({type(e).__name__}: {e})") from None


def resolve(spec: str, named: Sequence[NamedWeights] = ()) -> Path:
    """The local file of ``spec``: a path, or a named source (downloaded into torch's hub cache
    when missing and online).

    Raises:
        WeightsError: unknown name, or a named file that is neither cached nor downloadable.
    """
    by_name = {n.name: n for n in named}
    if spec in by_name:
        src = by_name[spec]
        path = src.cached_path
        if path.is_file():
            return path
        if src.url is None:
            raise WeightsError(f"named source {spec!r}: put {src.filename} at {path} "
                               f"({src.note or 'no download address is known'})")
        previous = socket.getdefaulttimeout()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # no connection attempt waits forever
            torch.hub.download_url_to_file(src.url, str(path), progress=False)
        except Exception as e:  # noqa: BLE001 - offline: URLError, OSError, timeouts
            raise WeightsError(
                f"named source {spec!r}: {src.filename} is not in torch's hub cache and could not "
                f"be downloaded from {src.url} ({type(e).__name__}: "
                f"{' '.join(str(e).split())[:120]}). Offline, download it elsewhere and put it at "
                f"{path}, or set model.weights to the file's path") from None
        finally:
            socket.setdefaulttimeout(previous)
        return path
    p = Path(spec).expanduser()
    if p.exists() or os.sep in spec or spec.endswith((".pth", ".pt", ".bin", ".safetensors")):
        return p
    known = ", ".join(sorted(by_name)) or "none"
    raise WeightsError(f"{spec!r} is neither a file nor a named source of this "
                       f"encoder (named: {known})")


def _shown(keys: Sequence[str]) -> str:
    more = f", … ({len(keys)} in all)" if len(keys) > SHOWN else ""
    return ", ".join(keys[:SHOWN]) + more


def match_layout(module: nn.Module, state: StateDict, layouts: Sequence[KeyLayout]
                 ) -> tuple[KeyLayout, StateDict]:
    """The layout that names the most of ``module``'s tensors (ties: the most of the right
    shape), with the converted state dict.

    Raises:
        WeightsError: no layout places a single tensor.
    """
    own = module.state_dict()
    best: tuple[tuple[int, int], KeyLayout, StateDict] | None = None
    for layout in layouts:
        converted = layout.convert(dict(state))
        named = [k for k in converted if k in own]
        hits = (len(named), sum(1 for k in named if own[k].shape == converted[k].shape))
        if best is None or hits > best[0]:
            best = (hits, layout, converted)
    if best is None or best[0][0] == 0:
        names = ", ".join(layout.name for layout in layouts)
        raise WeightsError(
            f"the file matches none of the key layouts this encoder accepts ({names}): its first "
            f"keys are {_shown(sorted(state))}; is it a checkpoint of another baseline?")
    return best[1], best[2]


def load_weights(module: nn.Module, spec: str, *, layouts: Sequence[KeyLayout] = (IDENTITY,),
                 named: Sequence[NamedWeights] = (), strict: bool = True,
                 what: str = "encoder", optional: Sequence[str] = ()) -> WeightsReport:
    """Load ``spec`` (a file or a named source) into ``module``.

    Args:
        module: the module the weights are for (usually a baseline's encoder).
        spec: the suite's ``model.weights``.
        layouts: the key layouts accepted (the best-matching one is used).
        named: the named sources ``spec`` may name.
        strict: missing or unexpected keys are an error (else recorded in the report).
        what: the module's role, for messages.
        optional: prefixes of ``module``'s keys that form groups a file may leave out as a
            whole (e.g. ``decode_head.``: a whole-network module also takes a file of its
            encoder alone; an upsampler slot, which no published checkpoint has). A key is not
            missing when a group it belongs to has no key in the file; a group the file has a
            key of must be complete. The groups left out are listed in the report.

    Raises:
        WeightsError: the file cannot be had or read, matches no layout, has a tensor of the
            wrong shape, or (strict) lacks keys or has extra ones.
    """
    path = resolve(spec, named)
    try:
        state = read_state_dict(path)
        layout, converted = match_layout(module, state, layouts)
    except WeightsError as e:
        msg = str(e)
        raise WeightsError(msg if str(path) in msg else f"weights file {path}: {msg}") from None
    own = module.state_dict()
    wrong = [f"{k} {tuple(v.shape)} (the {what} has {tuple(own[k].shape)})"
             for k, v in converted.items() if k in own and own[k].shape != v.shape]
    if wrong:
        raise WeightsError(f"weights file {path} ({layout.name} layout): tensors of the wrong "
                           f"shape for this {what}: {_shown(wrong)}; is it for another variant?")
    omitted = [p for p in optional if any(k.startswith(p) for k in own)
               and not any(k.startswith(p) for k in converted)]
    missing = sorted(k for k in own if k not in converted
                     and not k.endswith(IGNORED_MISSING) and not k.startswith(tuple(omitted)))
    unexpected = sorted(k for k in converted if k not in own)
    if strict and (missing or unexpected):
        parts = ([f"missing {_shown(missing)}"] if missing else []) + (
            [f"unexpected {_shown(unexpected)}"] if unexpected else [])
        note = f" ({layout.note})" if layout.note else ""
        raise WeightsError(f"weights file {path} ({layout.name} layout) does not fit the {what}: "
                           f"{'; '.join(parts)}{note}. Set model.weights_strict: false to load "
                           "what fits (the result records the rest)")
    module.load_state_dict({k: v for k, v in converted.items() if k in own}, strict=False)
    return WeightsReport(spec, str(path), layout.name, len(converted) - len(unexpected),
                         missing, unexpected, strict, omitted)


__all__ = ["IDENTITY", "KeyLayout", "NamedWeights", "StateDict", "WeightsError", "WeightsReport",
           "load_weights", "match_layout", "read_state_dict", "resolve", "strip_prefix"]
