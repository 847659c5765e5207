"""Run the conditions of the MNIST experiment for many seeds, memoised on disk.

``run_experiment(config, seeds, conditions)`` trains one teacher per seed, then
*all* student conditions of all seeds as a single ensemble (condition-major),
and returns an :class:`~subliminal.results.ExperimentResult`.

A student condition is a composition of parts (:class:`StudentCondition`): where
it starts, what it imitates, whether the projection transform or the liminal
loss term acts on it, and which trait gradient it is measured (and projected)
against. ``teacher`` and ``reference`` (the untrained shared initialisation) are
evaluated, not trained. Every built-in condition, with its label and description, is
declared once, in :mod:`subliminal.conditions` (this module re-exports
``StudentCondition``, ``STUDENT_CONDITIONS``, ``ALL_CONDITIONS`` and ``PLACEBOS``).
A one-off condition is one line, passed as a ``(name, StudentCondition(...))`` pair::

    run_experiment(config, conditions=["student_aux", ("early_liminal", StudentCondition(liminal=True))])
"""

from __future__ import annotations

import dataclasses
from typing import Iterable, Sequence, Union

import numpy as np
import torch

from . import budget, models
from .conditions import (ALL_CONDITIONS, PLACEBOS, RESERVED_NAMES, STUDENT_CONDITIONS, StudentCondition,
                         student_condition)
from .models import resolve_device
from .config import N_DIGITS, Config
from .data import load_mnist, noise_images
from .ensemble import Layout, cross_inits, hidden_permutations, shared_inits, student_starts  # noqa: F401
from .mitigations import LiminalAnchor, Projection
from .results import ConditionResult, ExperimentResult
from .rng import generator
from .speed import tune_cpu_allocator
from .training import (AlignmentProbe, CurveProbe, DriveProbe, Imitation, LossProbe, TraitGradient, UpdateProbe,
                       distill, train_teacher)


ConditionSpec = Union[str, tuple[str, StudentCondition]]


# --------------------------------------------------------------------------- arguments


def seed_list(seeds: int | Iterable[int]) -> list[int]:
    """A count N (seeds 0..N-1) or a list of distinct non-negative ints -> the list of seeds."""
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, (bool, np.bool_)):
        if seeds < 1:
            raise ValueError(f"seeds must be at least 1; got {seeds}")
        budget.check_seed_count(int(seeds))  # before a list of that many seeds is made
        return list(range(int(seeds)))
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise ValueError(f"seeds must be a count (e.g. 10) or a list of ints (e.g. [0, 1, 2]); got {seeds!r}")
    out = list(seeds)
    if not all(isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_)) for s in out):
        raise ValueError(f"seeds must be whole numbers, e.g. [0, 1, 2]; got {seeds!r}")
    out = [int(s) for s in out]
    if not out or len(set(out)) != len(out) or min(out) < 0:
        raise ValueError(f"seeds must be a positive count or a list of distinct non-negative ints; got {seeds!r}")
    return out


def declaration(spec: StudentCondition | None) -> dict | None:
    """What a condition is, as data: its parts (None for the teacher and the
    reference). This, not the name, is what ``reuse`` compares."""
    return None if spec is None else dataclasses.asdict(spec)


def _spec_text(spec: StudentCondition) -> str:
    """``StudentCondition(init='cross', outputs='all')``: the non-default parts."""
    parts = [f"{f.name}={getattr(spec, f.name)!r}" for f in dataclasses.fields(spec)
             if getattr(spec, f.name) != f.default]
    return f"StudentCondition({', '.join(parts)})"


