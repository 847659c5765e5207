"""Checked exercises of Chapter 7, what teacher and student must share: check_partial_init,
check_hidden_permutation."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .. import models
from ..config import N_DIGITS
from ._checking import _Case, _Wrong, _call, _check, _fmt, _gen, _grads_to_list, _images, _net, _same

#: The names of the six tensors of ``Params``, in order.
_NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")


def _copies(params: models.Params) -> models.Params:
    return [p.clone() for p in params]


def _unchanged(before: models.Params, after: models.Params) -> bool:
    return all(torch.equal(a, b) for a, b in zip(before, after))


def _shares_memory(got, inputs: models.Params) -> str | None:
    """The name of the first returned tensor that shares memory with a tensor of ``inputs`` (None if none)."""
    pointers = {t.untyped_storage().data_ptr() for t in inputs}
    for name, t in zip(_NAMES, got):
        if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() in pointers:
            return name
    return None


def _first_difference(got: list[np.ndarray], expected: models.Params) -> int | None:
    for i, (a, b) in enumerate(zip(got, expected)):
        if not _same(a, b.numpy()):
            return i
    return None


def _wrong_entry(i: int, got: np.ndarray, expected: torch.Tensor) -> str:
    """'W3[0, 10, 2] (model, row, column): expected 0.12345, got -0.54321': the first entry that differs."""
    want = expected.numpy()
    where = np.argwhere(~np.isclose(got, want, rtol=0.0, atol=1e-4 * np.abs(want).max(initial=1e-300)))
    index = tuple(int(k) for k in where[0]) if len(where) else (0,) * want.ndim
    axes = "(model, row, column)" if want.ndim == 3 else "(model, entry)"
    return f"{_NAMES[i]}[{', '.join(map(str, index))}] {axes}: expected {want[index]:.5f}, got {got[index]:.5f}"


# --------------------------------------------------------------------------- partial init


def _partial_init_hint(i: int, got: np.ndarray, base: models.Params, donor: models.Params, names) -> str:
    """What went wrong in tensor ``i`` of the result, compared with what each input holds."""
    name = _NAMES[i]
    blocks = [n for n in names if n.startswith(name + "_")]
    if not (name in names or blocks):
        if _same(got, donor[i].numpy()):
            return f"{name} is not named in names: it stays base's; take only the named tensors from donor"
        return f"{name} is not named in names: return base's {name} unchanged"
    if name in names:
        return f"{name} is named in names: the whole tensor comes from donor"
    rows_wrong = base[i].clone()  # the digit block taken as rows (hidden units) instead of last-axis columns
    if rows_wrong.dim() == 3:
        for block in blocks:
            cols = models.TENSORS[block][1]
            rows_wrong[:, cols] = donor[i][:, cols]
    if rows_wrong.dim() == 3 and _same(got, rows_wrong.numpy()):
        return (f"you took rows of {name}: a block is a set of outputs, the last axis' entries "
                f"({name}[..., :{N_DIGITS}] for the digit block, {name}[..., {N_DIGITS}:] for the aux block), not the rows "
                "(hidden units) nor the models (the leading axis)")
    return (f"only the block(s) {blocks} of {name} come from donor: the digit block is the last axis' entries "
            f"0-{N_DIGITS - 1} ({name}[..., :{N_DIGITS}]), the aux block the entries from {N_DIGITS} on; the rest stays base's")


def check_partial_init(fn: Callable) -> bool:
    """``fn(base, donor, names)``: two ensembles (lists [W1, b1, W2, b2, W3, b3], each tensor with a leading
    ensemble axis E: W1 (E, 784, H), W3 (E, H, 10+m), b3 (E, 10+m)) and a tuple of names from "W1", "b1",
    "W2", "b2", "W3", "b3", "W3_digit", "W3_aux", "b3_digit", "b3_aux" -> a new list of six tensors: the
    named tensors (or last-layer blocks: the digit block is the last axis' entries 0-9 of W3 and b3, the
    aux block the entries from 10 on) from ``donor``, every other one from ``base``. Neither input is
    written to, and the result shares no memory with them.

    Reference: :func:`subliminal.models.mix_inits`.
    """
    def case(names, seed, E=2, hidden=16):
        def run(fn):
            base, donor = _net(E, hidden, 3, seed), _net(E, hidden, 3, seed + 50)
            base_copy, donor_copy = _copies(base), _copies(donor)
            expected = models.mix_inits(base_copy, donor_copy, names)
            raw = _call(fn, base, donor, tuple(names))
            if not _unchanged(base_copy, base):
                raise _Wrong(f"names = {names}: your function changed base.",
                             "you wrote into base: copy it first ([p.clone() for p in base]) and write into "
                             "the copy; the caller keeps using base")
            if not _unchanged(donor_copy, donor):
                raise _Wrong(f"names = {names}: your function changed donor.",
                             "only read from donor; write into a copy of base")
            got = _grads_to_list(raw, expected, "your function")
            i = _first_difference(got, expected)
            if i is not None:
                raise _Wrong(f"names = {names}: {_wrong_entry(i, got[i], expected[i])}.",
                             _partial_init_hint(i, got[i], base, donor, names))
            shared = _shares_memory(raw, [*base, *donor])
            if shared is not None:
                raise _Wrong(f"names = {names}: the {shared} you returned is a tensor of base or donor itself, "
                             "not a copy.",
                             "clone what you return (p.clone()): a student that trains the result in place "
                             "would otherwise change its teacher's init too")
        return run

    return _check("check_partial_init", "subliminal.models.mix_inits", fn, [
        _Case("the first hidden layer (W1, b1)", case(("W1", "b1"), 0)),
        _Case("the second hidden layer, 3 models", case(("W2", "b2"), 1, E=3)),
        _Case("the digit block only", case(("W3_digit", "b3_digit"), 2)),
        _Case("the aux block only", case(("W3_aux", "b3_aux"), 3)),
        _Case("everything", case(_NAMES, 4)),
        _Case("nothing", case((), 5)),
        _Case("the hidden layers and the aux block", case(("W1", "b1", "W2", "b2", "W3_aux", "b3_aux"), 6)),
    ])


# --------------------------------------------------------------------------- hidden permutation


def _permutation(seed: int, n: int, fixed: bool = False) -> torch.Tensor:
    """A random permutation of ``n`` units (LongTensor) that moves every unit, or the identity (``fixed``)."""
    if fixed:
        return torch.arange(n)
    g = _gen(seed)
    while True:
        p = torch.randperm(n, generator=g)
        if not (p == torch.arange(n)).any():
            return p


def _permutation_hint(i: int, got: np.ndarray, params: models.Params, p1: torch.Tensor, p2: torch.Tensor) -> str:
    """What went wrong in tensor ``i`` of the result: the usual mistakes, recognised by their result."""
    W1, b1, W2, b2, W3 = params[:5]
    own = {0: p1, 1: p1, 2: None, 3: p2, 4: p2}.get(i)
    inverse = {0: W1[..., torch.argsort(p1)], 1: b1[..., torch.argsort(p1)], 3: b2[..., torch.argsort(p2)],
               4: W3[:, torch.argsort(p2)]}
    if i == 5:
        return "b3 belongs to the outputs (digits and aux logits), not to hidden units: leave it as it is"
    if i == 2:
        if _same(got, W2[:, p2][..., p1].numpy()):
            return ("which axis of W2 does p1 act on? W2 (E, H, H) maps layer 1 to layer 2: its rows (axis 1) are "
                    "layer-1 units, relabelled by p1; its columns (axis 2) layer-2 units, by p2")
        if _same(got, W2[..., p2].numpy()) or _same(got, W2[:, p1].numpy()):
            return ("W2 touches both hidden layers: which axis of W2 does p1 act on? Its rows (axis 1) by p1, "
                    "and its columns (axis 2) by p2")
        if _same(got, W2.numpy()):
            return "W2 connects the two hidden layers: relabel its rows by p1 and its columns by p2"
        return "W2's rows (axis 1) by p1, its columns (axis 2) by p2: W2[:, p1][..., p2]"
    if i == 4:
        if got.shape == tuple(W3.shape) and W3.shape[1] == W3.shape[2] and _same(got, W3[..., p2].numpy()):
            return ("the head's rows, not its columns: W3 (E, H, 10+m) has one row per layer-2 unit and one "
                    "column per output; relabel the rows by p2 (W3[:, p2]) and keep the outputs in place")
        if _same(got, W3.numpy()):
            return ("W3's rows are the layer-2 units: relabel them by p2 too (W3[:, p2]), or the head reads "
                    "every unit through another unit's weights")
    if _same(got, params[i].numpy()):
        return f"{_NAMES[i]} was left as it was; it belongs to a hidden layer, so relabel it with its layer's p"
    if i in inverse and _same(got, inverse[i].numpy()):
        return ("you used the inverse permutation: unit j of the result is unit p[j] of the input, so index with "
                "p (new[..., j] = old[..., p[j]]), not with argsort(p)")
    if i in (0, 1, 3) and own is not None:
        other = p2 if own is p1 else p1
        if _same(got, params[i][..., other].numpy()):
            return (f"{_NAMES[i]} belongs to layer {1 if own is p1 else 2}: relabel it with "
                    f"p{1 if own is p1 else 2}, not p{2 if own is p1 else 1}")
    return ("W1's columns and b1 by p1; W2's rows by p1 and columns by p2; b2 by p2; W3's rows by p2; b3 "
            "unchanged (unit j of the result is unit p[j] of the input)")


def check_hidden_permutation(fn: Callable) -> bool:
    """``fn(params, p1, p2)``: one ensemble ([W1, b1, W2, b2, W3, b3], leading axis E: W1 (E, 784, H), W2
    (E, H, H), W3 (E, H, 10+m)) and two permutations of the H hidden units (LongTensors (H,)), the same
    for every model -> the ensemble with its hidden units relabelled, computing the same function: unit j
    of the result is unit p[j] of the input. W1's columns and b1 by p1, W2's rows by p1 and its columns by
    p2, b2 by p2, W3's rows by p2, b3 unchanged. ``params`` is not written to.

    Reference: :func:`subliminal.models.permute_hidden` with ``(p1, p2)`` for every model and ``head=True``.
    """
    def case(seed, E=3, hidden=13, fix1=False, fix2=False, logits=False):
        def run(fn):
            params = _net(E, hidden, 3, seed)  # hidden 13 = 10 + 3 outputs: indexing W3's columns by p2 runs
            p1, p2 = _permutation(seed + 1, hidden, fix1), _permutation(seed + 2, hidden, fix2)
            before = _copies(params)
            expected = models.permute_hidden(before, [(p1, p2)] * E, head=True)
            raw = _call(fn, params, p1.clone(), p2.clone())
            if not _unchanged(before, params):
                raise _Wrong("your function changed params.",
                             "index into the tensors (W1[..., p1] makes a new tensor) instead of writing into "
                             "params; the caller keeps using the original")
            got = _grads_to_list(raw, expected, "your function")
            if logits:
                x = _images(seed + 3, 32)
                want = models.forward(before, x).numpy()
                have = models.forward([torch.as_tensor(t) for t in got], x).numpy()
                if not _same(have, want):
                    raise _Wrong(f"the relabelled network computes other logits: expected {_fmt(want)}, got "
                                 f"{_fmt(have)}.",
                                 "a relabelling changes no output: every tensor that touches a hidden unit must be "
                                 "relabelled with that unit's layer's permutation, on the axis of that layer")
            i = _first_difference(got, expected)
            if i is not None:
                raise _Wrong(f"{_wrong_entry(i, got[i], expected[i])}.",
                             _permutation_hint(i, got[i], before, p1, p2))
        return run

    return _check("check_hidden_permutation", "subliminal.models.permute_hidden (head=True)", fn, [
        _Case("both layers relabelled, 3 models", case(0)),
        _Case("layer 1 only (p2 the identity)", case(1, fix2=True)),
        _Case("layer 2 only (p1 the identity)", case(2, fix1=True)),
        _Case("identity permutations: nothing changes", case(3, fix1=True, fix2=True)),
        _Case("the logits are unchanged", case(4, logits=True)),
        _Case("one model, 8 hidden units", case(5, E=1, hidden=8)),
    ])


__all__ = ["check_partial_init", "check_hidden_permutation"]
