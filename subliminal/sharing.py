"""Chapter 7's experiment: what must teacher and student share for the trait to pass?

The shared initialisation is taken apart, one part at a time. Every arm is a
:class:`~subliminal.conditions.StudentCondition`: a cross-init student that takes some tensors
from its teacher's init (``shared=``), or the teacher's init with its hidden units relabelled
(``permute=``). The distance of one tensor is a second axis: the shared student with noise on
that tensor only, its std a multiple ``r`` of the tensor's init std (``Config``'s
``student_init_noise_tensors``). Every arm runs on the seeds of the book's main run, so it is
paired with that run's shared and cross-model students (same teacher, same data).

The decision rule (:func:`sharing_verdict`) is fixed here, before the runs.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from . import decisions
from .config import INPUT_DIM, Config
from .decisions import Paired
from .experiments import StudentCondition, run_experiment
from .removal import Arm
from .results import ConditionResult, ExperimentResult, mean_ci

HIDDEN = ("W1", "b1", "W2", "b2")
HEAD = ("W3", "b3")
DIGIT_BLOCK, AUX_BLOCK = ("W3_digit", "b3_digit"), ("W3_aux", "b3_aux")

#: The arms that take the start apart (biases start at 0 in every init, so a bias named here or not is
#: the same number; they are named with their weights for clarity).
ARMS = [
    Arm("hidden_only", StudentCondition(init="cross", shared=HIDDEN), "hidden layers only", "#332288"),
    Arm("head_only", StudentCondition(init="cross", shared=HEAD), "head only", "#999933"),
    Arm("fresh_digit_block", StudentCondition(init="cross", shared=HIDDEN + AUX_BLOCK),
        "all but the digit block", "#CC79A7"),
    Arm("fresh_aux_block", StudentCondition(init="cross", shared=HIDDEN + DIGIT_BLOCK),
        "all but the aux block", "#E69F00"),
    Arm("permuted", StudentCondition(permute="all"), "relabelled", "#009E73"),
    Arm("permuted_hidden", StudentCondition(permute="hidden"), "relabelled hidden layers", "#56B4E9"),
]
#: The two ends every arm is compared with: the shared-init student and the cross-model student.
ENDS = ("student_aux", "cross_aux")
#: The arms measure alignment at every ALIGNMENT_EVERY-th step (an exact subsample: the probes never
#: change the training); the ends are read on the same steps of the main run.
ALIGNMENT_EVERY = 10
#: The tensors whose distance the dose-response varies, one at a time.
DOSE_TENSORS = ("W1", "W2", "W3")


def arm(name: str) -> Arm:
    """The arm called ``name``."""
    for a in ARMS:
        if a.name == name:
            return a
    raise ValueError(f"unknown arm {name!r}; choose from {[a.name for a in ARMS]}")


def init_std(tensor: str, config: Config) -> float:
    """The std of a weight tensor's initial entries, 1/sqrt(fan_in) (see ``models.init_params``)."""
    fan_in = {"W1": INPUT_DIM, "W2": config.hidden, "W3": config.hidden}
    if tensor not in fan_in:
        raise ValueError(f"a dose acts on a weight tensor, one of {tuple(fan_in)}; got {tensor!r}")
    return 1.0 / math.sqrt(fan_in[tensor])


def dose_config(config: Config, tensor: str, relative: float) -> Config:
    """``config`` with noise of std ``relative`` x (the tensor's init std) on ``tensor`` of the student's start."""
    if isinstance(relative, bool) or not isinstance(relative, (int, float)) or not relative >= 0:
        raise ValueError(f"a relative dose is a number >= 0 (noise std / init std), e.g. 0.5; got {relative!r}")
    return config.replace(student_init_noise_tensors={tensor: relative * init_std(tensor, config)})


def start_correlation(relative: float) -> float:
    """The expected correlation of a tensor's noisy start with the teacher's, 1/sqrt(1 + r^2)."""
    return 1.0 / math.sqrt(1.0 + relative ** 2)