def condition_specs(conditions: Iterable[ConditionSpec]) -> dict[str, StudentCondition | None]:
    """Condition names (and ``(name, StudentCondition)`` pairs) -> {name: spec}, None for teacher/reference.

    A pair cannot take a reserved name (teacher, reference) nor a built-in
    condition's name with another definition: a name always means one condition."""
    if isinstance(conditions, (str, bytes)) or not isinstance(conditions, Iterable):
        raise ValueError(f"conditions must be a list of names, e.g. ['teacher', 'student_aux']; got {conditions!r}")
    out: dict[str, StudentCondition | None] = {}
    for item in conditions:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], StudentCondition):
            name, spec = item
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"a custom condition needs a name, e.g. ('my_student', "
                                 f"{_spec_text(spec)}); got {name!r}")
            if name in RESERVED_NAMES:
                raise ValueError(f"condition name {name!r} is reserved for the {name}; "
                                 "give your StudentCondition another name, e.g. "
                                 f"('my_{name}', {_spec_text(spec)})")
            builtin = STUDENT_CONDITIONS.get(name)
            if builtin is not None and spec != builtin:
                raise ValueError(f"condition name {name!r} is the built-in "
                                 f"{_spec_text(builtin)}; give your condition another "
                                 f"name, e.g. ('my_{name}', {_spec_text(spec)})")
        else:
            name, spec = item, student_condition(item)  # a built-in name, else a ValueError naming them
        if name in out and out[name] != spec:
            raise ValueError(f"condition name {name!r} is used twice for different conditions")
        out[name] = spec
    if not out:
        raise ValueError("conditions must not be empty; e.g. ['teacher', 'student_aux']")
    return out


# --------------------------------------------------------------------------- running


def run_experiment(config: Config | None = None, seeds: int | Iterable[int] = 10,
                   conditions: Iterable[ConditionSpec] = ALL_CONDITIONS, device: str | torch.device | None = None,
                   cache: bool = True, progress: bool = True, allow_large: bool = False,
                   reuse: ExperimentResult | None = None) -> ExperimentResult:
    """Run ``conditions`` for every seed (model index) and return their results.

    Model ``k`` of a run always gets the same initialisation, data order and
    teacher, whatever other seeds or conditions run beside it. ``device=None``
    uses CUDA when available. With ``cache=True`` results are memoised on disk,
    keyed by configuration, seeds, conditions, device type and the package's code.
    Before computing, the memory the run needs is estimated (:mod:`subliminal.budget`); a run
    larger than the machine (or the GPU) holds is refused unless ``allow_large=True``.

    ``reuse``: a run already at hand (e.g. a chapter's main run). When it answers for this ``config``
    (:func:`same_run`) and holds these seeds and conditions, their rows are returned and nothing is
    trained: a sweep point or an explorer frame that coincides with the chapter's run is that run. Rows
    of a run that measured alignment more often than asked come back as this run would have measured them
    (:meth:`~subliminal.results.ExperimentResult.on_alignment_steps`; every step when a condition projects).
    """
    from .store import memoise

    config = config or Config()
    if not isinstance(config, Config):
        raise ValueError(f"config must be a subliminal.Config; got {type(config).__name__}")
    seeds, specs, device = seed_list(seeds), condition_specs(conditions), resolve_device(device)
    for name, flag in (("cache", cache), ("progress", progress), ("allow_large", allow_large)):
        if not isinstance(flag, bool):
            raise ValueError(f"{name} must be True or False; got {flag!r}")
    key = _experiment_key(config, seeds, specs, device)

    def compute() -> dict:  # the budget is checked only when something is computed, not for a cached result
        needed = budget.estimate(config, len(seeds), [name if spec is None else (name, spec)
                                                      for name, spec in specs.items()])
        free = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else None
        budget.check_budget(needed, available_memory=free, allow_large=allow_large,
                            where="the GPU" if device.type == "cuda" else "this machine")
        return _compute_experiment(config, seeds, specs, device, cache, progress)

    if reuse is not None and _holds(reuse, config, seeds, specs):
        rows = reuse.subset(seeds, list(specs))
        projects = any(spec is not None and spec.project for spec in specs.values())
        if config.track_alignment and config.alignment_every > 1 and not projects:
            rows = rows.on_alignment_steps(config.alignment_every)  # what this run would have measured
        elif config.track_alignment:  # a projection measured every step, as this run would: same records
            rows.config = rows.config.replace(alignment_every=config.alignment_every)
        return rows
    result = _result(config, seeds, memoise("experiment", key, compute, enabled=cache, code="experiments"))
    result.declarations = {name: declaration(spec) for name, spec in specs.items()}
    return result


