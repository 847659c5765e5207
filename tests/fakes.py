"""Made-up results shaped like the real ones, for tests of the code that reads them (no training)."""

from __future__ import annotations

import numpy as np

from subliminal import analysis
from subliminal.config import Config
from subliminal.results import ConditionResult, ExperimentResult
from subliminal.theory import SingleStep


def fake_result(n_seeds: int = 4, seed: int = 0) -> ExperimentResult:
    """A result shaped like `run_experiment(Config.fast(), ...)`: 3 epochs of 47 steps, curves every 10."""
    config = Config.fast()
    rng = np.random.default_rng(seed)
    n_steps = 3 * analysis.steps_per_epoch(config)
    curve_steps = np.array(sorted(set(range(0, n_steps, 10)) | {n_steps}))
    conditions = {
        "teacher": ConditionResult(accuracy=rng.uniform(0.89, 0.91, n_seeds)),
        "reference": ConditionResult(accuracy=rng.uniform(0.08, 0.12, n_seeds)),
    }
    levels = {"student_aux": (0.004, 0.3), "student_all": (0.06, 0.87), "cross_aux": (0.0, 0.1),
              "cross_all": (0.05, 0.6)}
    for name, (cos_level, acc) in levels.items():
        offsets = np.linspace(-0.5, 0.5, n_seeds) * cos_level
        cosine = cos_level + offsets[:, None] + rng.normal(0, 0.005, (n_seeds, n_steps))
        accuracy = acc + 10 * offsets  # more alignment, more transfer
        curve = 0.1 + (accuracy[:, None] - 0.1) * np.sqrt(curve_steps / n_steps)
        conditions[name] = ConditionResult(
            accuracy=accuracy, loss=rng.uniform(0, 1, (n_seeds, n_steps)), cosine=cosine,
            curve_acc=curve, digit_head_shift=np.zeros(n_seeds) if name.endswith("aux") else np.full(n_seeds, 0.02),
        )
    return ExperimentResult(config=config, seeds=list(range(n_seeds)), conditions=conditions,
                            curve_steps=curve_steps)


def fake_check(init: str = "shared", teacher_lr: float = 1e-2, inner: float = 2e-4) -> SingleStep:
    lrs = np.logspace(-1, 4, 11)
    predicted = -lrs * inner
    actual = predicted * np.where(lrs < 300, 1.0, 0.3)
    actual[-1] = 0.5  # the loss rises at the largest step
    return SingleStep(teacher_lr=teacher_lr, init=init, outputs="aux", inner=inner, cos=0.02,
                      gn_cos=0.9999 if init == "shared" else -0.4, gn_rel_error=0.4 * teacher_lr,
                      student_lrs=lrs, actual_change=actual, predicted_change=predicted)