def run_arms(config: Config, seeds, device=None) -> ExperimentResult:
    """Every arm of :data:`ARMS` for ``seeds``, one ensemble, alignment at every ALIGNMENT_EVERY-th step."""
    return run_experiment(config.replace(alignment_every=ALIGNMENT_EVERY), seeds=seeds,
                          conditions=[(a.name, a.condition) for a in ARMS], device=device)


def run_doses(config: Config, seeds, doses: Sequence[float], device=None) -> dict[tuple[str, float], ConditionResult]:
    """{(tensor, r): the shared student with noise r x init std on ``tensor``}, for every tensor of
    :data:`DOSE_TENSORS` and every r in ``doses``. The doses are read by their accuracy, so they run
    without the alignment probes (which cost as much as the training's own gradient where they measure)."""
    out = {}
    for tensor in DOSE_TENSORS:
        for r in doses:
            run = run_experiment(dose_config(config, tensor, r).replace(track_alignment=False),
                                 seeds=seeds, conditions=["student_aux"], device=device)
            out[(tensor, float(r))] = run["student_aux"]
    return out


def dose_name(tensor: str, relative: float) -> str:
    """The name a dose takes in the family of comparisons: ``noise_W1_r0.5``."""
    return f"noise_{tensor}_r{float(relative):g}"


# --------------------------------------------------------------------------- the measurements


def measured_cosines(res: ConditionResult, every: int = ALIGNMENT_EVERY, name: str = "this result") -> np.ndarray:
    """(N, S) cosines -> (N, ceil(S / every)): cos(g_d, g_t) on the steps 0, every, 2 every, ... (none NaN)."""
    if res.cosine is None:
        raise ValueError(f"{name} has no alignment record (run with track_alignment=True)")
    cos = np.asarray(res.cosine, dtype=float)[:, ::every]
    if np.isnan(cos).any():
        raise ValueError(f"the alignment of {name} was not measured at steps 0, {every}, {2 * every}, ...")
    return cos


def alignment_on_steps(res: ConditionResult, every: int = ALIGNMENT_EVERY) -> tuple[np.ndarray, np.ndarray]:
    """Per seed, on steps 0, every, 2 every, ...: (fraction of steps with cos(g_d, g_t) > 0, mean cosine)."""
    cos = measured_cosines(res, every)
    return (cos > 0).mean(axis=1), cos.mean(axis=1)


def pct(values) -> np.ndarray:
    return 100.0 * np.asarray(values, dtype=float)


def declared(condition: StudentCondition) -> str:
    """The parts of a condition that differ from the plain shared student's, e.g. ``init='cross', shared=(...)``."""
    plain = StudentCondition()
    return ", ".join(f"{f}={getattr(condition, f)!r}" for f in condition.__dataclass_fields__
                     if getattr(condition, f) != getattr(plain, f))


def does(verdict: str) -> str:
    """A verdict as the verb of a sentence: "keeps the transfer", ..., "is undecided"."""
    return "is undecided" if verdict == "undecided" else verdict


def sharing_verdict(vs_cross: Paired, vs_shared: Paired) -> str:
    """The decision rule of an arm, from its Holm-adjusted paired accuracy differences (arm - cross,
    shared - arm): *keeps the transfer* when shown above the cross-model student and not shown
    below the shared one; *keeps part of it* when shown above the one and below the other; *loses
    it* when not shown above the cross-model student but shown below the shared one; else
    *undecided* (not shown to differ from either)."""
    above, below = vs_cross.verdict() == "higher", vs_shared.verdict() == "higher"
    if above:
        return "keeps part of it" if below else "keeps the transfer"
    return "loses it" if below else "undecided"