def cached_result(config: Config, seeds: int | Iterable[int] = 10, conditions: Iterable[ConditionSpec] = ALL_CONDITIONS,
                  device: str | torch.device | None = None) -> ExperimentResult | None:
    """The run ``run_experiment(config, seeds, conditions, device)`` if it is already in the cache, else None.

    Nothing is trained: a chapter uses it to ``reuse`` the book's main run when an earlier chapter left it."""
    from .store import lookup

    if not isinstance(config, Config):
        raise ValueError("config must be a subliminal.Config, e.g. Config.fast(); "
                         f"got {type(config).__name__} {config!r:.40}")
    seeds, specs, device = seed_list(seeds), condition_specs(conditions), resolve_device(device)
    payload = lookup("experiment", _experiment_key(config, seeds, specs, device), code="experiments")
    if payload is None:
        return None
    result = _result(config, seeds, payload)
    result.declarations = {name: declaration(spec) for name, spec in specs.items()}
    return result


def run_key(config: Config, seeds: int | Iterable[int] = 10, conditions: Iterable[ConditionSpec] = ALL_CONDITIONS,
            device: str | torch.device | None = None) -> dict:
    """What identifies the run ``run_experiment(config, seeds, conditions, device)``: its cache key."""
    return _experiment_key(config, seed_list(seeds), condition_specs(conditions), resolve_device(device))


def _experiment_key(config: Config, seeds: list[int], specs: dict, device: torch.device) -> dict:
    return {"config": config.to_dict(), "seeds": seeds, "device": device.type,
            "float32_matmul": torch.get_float32_matmul_precision(),  # TF32 on GPUs changes the numbers
            "conditions": {name: None if spec is None else dataclasses.asdict(spec) for name, spec in specs.items()},
            "order": list(specs)}  # the ensemble's layout and the result's order


def _result(config: Config, seeds: list[int], payload: dict) -> ExperimentResult:
    conditions = {name: ConditionResult(**fields) for name, fields in payload["conditions"].items()}
    return ExperimentResult(config=config, seeds=seeds, conditions=conditions,
                            curve_steps=np.asarray(payload["curve_steps"]))


def same_run(ran: Config, asked: Config, ignore: Iterable[str] = ()) -> bool:
    """True when a run with config ``ran`` answers for one with ``asked``: every setting equal but those in
    ``ignore``. The probes never change the training, so a run that tracked alignment also answers for one
    that does not, and one that measured it every k-th step for one that asks every multiple of k
    (:meth:`~subliminal.results.ExperimentResult.on_alignment_steps` gives what that run records)."""
    done, wanted, ignore = ran.to_dict(), asked.to_dict(), set(ignore)
    if not wanted["track_alignment"] or (done["track_alignment"]
                                         and wanted["alignment_every"] % done["alignment_every"] == 0):
        wanted["alignment_every"] = done["alignment_every"]
    wanted["track_alignment"] = wanted["track_alignment"] or done["track_alignment"]
    return all(done[name] == wanted[name] for name in done if name not in ignore)


def _holds(result: ExperimentResult, config: Config, seeds: list[int], specs: dict) -> bool:
    """True when ``result`` was run with ``config`` (:func:`same_run`) and holds ``seeds`` and the
    conditions ``specs``: the same declaration (all its parts) under the same name, not
    merely the name."""
    declared = _declarations(result)
    return (same_run(result.config, config) and set(seeds) <= set(result.seeds)
            and all(name in result.conditions and name in declared
                    and declared[name] == declaration(spec)
                    for name, spec in specs.items()))


def _declarations(result: ExperimentResult) -> dict:
    """{name: declaration} of what ``result`` holds: as recorded, else what a name can
    only mean (a reserved or built-in name cannot be redeclared); a custom condition
    without a record is unknown, so never reused."""
    recorded = getattr(result, "declarations", None)
    if recorded is not None:
        return dict(recorded)
    return {name: declaration(STUDENT_CONDITIONS.get(name)) for name in result.conditions
            if name in RESERVED_NAMES or name in STUDENT_CONDITIONS}


