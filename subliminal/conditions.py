"""Every condition of the experiment, declared once (no torch here).

A student condition is a composition of parts (:class:`StudentCondition`): where it
starts, what it imitates, whether the projection transform or the liminal loss term
acts on it, and which trait gradient it is measured (and projected) against. A
:class:`Condition` adds how a reader sees it: its label, a description and a colour.
:data:`CONDITIONS` holds every built-in condition, one declaration each, in the order
of the paper's table (Cloud, Le et al., 2025), then the projection's controls.

Adding a built-in condition is one more :class:`Condition` in :data:`CONDITIONS`:
``run_experiment``, the budget, the tables (:func:`info`) and the figures
(``plots.color``, ``plots.label``) all read it from here. A one-off condition needs no
declaration at all: pass ``(name, StudentCondition(...))`` where a condition name goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .config import LAYERS, PROJECTION_SPACES, TRAIT_GRADIENTS, tensor_names

#: Directions a matched placebo can edit along (see :class:`StudentCondition`).
PLACEBOS = ("shuffled", "confidence", "label_only", "random", "permuted")
#: How a shared-init student's hidden units can be relabelled (see :class:`StudentCondition`).
PERMUTATIONS = ("all", "hidden")


@dataclass(frozen=True)
class StudentCondition:
    """A student condition as a composition of parts.

    ``init``: ``"shared"`` (the teacher's init) or ``"cross"`` (a fresh, different init);
    ``outputs``: imitate the ``"aux"`` logits or ``"all"`` logits; ``project``: apply the
    projection (threshold, dose, layers and space from the Config; ``layers``, ``space``
    and ``tau`` override them: ``tau=-1`` projects at every step, two-sided);
    ``liminal``: add the liminal loss term; ``trait``: the trait gradient g_t this condition is
    measured and projected against (None: ``config.trait_grad``); ``placebo``: a *matched*
    placebo (needs ``project``): the rule fires on the real g_t's steps, and removes as much
    along the placebo direction (``"shuffled"``, ``"confidence"``, ``"label_only"``,
    ``"random"`` or ``"permuted"``) instead.
    ``shared``: with ``init="cross"``, the tensors (names of ``config.TENSOR_NAMES``: ``"W1"`` ... ``"b3"``,
    and the last layer's blocks ``"W3_digit"``, ``"W3_aux"``, ``"b3_digit"``, ``"b3_aux"``) taken from
    the teacher's init, everything else from the student's own cross draw: a partially shared student.
    ``()`` (the default) is the whole cross init; all six tensors are the shared student.
    ``permute``: with ``init="shared"``, start at the teacher's init with the hidden units of both
    hidden layers relabelled by a permutation fixed per seed: ``"all"`` relabels the head's inputs
    too (the same function in other coordinates), ``"hidden"`` leaves the head as it was (the
    teacher's head reading shuffled features: another function).
    """

    init: str = "shared"
    outputs: str = "aux"
    project: bool = False
    liminal: bool = False
    trait: str | None = None
    layers: str | None = None
    space: str | None = None
    tau: float | None = None
    placebo: str | None = None
    shared: tuple[str, ...] = ()
    permute: str | None = None

    def __post_init__(self):
        checks = {"init": ("shared", "cross"), "outputs": ("aux", "all"), "trait": (None, *TRAIT_GRADIENTS),
                  "layers": (None, *LAYERS), "space": (None, *PROJECTION_SPACES),
                  "placebo": (None, *PLACEBOS), "permute": (None, *PERMUTATIONS)}
        for name, options in checks.items():
            if getattr(self, name) not in options:
                raise ValueError(f"StudentCondition {name} must be one of {options}; got {getattr(self, name)!r}")
        for name in ("project", "liminal"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"StudentCondition {name} must be True or False; got {getattr(self, name)!r}")
        if self.tau is not None:
            if isinstance(self.tau, bool) or not isinstance(self.tau, (int, float)) or not -1 <= self.tau <= 1:
                raise ValueError(f"StudentCondition tau must be a number in [-1, 1] or None; got {self.tau!r}")
            object.__setattr__(self, "tau", float(self.tau))
        object.__setattr__(self, "shared", tensor_names(self.shared, "StudentCondition shared"))
        if self.shared and self.init != "cross":
            raise ValueError(f"StudentCondition shared needs init='cross' (a shared-init student shares every "
                             f"tensor already); got init={self.init!r}, shared={self.shared!r}")
        if self.permute is not None and self.init != "shared":
            raise ValueError(f"StudentCondition permute needs init='shared' (it relabels the teacher's init); "
                             f"got init={self.init!r}, permute={self.permute!r}")
        if self.placebo is not None and not self.project:
            raise ValueError("StudentCondition placebo needs project=True (a placebo is a projection along "
                             "another direction)")


@dataclass(frozen=True)
class Condition:
    """A condition as tables and figures name it, and what it is: ``student`` is its
    :class:`StudentCondition` (None for the teacher and the reference, which distil nothing)."""

    name: str
    label: str
    description: str
    color: str
    student: StudentCondition | None = None


#: Every built-in condition, in the order of the paper's table, then the projection's controls
#: (colours: Okabe-Ito, then Paul Tol's colour-blind-safe ones).
CONDITIONS: dict[str, Condition] = {c.name: c for c in (
    Condition("teacher", "teacher", "trained on MNIST digits", "#000000"),
    Condition("reference", "reference (untrained init)", "untrained shared init", "#999999"),
    Condition("student_aux", "student, aux logits", "shared init, aux logits only", "#0072B2",
              StudentCondition()),
    Condition("student_all", "student, all logits", "shared init, all logits", "#56B4E9",
              StudentCondition(outputs="all")),
    Condition("cross_aux", "cross-model, aux logits", "different init, aux logits only", "#D55E00",
              StudentCondition(init="cross")),
    Condition("cross_all", "cross-model, all logits", "different init, all logits", "#E69F00",
              StudentCondition(init="cross", outputs="all")),
    Condition("projection", "student + projection", "aux student, aligned gradient removed", "#009E73",
              StudentCondition(project=True)),
    Condition("liminal", "student + liminal", "aux student + liminal KL to its init", "#CC79A7",
              StudentCondition(liminal=True)),
    Condition("projection_hidden", "projection, hidden layers",
              "projection on the hidden layers only (fires on their cosine)", "#117733",
              StudentCondition(project=True, layers="hidden")),
    Condition("projection_shuffled", "projection, shuffled labels",
              "placebo: g_t from shuffled labels (cosines against it)", "#88CCEE",
              StudentCondition(project=True, trait="shuffled")),
    Condition("projection_random", "projection, random direction",
              "placebo: random g_t, same layer norms (cosines against it)", "#AA4499",
              StudentCondition(project=True, trait="random")),
    Condition("projection_confidence", "projection, confidence placebo",
              "matched placebo: every step, removes as much of the update along the confidence gradient", "#882255",
              StudentCondition(project=True, space="update", tau=-1.0, placebo="confidence")),
)}

#: The two conditions that are not students (a custom condition cannot take their names).
RESERVED_NAMES: tuple[str, ...] = tuple(name for name, c in CONDITIONS.items() if c.student is None)
#: Every built-in student condition: {name: its StudentCondition}.
STUDENT_CONDITIONS: dict[str, StudentCondition] = {name: c.student for name, c in CONDITIONS.items()
                                                   if c.student is not None}
#: The conditions of the paper's table (what ``reproduce`` prints).
ALL_CONDITIONS: tuple[str, ...] = ("teacher", "reference", "student_aux", "student_all", "cross_aux", "cross_all",
                                   "projection", "liminal")
#: The paper's plain distillation students (neither projection nor the liminal term acts on them).
IMITATION_CONDITIONS: tuple[str, ...] = tuple(
    name for name in ALL_CONDITIONS if (s := CONDITIONS[name].student) is not None and not (s.project or s.liminal))
#: The pair a transfer comparison reads: the shared-init aux-only student and its cross-model control.
TRANSFER_CONDITIONS: tuple[str, ...] = ("student_aux", "cross_aux")
assert set(ALL_CONDITIONS + TRANSFER_CONDITIONS) <= set(CONDITIONS), "a listed condition is not declared"


def info(name: str) -> Condition:
    """The :class:`Condition` named ``name`` (a grey, self-named entry for an unknown one)."""
    return CONDITIONS.get(name, Condition(name, name, name, "#555555"))


def student_condition(condition: Any) -> StudentCondition | None:
    """What a condition is: a built-in name (``"projection_hidden"``) or a ``(name, StudentCondition)``
    pair -> its :class:`StudentCondition`; None for the teacher and the reference. An unknown name is a
    ValueError that lists the known ones."""
    if isinstance(condition, tuple) and len(condition) == 2 and isinstance(condition[1], StudentCondition):
        return condition[1]
    if isinstance(condition, str) and condition in CONDITIONS:
        return CONDITIONS[condition].student
    raise ValueError(f"unknown condition {condition!r}; choose from {list(CONDITIONS)} or pass "
                     "(name, StudentCondition(...))")


__all__ = ["PLACEBOS", "PERMUTATIONS", "StudentCondition", "Condition", "CONDITIONS", "RESERVED_NAMES", "STUDENT_CONDITIONS",
           "ALL_CONDITIONS", "IMITATION_CONDITIONS", "TRANSFER_CONDITIONS", "info", "student_condition"]