def compare(accuracies: Mapping[str, np.ndarray], shared: np.ndarray, cross: np.ndarray) -> dict[str, dict]:
    """{arm: {"vs_cross", "vs_shared": Holm-adjusted :class:`~subliminal.decisions.Paired`, "verdict"}}:
    every arm's accuracy (per seed, fractions) against both ends, adjusted as one family."""
    family = []
    for name, acc in accuracies.items():
        family += [decisions.paired(f"{name} - cross", pct(acc), pct(cross)),
                   decisions.paired(f"shared - {name}", pct(shared), pct(acc))]
    adjusted = {c.name: c for c in decisions.holm(family)}
    out = {}
    for name in accuracies:
        vs_cross, vs_shared = adjusted[f"{name} - cross"], adjusted[f"shared - {name}"]
        out[name] = {"vs_cross": vs_cross, "vs_shared": vs_shared, "verdict": sharing_verdict(vs_cross, vs_shared)}
    return out


def transfer_kept(acc: np.ndarray, shared: np.ndarray, cross: np.ndarray) -> float:
    """The fraction of the shared student's gain over the cross-model student that ``acc`` keeps (seed means)."""
    gain = float(np.mean(shared) - np.mean(cross))
    return float(np.mean(acc) - np.mean(cross)) / gain if gain > 0 else float("nan")


VERDICTS = ("keeps the transfer", "keeps part of it", "loses it", "undecided")
#: The arms that withhold a part of the start or change the function it computes (all but "permuted").
WITHHOLDING = tuple(a.name for a in ARMS if a.name != "permuted")