#: The Config fields a trained teacher depends on, and so its cache key: the init (seed, sizes), the
#: training data (n_train, and each seed's own order with data_per_seed) and the teacher's training.
#: tests/test_experiments.py changes every other field and checks the teacher stays bit-identical.
TEACHER_FIELDS = ("seed", "hidden", "n_aux", "n_train", "teacher_lr", "teacher_batch_size", "teacher_epochs",
                  "precision", "data_per_seed")


def train_teachers(config: Config, seeds: Sequence[int], device: torch.device, cache: bool = True,
                   progress: bool = False) -> models.Params:
    """One trained teacher per seed: params with leading axis len(seeds).

    Each seed's teacher is trained and memoised on its own, so it is the same numbers whatever seeds run
    beside it (a batched matrix product may round differently for another ensemble size), and a run of
    seeds 0-4 finds the teachers a run of seeds 0-9 trained."""
    from .store import memoise

    x_train = y_train = None
    teachers = []
    for k in seeds:
        key = {"config": {f: getattr(config, f) for f in TEACHER_FIELDS}, "seeds": [int(k)],
               "device": torch.device(device).type, "float32_matmul": torch.get_float32_matmul_precision()}

        def compute(k=k):
            nonlocal x_train, y_train
            if x_train is None:
                x_train, y_train, _, _ = training_data(config, device)
            order = generator(config.seed, "teacher-order", data_index(config, [k]))
            trained = train_teacher(shared_inits(config, [k], device), x_train, y_train, config, order, progress)
            return {"params": models.to_numpy(trained)}

        teachers.append(models.from_numpy(memoise("teachers", key, compute, enabled=cache,
                                                  code="experiments")["params"], device))
    return models.concat(*teachers)


def data_index(config: Config, seeds: Sequence[int]) -> int:
    """The index of the data streams (noise images, batch orders, trait batches) for a run of ``seeds``:
    0, shared by all seeds (the reference code), or the seed itself with ``config.data_per_seed``."""
    if not config.data_per_seed:
        return 0
    if len(seeds) != 1:
        raise ValueError("with data_per_seed every seed has its own data: run one seed at a time")
    return int(seeds[0])


def training_data(config: Config, device):
    """MNIST train (first ``n_train`` images) and test tensors on ``device``."""
    data = load_mnist()
    n = config.n_train or len(data.x_train)
    return (data.x_train[:n].to(device), data.y_train[:n].to(device),
            data.x_test.to(device), data.y_test.to(device))


def _compute_experiment(config: Config, seeds: list[int], specs: dict, device: torch.device, cache: bool,
                        progress: bool) -> dict:
    if config.data_per_seed and len(seeds) > 1:  # each seed its own data: one ensemble per seed
        parts = [_compute_experiment(config, [k], specs, device, cache, progress) for k in seeds]
        merged = {name: {field: None if parts[0]["conditions"][name][field] is None else
                         np.concatenate([p["conditions"][name][field] for p in parts])
                         for field in parts[0]["conditions"][name]} for name in specs}
        return {"conditions": merged, "curve_steps": parts[0]["curve_steps"]}
    if device.type == "cpu":
        tune_cpu_allocator()
    x_train, y_train, x_test, y_test = training_data(config, device)
    shared = shared_inits(config, seeds, device)
    results: dict[str, dict] = {}
    students = {name: spec for name, spec in specs.items() if spec is not None}
    teachers = None
    if "teacher" in specs or students:
        teachers = train_teachers(config, seeds, device, cache=cache, progress=progress)
    for name, params in (("teacher", teachers), ("reference", shared)):
        if name in specs:
            digits = models.predict_digits(params, x_test)
            predicted, balanced = models.class_counts(params, x_test, y_test, predicted=digits)
            results[name] = {"accuracy": models.fraction_correct(digits, y_test).cpu().numpy(),
                             "predicted_counts": predicted.cpu().numpy(), "balanced_accuracy": balanced.cpu().numpy()}
    curve_steps = np.zeros(0, dtype=int)
    if students:
        distilled, curve_steps = _run_students(config, seeds, Layout.of(students, len(seeds), device), shared,
                                               teachers, (x_train, y_train, x_test, y_test), progress)
        results.update(distilled)
    return {"conditions": {name: results[name] for name in specs}, "curve_steps": curve_steps}


