"""Small helpers the chapters share: fast mode, checked parameters and glued numbers.

``chapter_parameters`` validates the values of a chapter's ``parameters`` cell (which
papermill, Colab users and readers may change) before anything runs.

``glue`` stores a value for the book's text (myst-nb) when myst-nb is present,
and simply does nothing elsewhere (e.g. in Colab), so chapters run everywhere. It returns
nothing, so a ``glue(...)`` call that ends a cell shows no value box on the page.

``run_minutes`` keeps the measured compute time of a run beside the result cache, so a chapter
can state what a cold cache costs even when the run was read back from it.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from typing import Any, Callable

from .budget import MAX_SEEDS
from .config import Config, ConfigError, fast_mode  # noqa: F401  (fast_mode re-exported for the chapters)


def glue(name: str, value: Any, display: bool = False) -> None:
    """``myst_nb.glue`` when available (the book build), a no-op otherwise. Returns None.

    NumPy scalars are stored as plain Python numbers, so that ``{glue:text}`name:.1f```
    can format them. Nothing is displayed (``display=False``) and nothing is returned, so
    the page shows neither a value box nor an ``Out[...]`` for a cell that ends in ``glue``.
    """
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        value = value.item()
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return None
    myst_glue(name, value, display=display)
    return None


def main_run_key(config: Config, seeds: int, device: Any = None) -> dict:
    """What identifies the book's main run: the cache key of ``run_experiment(config, seeds,
    device=device)`` (:func:`subliminal.experiments.run_key`)."""
    from .experiments import run_key  # it imports torch

    return {"run": "main", **run_key(config, seeds, device=device)}


def run_minutes(name: str, key: dict, measured: float | None = None, code: str | None = "experiments") -> float:
    """The compute time, in minutes, of the run ``name`` identified by ``key``.

    With ``measured`` (the run was just computed, not read from the cache) the time is recorded
    in ``<result cache>/timings/`` and returned; without it the recorded time is returned, or NaN
    if none was recorded (the run came from a cache filled by something else). The record is keyed
    like a cache entry (``key`` plus the fingerprint of ``code``, the module that computes the run:
    the main run is :func:`~subliminal.experiments.run_experiment`'s), so it goes stale with it.
    """
    from .files import atomic_write
    from .store import cache_dir, canonical_json, full_key

    digest = hashlib.sha256(canonical_json(full_key(key, code=code)).encode()).hexdigest()[:16]
    path = cache_dir() / "timings" / f"{name}-{digest}.json"
    if measured is not None:
        if not (isinstance(measured, numbers.Real) and math.isfinite(measured) and measured >= 0):
            raise ValueError(f"measured must be a finite number of minutes >= 0; got {measured!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps({"name": name, "minutes": float(measured)}).encode())
        return float(measured)
    try:
        return float(json.loads(path.read_text())["minutes"])
    except (OSError, ValueError, KeyError, TypeError):
        return float("nan")


def minutes_text(minutes: float) -> str:
    """``4.2`` -> ``"4.2 minutes"``; NaN -> ``"an unmeasured time"`` (it reads in the boxes'
    sentences: "this chapter took an unmeasured time alone from a cold cache")."""
    return f"{minutes:.1f} minutes" if math.isfinite(minutes) else "an unmeasured time"


def percent(x: float) -> float:
    """A fraction as a percentage rounded for the text (0.5528 -> 55.3)."""
    return round(100.0 * float(x), 1)


# --------------------------------------------------------------------------- a chapter's parameters


def _fail(name: str, rule: str, value: Any, example: str) -> None:
    raise ConfigError(f"{name} must be {rule} (e.g. {name} = {example}); got {value!r}")


def _count(name: str, value: Any, example: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        _fail(name, "a whole number >= 1", value, example)
    if value > MAX_SEEDS:  # before any list of that many seeds is made
        _fail(name, f"a whole number from 1 to {MAX_SEEDS}", value, example)
    return int(value)


def _config_value(field: str, value: Any, **context: Any) -> Any:
    """``value`` as ``Config`` stores it in ``field``, checked by Config's own validation (not a copy of it),
    next to the settings in ``context`` that it needs (e.g. a momentum needs the SGD optimiser)."""
    return getattr(Config().replace(**context, **{field: value}), field)


def _setting(field: str, **context: Any) -> Callable[[str, Any, str], Any]:
    """A rule: the value must be a valid ``Config`` setting ``field`` (next to the settings ``context``)."""
    def check(name: str, value: Any, example: str) -> Any:
        try:
            return _config_value(field, value, **context)
        except ConfigError as exc:
            raise ConfigError(f"{name} = {value!r} is not a valid {field} (e.g. {name} = {example}): {exc}") from None
    return check


def _values(field: str) -> Callable[[str, Any, str], list]:
    """A rule: a non-empty list of valid ``Config`` settings ``field``."""
    def check(name: str, value: Any, example: str) -> list:
        if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__") or len(list(value)) == 0:
            _fail(name, f"a non-empty list of {field} values", value, example)
        out = []
        for v in value:
            try:
                out.append(_config_value(field, v))
            except ConfigError as exc:
                raise ConfigError(f"{name} contains {v!r}, not a valid {field} (e.g. {name} = {example}): "
                                  f"{exc}") from None
        return out
    return check


def _sweeps(name: str, value: Any, example: str) -> dict:
    """A rule: ``{setting: [values]}`` with known Config settings and non-empty lists of valid values."""
    if not isinstance(value, dict) or not value:
        _fail(name, "a non-empty dict {setting: [values]}", value, example)
    fields = Config().to_dict()
    out = {}
    for setting, values in value.items():
        if setting not in fields:
            raise ConfigError(f"{name} sweeps {setting!r}, which is not a Config setting; valid settings are "
                              f"{sorted(fields)} (e.g. {name} = {example})")
        if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
            _fail(f"{name}[{setting!r}]", "a non-empty list of values", values, f"[{fields[setting]!r}]")
        values = list(values)  # a generator is read once, here
        if not values:
            _fail(f"{name}[{setting!r}]", "a non-empty list of values", values, f"[{fields[setting]!r}]")
        checked = []
        for v in values:
            try:
                _config_value(setting, v)
            except ConfigError as exc:
                if str(exc).startswith(f"{setting} "):  # the value itself is wrong, not its default neighbours
                    raise ConfigError(f"{name}[{setting!r}] contains {v!r}: {exc}") from None
            checked.append(v)
        out[setting] = checked
    return out


def _doses(name: str, value: Any, example: str) -> list[float]:
    """A rule: a non-empty list of finite numbers >= 0 (noise stds in units of a tensor's init std)."""
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        _fail(name, "a non-empty list of numbers >= 0", value, example)
    values = list(value)
    ok = values and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
                        for v in values)
    if not ok:
        _fail(name, "a non-empty list of finite numbers >= 0", value, example)
    return [float(v) for v in values]


def _fast(name: str, value: Any, example: str) -> bool:
    if not isinstance(value, bool):
        _fail(name, "True or False", value, example)
    return fast_mode(value)


def _device(name: str, value: Any, example: str) -> str:
    """The device the chapter will use, resolved now: None becomes 'cuda' when a GPU is
    there, else 'cpu'; 'cuda' without a GPU is refused here, before any work."""
    if not isinstance(value, (str, type(None))) or value not in (None, "cpu", "cuda"):
        _fail(name, "None (CUDA when available), 'cpu' or 'cuda'", value, example)
    if value == "cpu":
        return value
    from .models import resolve_device  # the one rule (it imports torch)

    try:
        return resolve_device(value).type
    except ValueError:
        raise ConfigError(f"{name} = 'cuda' but no CUDA GPU is available here; use "
                          f"{name} = 'cpu' (or {name} = None: CUDA when available, "
                          "else the CPU)") from None


#: How each parameter a chapter may declare is checked: (rule, a valid example). ``FAST_X`` follows
#: the rule of ``X``; any ``*_SEEDS`` is a count.
PARAMETER_RULES: dict[str, tuple[Callable[[str, Any, str], Any], str]] = {
    "FAST": (_fast, "True"),
    "SEEDS": (_count, "10"),
    "WINDOW": (_count, "15"),
    "DEVICE": (_device, "'cpu'"),
    "TEACHER_LR": (_setting("teacher_lr"), "0.01"),
    "EPSILONS": (_values("teacher_lr"), "[0.001, 0.01, 0.1]"),
    "STUDENT_LRS": (_values("student_lr"), "[0.1, 1, 10]"),
    "TAUS": (_values("projection_tau"), "[0.0, 0.02]"),
    "SGD_LR": (_setting("student_lr", student_optimizer="sgd"), "0.5"),
    "SGD_MOMENTUM": (_setting("student_momentum", student_optimizer="sgd"), "0.9"),
    "BETAS": (_values("projection_beta"), "[0.25, 0.5, 1.0]"),
    "SCALES": (_values("liminal_scale"), "[0.0, 10.0]"),
    "SWEEPS": (_sweeps, "{'student_lr': [1e-4, 3e-4]}"),
    "FAST_SWEEPS": (_sweeps, "{'student_lr': [3e-4, 1e-3]}"),
    "PERTURBATIONS": (_sweeps, "{'student_weight_decay': [0.0, 1e-4]}"),
    "DOSES": (_doses, "[0.5]"),
    "ALIGNMENT_EVERY": (_setting("alignment_every"), "10"),
}


def _rule(name: str):
    """The rule of a parameter: its own, else a count for any ``*_SEEDS``, else that of ``X`` for
    ``FAST_X`` (the fast-mode twin)."""
    if name in PARAMETER_RULES:
        return PARAMETER_RULES[name]
    if name.endswith("_SEEDS"):
        return (_count, "3")
    if name.startswith("FAST_") and name[len("FAST_"):] in PARAMETER_RULES:
        return PARAMETER_RULES[name[len("FAST_"):]]
    return None


def chapter_parameters(**values: Any) -> tuple:
    """Check the values of a chapter's ``parameters`` cell; return them, in the order given.

    ``FAST`` must be a real bool and comes back through :func:`fast_mode` (so
    ``SUBLIMINAL_FAST=1`` turns it on); seed counts are whole numbers >= 1; lists are
    non-empty and each value must be valid for the ``Config`` setting it stands for;
    sweeps name real settings; ``DEVICE`` is None, 'cpu' or 'cuda' and comes back
    resolved ('cuda' when a GPU is available, else 'cpu'; 'cuda' without a GPU is an
    error here, not cells later). An error names the parameter, the value and a valid
    example::

        FAST, SEEDS, FAST_SEEDS = chapter_parameters(FAST=FAST, SEEDS=SEEDS, FAST_SEEDS=FAST_SEEDS)
    """
    out = []
    for name, value in values.items():
        rule = _rule(name)
        if rule is None:
            raise TypeError(f"chapter_parameters has no rule for {name}; add one to subliminal.book.PARAMETER_RULES")
        check, example = rule
        out.append(check(name, value, example))
    return tuple(out)
