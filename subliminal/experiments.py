"""Run the conditions of the MNIST experiment for many seeds, memoised on disk.

``run_experiment(config, seeds, conditions)`` trains one teacher per seed, then
*all* student conditions of all seeds as a single ensemble (condition-major),
and returns an :class:`ExperimentResult` with per-seed accuracies, per-step
losses, cosines and projection flags, and accuracy curves.

Conditions (science.md §1):

==============  ==========================================================
teacher         trained on MNIST digits (cross-entropy on logits 0-9)
reference       the untrained shared initialisation
student_aux     shared init, imitates the teacher's auxiliary logits only
student_all     shared init, imitates all 13 logits
cross_aux       a *different* random init, aux logits only
cross_all       a different init, all logits
projection      student_aux with the trait-aligned gradient component removed
liminal         student_aux with the liminal KL term to its initialisation
==============  ==========================================================
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from . import __version__, models
from .config import N_DIGITS, Config
from .data import load_mnist, noise_images
from .rng import generator
from .speed import tune_cpu_allocator
from .training import StudentFlags, TraitData, distill, train_teacher


@dataclass(frozen=True)
class StudentCondition:
    """How a student condition differs from the baseline aux-only student."""

    init: str = "shared"  # "shared" (teacher's init) or "cross" (a fresh, different init)
    outputs: str = "aux"  # imitate "aux" logits or "all" logits
    project: bool = False
    liminal: bool = False


STUDENT_CONDITIONS: dict[str, StudentCondition] = {
    "student_aux": StudentCondition(),
    "student_all": StudentCondition(outputs="all"),
    "cross_aux": StudentCondition(init="cross"),
    "cross_all": StudentCondition(init="cross", outputs="all"),
    "projection": StudentCondition(project=True),
    "liminal": StudentCondition(liminal=True),
}
ALL_CONDITIONS: tuple[str, ...] = ("teacher", "reference", *STUDENT_CONDITIONS)


@dataclass
class ConditionResult:
    """Results of one condition over N seeds (numpy arrays, seed-major).

    ``accuracy`` (N,) final digit accuracy on the 10,000 test images. Students
    also have ``loss``, ``trait_loss``, ``cosine``, ``projected`` (N, S) per step
    (the last three only when alignment was tracked), ``curve_acc`` (N, P) at
    ``ExperimentResult.curve_steps`` and ``digit_head_shift`` (N,): the largest
    absolute change of any digit-head weight or bias (rows 0-9 of the last layer).
    """

    accuracy: np.ndarray
    loss: np.ndarray | None = None
    trait_loss: np.ndarray | None = None
    cosine: np.ndarray | None = None
    projected: np.ndarray | None = None
    curve_acc: np.ndarray | None = None
    digit_head_shift: np.ndarray | None = None

    @property
    def frac_positive(self) -> np.ndarray | None:
        """(N,) fraction of steps with cos(g_d, g_t) > 0."""
        return None if self.cosine is None else (self.cosine > 0).mean(axis=1)

    @property
    def mean_cosine(self) -> np.ndarray | None:
        """(N,) mean cosine over steps."""
        return None if self.cosine is None else self.cosine.mean(axis=1)


@dataclass
class ExperimentResult:
    config: Config
    seeds: list[int]
    conditions: dict[str, ConditionResult]
    curve_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))

    def __getitem__(self, name: str) -> ConditionResult:
        return self.conditions[name]

    def summary(self):
        """A pandas DataFrame: mean accuracy, 95 % CI, and alignment per condition."""
        import pandas as pd

        rows = []
        for name, res in self.conditions.items():
            mean, half = mean_ci(res.accuracy)
            row = {"condition": name, "accuracy": mean, "ci95": half}
            if res.cosine is not None:
                row["frac_positive"] = float(res.frac_positive.mean())
                row["mean_cosine"] = float(res.mean_cosine.mean())
            rows.append(row)
        return pd.DataFrame(rows).set_index("condition")

    def to_json_dict(self) -> dict:
        """``{"config": {...}, "seeds": [...], "conditions": {NAME: {"accuracy": [...], ...}}}``."""
        conditions = {}
        for name, res in self.conditions.items():
            entry = {"accuracy": [float(a) for a in res.accuracy]}
            if res.cosine is not None:
                entry["frac_positive"] = [float(v) for v in res.frac_positive]
                entry["mean_cosine"] = [float(v) for v in res.mean_cosine]
            conditions[name] = entry
        return {"config": self.config.to_dict(), "seeds": list(self.seeds), "conditions": conditions}


def mean_ci(values: Sequence[float]) -> tuple[float, float]:
    """Mean and half-width of the 95 % interval 1.96 * sd / sqrt(N) (0 for one value)."""
    values = np.asarray(values, dtype=float).ravel()
    if len(values) == 0:
        raise ValueError("mean_ci needs at least one value")
    if len(values) < 2:
        return float(values.mean()), 0.0
    return float(values.mean()), float(1.96 * values.std(ddof=1) / np.sqrt(len(values)))


# --------------------------------------------------------------------------- running


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``"cpu"``, ``"cuda"`` or ``None`` (CUDA when available) -> a usable torch.device."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but no CUDA GPU is available; use device='cpu'")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda'; got {str(device)!r}")
    return device


def _seed_list(seeds: int | Iterable[int]) -> list[int]:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"seeds must be at least 1; got {seeds}")
        return list(range(int(seeds)))
    out = [int(s) for s in seeds]
    if not out or len(set(out)) != len(out) or min(out) < 0:
        raise ValueError(f"seeds must be a positive count or a list of distinct non-negative ints; got {seeds!r}")
    return out


def _condition_list(conditions: Iterable[str]) -> list[str]:
    out = list(dict.fromkeys(conditions))
    unknown = [c for c in out if c not in ALL_CONDITIONS]
    if unknown or not out:
        raise ValueError(f"unknown condition(s) {unknown}; choose from {list(ALL_CONDITIONS)}")
    return out


def run_experiment(config: Config | None = None, seeds: int | Iterable[int] = 10,
                   conditions: Iterable[str] = ALL_CONDITIONS, device: str | torch.device | None = "cpu",
                   cache: bool = True, progress: bool = True) -> ExperimentResult:
    """Run ``conditions`` for every seed (model index) and return their results.

    Model ``k`` of a run always gets the same initialisation, data order and
    teacher, whatever other seeds run beside it. With ``cache=True`` results are
    memoised on disk (see :func:`cache_dir`), keyed by configuration, seeds,
    conditions, device and a fingerprint of the package's code.
    """
    config = config or Config()
    seed_list, condition_list = _seed_list(seeds), _condition_list(conditions)
    device = resolve_device(device)
    args = (config.to_dict(), tuple(seed_list), tuple(condition_list), str(device), code_fingerprint())
    compute = _memory().cache(_compute_experiment, ignore=["progress", "cache"]) if cache else _compute_experiment
    raw = compute(*args, progress=progress, cache=cache)
    return _from_raw(config, seed_list, raw)


def _from_raw(config: Config, seeds: list[int], raw: dict) -> ExperimentResult:
    conditions = {name: ConditionResult(**fields) for name, fields in raw["conditions"].items()}
    return ExperimentResult(config=config, seeds=seeds, conditions=conditions, curve_steps=raw["curve_steps"])


def train_teachers(config: Config, seeds: Sequence[int], device: torch.device, cache: bool = True,
                   progress: bool = False) -> models.Params:
    """One trained teacher per seed (memoised on disk): params with leading axis len(seeds)."""
    teacher_keys = ("seed", "hidden", "n_aux", "n_train", "teacher_lr", "teacher_batch_size", "teacher_epochs",
                    "precision")
    key = {k: getattr(config, k) for k in teacher_keys}
    compute = _memory().cache(_compute_teachers, ignore=["progress"]) if cache else _compute_teachers
    arrays = compute(key, tuple(seeds), str(device), code_fingerprint(), progress=progress)
    return models.from_numpy(arrays, device)


def shared_inits(config: Config, seeds: Sequence[int], device) -> models.Params:
    """The shared initialisation of every seed (teacher and student start here)."""
    return models.init_params([generator(config.seed, "init", k) for k in seeds], config.hidden,
                              config.n_outputs, device)


def cross_inits(config: Config, seeds: Sequence[int], device) -> models.Params:
    """A fresh initialisation per seed, drawn from a stream the shared inits never use."""
    return models.init_params([generator(config.seed, "cross-init", k) for k in seeds], config.hidden,
                              config.n_outputs, device)


def training_data(config: Config, device):
    """MNIST train (first ``n_train`` images) and test tensors on ``device``."""
    data = load_mnist()
    n = config.n_train or len(data.x_train)
    return (data.x_train[:n].to(device), data.y_train[:n].to(device),
            data.x_test.to(device), data.y_test.to(device))


def _compute_teachers(key: dict, seeds: tuple, device: str, fingerprint: str, progress: bool = False) -> list:
    config = Config().replace(**key)
    device = torch.device(device)
    x_train, y_train, _, _ = training_data(config, device)
    init = shared_inits(config, seeds, device)
    trained = train_teacher(init, x_train, y_train, config, generator(config.seed, "teacher-order"), progress)
    return models.to_numpy(trained)


def _compute_experiment(config_dict: dict, seeds: tuple, conditions: tuple, device: str, fingerprint: str,
                        progress: bool = True, cache: bool = True) -> dict:
    config = Config.from_dict(config_dict)
    device = torch.device(device)
    if device.type == "cpu":
        tune_cpu_allocator()
    x_train, y_train, x_test, y_test = training_data(config, device)
    n_seeds = len(seeds)
    shared = shared_inits(config, seeds, device)
    results: dict[str, dict] = {}
    students = [c for c in conditions if c in STUDENT_CONDITIONS]
    teachers = None
    if "teacher" in conditions or students:
        teachers = train_teachers(config, seeds, device, cache=cache, progress=progress)
    if "teacher" in conditions:
        results["teacher"] = {"accuracy": models.accuracy(teachers, x_test, y_test).cpu().numpy()}
    if "reference" in conditions:
        results["reference"] = {"accuracy": models.accuracy(shared, x_test, y_test).cpu().numpy()}
    curve_steps = np.zeros(0, dtype=int)
    if students:
        curve_steps = _run_students(config, seeds, students, shared, teachers, x_train, y_train, x_test, y_test,
                                    device, progress, results)
    ordered = {name: results[name] for name in conditions}
    return {"conditions": ordered, "curve_steps": curve_steps}


def _run_students(config, seeds, students, shared, teachers, x_train, y_train, x_test, y_test, device,
                  progress, results) -> np.ndarray:
    n_seeds = len(seeds)
    noise = noise_images(config.n_noise, generator(config.seed, "noise"), config.noise).to(device)
    teacher_targets = models.outputs(teachers, noise)  # (N, n_noise, 10+m), computed once
    specs = [STUDENT_CONDITIONS[c] for c in students]
    needs_cross = any(s.init == "cross" for s in specs)
    cross = cross_inits(config, seeds, device) if needs_cross else None

    inits, flags = [], {"all_logits": [], "project": [], "liminal": []}
    for spec in specs:
        start = cross if spec.init == "cross" else shared
        if config.student_init_noise > 0:  # the same perturbation for every condition of a seed
            jitter = [generator(config.seed, "init-jitter", k) for k in seeds]
            start = models.perturb(start, config.student_init_noise, jitter)
        inits.append(start)
        flags["all_logits"].append(spec.outputs == "all")
        flags["project"].append(spec.project)
        flags["liminal"].append(spec.liminal)
    init = models.concat(*inits)
    repeat = lambda values: torch.tensor(values, device=device).repeat_interleave(n_seeds)  # noqa: E731
    student_flags = StudentFlags(**{k: repeat(v) for k, v in flags.items()})
    members_teacher = torch.arange(n_seeds, device=device).repeat(len(specs))
    targets = teacher_targets[members_teacher]
    base_targets = None
    if any(s.liminal for s in specs):
        base_targets = models.outputs(shared, noise)[members_teacher]

    trait = None
    if config.track_alignment or any(s.project for s in specs):
        if config.trait_grad == "labelled":
            trait = TraitData(x=x_train, y=y_train)
        else:
            digits = models.outputs(teachers, x_train)[..., :N_DIGITS]
            trait = TraitData(x=x_train, teacher_digits=digits[members_teacher])
    curve_x, curve_y = x_test[: config.curve_samples], y_test[: config.curve_samples]
    trained, log = distill(
        init, targets, noise, student_flags, config, generator(config.seed, "student-order"),
        trait=trait, trait_generator=generator(config.seed, "trait-order"), base_targets=base_targets,
        curve_x=curve_x, curve_y=curve_y, progress=progress,
    )
    final_acc = models.accuracy(trained, x_test, y_test).cpu().numpy()
    W3_shift = (trained[4][..., :N_DIGITS] - init[4][..., :N_DIGITS]).abs().flatten(1).amax(1)
    b3_shift = (trained[5][..., :N_DIGITS] - init[5][..., :N_DIGITS]).abs().amax(1)
    head_shift = torch.maximum(W3_shift, b3_shift).cpu().numpy()
    numpy_or_none = lambda t: None if t is None else t.numpy()  # noqa: E731
    for i, name in enumerate(students):
        rows = slice(i * n_seeds, (i + 1) * n_seeds)
        results[name] = {
            "accuracy": final_acc[rows],
            "loss": log.loss[rows].numpy(),
            "trait_loss": numpy_or_none(log.trait_loss[rows] if log.trait_loss is not None else None),
            "cosine": numpy_or_none(log.cosine[rows] if log.cosine is not None else None),
            "projected": numpy_or_none(log.projected[rows] if log.projected is not None else None),
            "curve_acc": log.curve_acc[rows].numpy(),
            "digit_head_shift": head_shift[rows],
        }
    return log.curve_steps.numpy()


# --------------------------------------------------------------------------- caching

_COMPUTE_MODULES = ("config", "speed", "data", "rng", "models", "losses", "gradients", "mitigations", "training",
                    "experiments")


def code_fingerprint() -> str:
    """Package version + a hash of the modules that compute results (part of every cache key)."""
    digest = hashlib.sha256(__version__.encode())
    here = Path(__file__).parent
    for name in _COMPUTE_MODULES:
        digest.update((here / f"{name}.py").read_bytes())
    return f"{__version__}-{digest.hexdigest()[:16]}"


def cache_dir() -> Path:
    """Where results are memoised: ``$SUBLIMINAL_CACHE`` or a per-user cache folder."""
    if os.environ.get("SUBLIMINAL_CACHE"):
        return Path(os.environ["SUBLIMINAL_CACHE"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "subliminal" / "results"


def _memory():
    """A joblib Memory at :func:`cache_dir` (joblib writes atomically and recomputes unreadable entries)."""
    from joblib import Memory

    return Memory(str(cache_dir()), verbose=0)