def _projection(spec: StudentCondition, config: Config) -> tuple[str, str, float]:
    """(layers, space, tau) of a projecting condition: its own, else the Config's."""
    return (spec.layers or config.projection_layers, spec.space or config.projection_space,
            config.projection_tau if spec.tau is None else spec.tau)


def _run_students(config: Config, seeds: list[int], layout: Layout, shared: models.Params,
                  teachers: models.Params, data: tuple, progress: bool) -> tuple[dict, np.ndarray]:
    """Distil every student of ``layout`` as one ensemble: ({name: result fields}, the curve's steps)."""
    x_train, y_train, x_test, y_test = data
    stream = data_index(config, seeds)
    noise = noise_images(config.n_noise, generator(config.seed, "noise", stream), config.noise).to(layout.device)
    init = student_starts(config, seeds, layout.specs, layout.device, shared)
    terms = _loss_terms(config, layout, teachers, init, noise)
    transforms = _transforms(config, layout)
    trait = None
    if config.track_alignment or transforms:
        trait = _trait_gradient(config, seeds, layout, teachers, x_train, y_train)
    probes = [LossProbe(), CurveProbe(x_test[: config.curve_samples], y_test[: config.curve_samples],
                                      config.curve_every)]
    if trait is not None:
        probes += [AlignmentProbe(), UpdateProbe()]
    if config.track_drive:
        probes.append(DriveProbe(x_train, y_train, config.drive_batch_size,
                                 generator(config.seed, "drive-order", stream), config.precision))
    trained, logs = distill(init, noise, terms, config, generator(config.seed, "student-order", stream),
                            trait=trait, trait_generator=generator(config.seed, "trait-order", stream),
                            transforms=transforms, probes=probes, progress=progress)
    return _student_results(layout, trained, init, shared, teachers, logs, x_test, y_test), logs["curve_steps"].numpy()


def _transforms(config: Config, layout: Layout) -> list[Projection]:
    """One projection transform per (layers, space, tau) that some condition of ``layout`` projects with."""
    out = []
    for setting in sorted({_projection(s, config) for s in layout.specs if s.project}):
        layers, space, tau = setting
        projecting = layout.members(lambda s, setting=setting: s.project and _projection(s, config) == setting)
        out.append(Projection(projecting, tau, config.projection_beta, layers, space,
                              matched=layout.members(lambda s: s.placebo is not None)))
    return out


def _loss_terms(config: Config, layout: Layout, teachers: models.Params, init: models.Params,
                noise: torch.Tensor) -> list:
    """Imitation of each member's teacher (aux or all logits), plus the liminal term where it acts."""
    terms = [Imitation(models.outputs(teachers, noise)[layout.seed_index], layout.members(lambda s: s.outputs == "all"),
                       config.temperature)]
    liminal = layout.members(lambda s: s.liminal)
    if bool(liminal.any()):
        # the base model is each student's own start (its init), never the teacher's when they differ;
        # only the liminal members' base logits are computed (the others' rows stay 0 and get weight 0)
        base_logits = torch.zeros(len(liminal), len(noise), config.n_outputs, device=layout.device)
        base_logits[liminal] = models.outputs(models.select(init, liminal.nonzero().flatten()), noise)
        terms.append(LiminalAnchor(base_logits, liminal, config))
    return terms