def _words(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def answer(verdicts: Mapping[str, dict], names: Sequence[str], labels: Mapping[str, str]) -> str:
    """One computed sentence: how many of the arms ``names`` got each verdict, and which."""
    groups = {v: [labels.get(n, n) for n in names if verdicts[n]["verdict"] == v] for v in VERDICTS}
    said = [f"{len(groups[v])} {v.replace('keeps', 'kept').replace('loses', 'lost')} ({_words(groups[v])})"
            for v in VERDICTS if groups[v]]
    kept = "none kept the transfer, " if not groups["keeps the transfer"] else ""
    return f"Of {len(names)} ways of sharing less than the whole start, {kept}{_words(said)}."


def parts_sentence(verdicts: Mapping[str, dict], names: Sequence[str], labels: Mapping[str, str]) -> str:
    """Does it take every part? Computed from the verdicts of the arms in :data:`WITHHOLDING`."""
    withheld = [n for n in names if n in WITHHOLDING]
    kept = [labels.get(n, n) for n in withheld if verdicts[n]["verdict"] == "keeps the transfer"]
    lost = [n for n in withheld if verdicts[n]["verdict"] in ("loses it", "keeps part of it")]
    if kept:
        return f"Not every part is needed: {_words(kept)} kept the transfer."
    if len(lost) == len(withheld):
        return ("Every arm that withheld a part of the start, or changed the function it computes, lost some "
                "or all of the transfer: on this evidence it takes all of them.")
    return ("No arm that withheld a part kept the transfer, but not every such arm was shown to lose it: the "
            "table says which are undecided.")


def heads_sentence(verdicts: Mapping[str, dict]) -> str:
    """What the head-only and hidden-only arms say about "compatible heads", computed from their verdicts."""
    head, hidden = verdicts["head_only"]["verdict"], verdicts["hidden_only"]["verdict"]
    if head == "keeps the transfer":
        return ("The teacher's initial head on fresh features keeps the transfer: on this evidence a compatible head "
                "is enough, as the compatible-head hypothesis says.")
    if head in ("loses it", "keeps part of it") and hidden in ("loses it", "keeps part of it"):
        return ("Neither half is enough on its own: the teacher's head on other features, and the teacher's features "
                "under another head, both fall short of the shared student. A head is \"compatible\" only relative to "
                "the features it reads.")
    return ("The two halves do not settle it here (the verdicts above say which comparison was undecided); more "
            "seeds would.")


def theorem_sentence(verdicts: Mapping[str, dict]) -> str:
    """What the measurements say the theorem needs, computed from the verdicts."""
    perm = verdicts["permuted"]["verdict"]
    others_kept = [n for n in WITHHOLDING if verdicts[n]["verdict"] == "keeps the transfer"]
    if perm == "keeps the transfer" and not others_kept:
        return ("The measurements say it needs both less and more than that wording suggests. Less: the "
                "relabelled student starts with the teacher's numbers at other positions and keeps the "
                "transfer, so the same numbers are not needed. More: no strict part of the start was "
                "enough, so the student needs the teacher's starting function, with coordinates tied to the "
                "teacher's by a relabelling the optimiser treats alike (Adam is permutation-equivariant).")
    if perm == "keeps the transfer":
        return ("The relabelled student keeps the transfer, so the same numbers are not needed; but some strict "
                f"parts of the start also kept it ({_words(others_kept)}), so the theorem's assumption is "
                "stronger than what transfer needs here.")
    if perm == "undecided":
        return ("The relabelled student is undecided (not shown to differ from either end), so these runs cannot "
                "say whether the same function in other coordinates transfers; more seeds would.")
    return (f"The relabelled student {perm}, against the prediction that the same function transfers as well; "
            "the argument of this chapter does not hold as stated, and the table says where it fails.")


def dose_table(doses: Mapping[tuple[str, float], ConditionResult], verdicts: Mapping[str, dict],
               shared: np.ndarray, cross: np.ndarray):
    """(A DataFrame, one row per dose: r, the start correlation, accuracy, transfer kept, paired differences
    and verdict; the Holm-adjusted paired comparisons between layers at each dose, a list of Paired)."""
    import pandas as pd

    table, family = [], []
    for (tensor, r), res in doses.items():
        v = verdicts[dose_name(tensor, r)]
        mean, half = mean_ci(pct(res.accuracy))
        table.append({"tensor": tensor, "r": r, "start correlation": f"{start_correlation(r):.2f}",
                      "acc. %": f"{mean:.1f} ± {half:.1f}",
                      "transfer kept %": f"{100 * transfer_kept(res.accuracy, shared, cross):.0f}",
                      "- cross": f"{v['vs_cross'].mean:+.1f} ± {v['vs_cross'].half:.1f}",
                      "shared -": f"{v['vs_shared'].mean:+.1f} ± {v['vs_shared'].half:.1f}", "verdict": v["verdict"]})
    for r in sorted({r for _, r in doses}):
        present = [t for t in DOSE_TENSORS if (t, r) in doses]
        for i, a in enumerate(present):
            for b in present[i + 1:]:
                family.append(decisions.paired(f"{a} - {b} at r={r:g}", pct(doses[(a, r)].accuracy),
                                               pct(doses[(b, r)].accuracy)))
    return pd.DataFrame(table).set_index(["tensor", "r"]), decisions.holm(family)


def same_scale_sentence(layer_family: Sequence[Paired]) -> str:
    """Is one layer shown more sensitive than another at the same relative dose? Computed."""
    differ = [c for c in layer_family if c.verdict() != "not shown to differ"]
    if not layer_family:
        return "With one tensor per dose, the layers cannot be compared."
    if not differ:
        widest = max(c.half for c in layer_family)
        return (f"No layer was shown more or less sensitive than another at the same relative dose "
                f"({len(layer_family)} paired comparisons, Holm-adjusted; intervals up to ± {widest:.1f} points).")
    return "At the same relative dose, the layers differ: " + "; ".join(
        f"{c.name}: {c.describe()}" for c in differ) + "."


def alignment_comparisons(rows: Mapping[str, ConditionResult], names: Sequence[str], labels: Mapping[str, str],
                          cross: str = "cross_aux"):
    """(A DataFrame, one row per arm: its mean cosine on the measured steps and its paired difference with the
    cross-model student's, the measured null, likewise the share of steps with cos > 0; the mean-cosine
    comparisons, Holm-adjusted over the arms, a list of Paired named by arm)."""
    import pandas as pd

    null_frac, null_cos = alignment_on_steps(rows[cross])
    cos_family, frac_family = [], []
    for name in names:
        frac, cos = alignment_on_steps(rows[name])
        cos_family.append(decisions.paired(name, cos, null_cos))
        frac_family.append(decisions.paired(name, pct(frac), pct(null_frac)))
    cos_family, frac_family = decisions.holm(cos_family), decisions.holm(frac_family)
    table = []
    for name, c, f in zip(names, cos_family, frac_family):
        table.append({"arm": labels.get(name, name), "mean cos - cross": c.describe(unit="", digits=4),
                      "steps cos>0 % - cross": f.describe(unit="")})
    return pd.DataFrame(table).set_index("arm"), cos_family


def aligned_sentence(cos_family: Sequence[Paired], labels: Mapping[str, str]) -> str:
    """Which arms are shown more (or less) aligned than the cross-model student, computed."""
    higher = [labels.get(c.name, c.name) for c in cos_family if c.verdict() == "higher"]
    lower = [labels.get(c.name, c.name) for c in cos_family if c.verdict() == "lower"]
    said = f"Shown more aligned than the cross-model student: {_words(higher) if higher else 'none'}"
    if lower:
        said += f"; shown less aligned: {_words(lower)}"
    rest = len(cos_family) - len(higher) - len(lower)
    return said + (f"; the other {rest} are not shown to differ from it." if rest else ".")


def arms_table(rows: Mapping[str, ConditionResult], labels: Mapping[str, str]):
    """A DataFrame, one row per arm (the ends first), mean ± 95 % t-interval over seeds: accuracy, the top
    class's share and the accuracy with the initial digit head restored; the alignment on the measured steps
    (share of steps with cos > 0, mean cosine) and the displacement cosines with the teacher's per layer."""
    import pandas as pd

    def cell(values, digits=1):
        mean, half = mean_ci(values)
        return f"{mean:.{digits}f} ± {half:.{digits}f}"

    table = []
    for name, res in rows.items():
        frac, mean_cos = alignment_on_steps(res)
        disp = np.asarray(res.displacement_cos, dtype=float)
        table.append({
            "arm": labels.get(name, name),
            "acc. %": cell(pct(res.accuracy)),
            "top class %": cell(pct(res.class_shares.max(axis=1))),
            "head restored %": cell(pct(res.head_restored_accuracy)),
            "steps cos>0 %": cell(pct(frac)),
            "mean cos": cell(mean_cos, 4),
            **{f"disp. {part}": cell(disp[:, i], 2) for i, part in ((0, "W1"), (2, "W2"), (6, "all"))},
        })
    return pd.DataFrame(table).set_index("arm")


#: The columns of :func:`arms_table` about what the student does, and about how it learned.
BEHAVIOUR_COLUMNS = ("acc. %", "top class %", "head restored %")
MECHANISM_COLUMNS = ("steps cos>0 %", "mean cos", "disp. W1", "disp. W2", "disp. all")


__all__ = ["HIDDEN", "HEAD", "DIGIT_BLOCK", "AUX_BLOCK", "ARMS", "ENDS", "ALIGNMENT_EVERY", "DOSE_TENSORS",
           "VERDICTS", "WITHHOLDING", "arm", "declared", "does", "init_std", "dose_config", "dose_name", "start_correlation", "run_arms",
           "run_doses", "measured_cosines", "alignment_on_steps", "sharing_verdict", "compare", "transfer_kept", "answer",
           "parts_sentence", "heads_sentence", "theorem_sentence", "dose_table", "same_scale_sentence", "alignment_comparisons",
           "aligned_sentence", "arms_table", "BEHAVIOUR_COLUMNS", "MECHANISM_COLUMNS"]