def _student_results(layout: Layout, trained: models.Params, init: models.Params, shared: models.Params,
                     teachers: models.Params, logs: dict, x_test, y_test) -> dict[str, dict]:
    """{name: its result fields}: the trained ensemble evaluated, and each condition's rows of the logs."""
    # one pass of the hidden layers over the test set serves every measure of the trained students
    own, with_init_head = models.predictions_with_heads(trained, [trained, init], x_test)
    accuracy, restored = (models.fraction_correct(p, y_test).cpu().numpy() for p in (own, with_init_head))
    head_shift = models.digit_head_shift(trained, init).cpu().numpy()
    head_norm_ratio = models.digit_head_norm_ratio(trained, init).cpu().numpy()
    predicted, balanced = (c.cpu().numpy() for c in models.class_counts(trained, x_test, y_test, predicted=own))
    shared_of = models.select(shared, layout.seed_index)  # each member's teacher started at its seed's shared init
    displacement = models.displacement_cosines(trained, init, models.select(teachers, layout.seed_index),
                                               shared_of).cpu().numpy()
    results = {}
    for name in layout.names:
        rows = layout.rows(name)
        results[name] = {"accuracy": accuracy[rows], "digit_head_shift": head_shift[rows],
                         "digit_head_norm_ratio": head_norm_ratio[rows],
                         "head_restored_accuracy": restored[rows], "predicted_counts": predicted[rows],
                         "balanced_accuracy": balanced[rows], "displacement_cos": displacement[rows]}
        for field in LOGGED_FIELDS:
            results[name][field] = logs[field][rows].numpy() if field in logs else None
    return results


#: The per-step logs of the probes that a student condition's result keeps.
LOGGED_FIELDS = ("loss", "trait_loss", "cosine", "cosine_after", "projected", "trait_update", "update_norm",
                 "trait_grad_norm", "drive", "drive_loss", "curve_acc")


def _trait_gradient(config, seeds, layout: Layout, teachers, x_train, y_train) -> TraitGradient:
    """The per-member trait gradient: true labels, a fixed per-seed shuffle of them, the teacher's digits,
    the label part or the confidence part of the cross-entropy, a random direction, or a fixed permutation
    of the labelled gradient (see :class:`~subliminal.training.TraitGradient`); and the matched placebos."""
    device = layout.device
    per_member = layout.per_member(lambda s: s.trait or config.trait_grad)
    placebo = layout.per_member(lambda s: s.placebo)
    seed_of = [seeds[i] for i in layout.seed_index.tolist()]

    def shuffled(seed: int) -> torch.Tensor:  # the same shuffle for every shuffled condition of a seed
        perm = torch.randperm(len(y_train), generator=generator(config.seed, "shuffled-labels", seed))
        return y_train[perm.to(device)]

    labels = y_train.expand(len(per_member), -1).clone()
    placebo_labels = labels.clone() if any(p is not None for p in placebo) else None
    for m, (kind, extra) in enumerate(zip(per_member, placebo)):
        if kind == "shuffled":
            labels[m] = shuffled(seed_of[m])
        if extra == "shuffled":
            placebo_labels[m] = shuffled(seed_of[m])
    teacher_digits = None
    if "label_free" in per_member:
        teacher_digits = models.outputs(teachers, x_train)[..., :N_DIGITS][layout.seed_index]
    # each member its seed's own stream of random directions and its own fixed permutation (the same for
    # every random or permuted condition of a seed, placebo or g_t)
    streams = [generator(config.seed, "random-trait", seed) for seed in seed_of]
    permutations = None
    if "permuted" in per_member or "permuted" in placebo:
        shapes = models.parameter_shapes(config.hidden, config.n_outputs)
        permutations = [_permutations(config, seed, shapes, device)
                        if "permuted" in (kind, extra) else None
                        for seed, kind, extra in zip(seed_of, per_member, placebo)]
    return TraitGradient(x=x_train, labels=labels, kinds=per_member, teacher_digits=teacher_digits,
                         generators=streams, permutations=permutations, placebo=placebo,
                         placebo_labels=placebo_labels)


def _permutations(config: Config, seed: int, shapes, device) -> list[torch.Tensor]:
    """One fixed random permutation of the entries of every parameter tensor, for the seed's placebo."""
    gen = generator(config.seed, "trait-permutation", seed)
    return [torch.randperm(int(np.prod(shape)), generator=gen).to(device) for shape in shapes]


__all__ = ["StudentCondition", "STUDENT_CONDITIONS", "ALL_CONDITIONS", "PLACEBOS", "resolve_device", "seed_list",
           "condition_specs", "run_experiment", "run_key", "cached_result", "train_teachers", "data_index", "shared_inits", "cross_inits",
           "student_starts", "hidden_permutations", "training_data"]
