"""Helpers for the chapter regression tests: execute chapters, read glued numbers.

The invariants below are scientific facts that must hold even in fast mode.
They are kept apart from the tests so a test can also show that a wrong
number is caught (see ``test_chapters.py``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"


def built_glue(executed: Path) -> dict[str, object]:
    """Glued values of a chapter executed by the book build (name -> Python value or text).

    myst-nb moves every ``glue`` output of an executed notebook out of the notebook into a
    ``<chapter>.glue.json`` file beside it in ``<build>/jupyter_execute/``; ``executed`` is the
    path of that notebook (``.ipynb``) or of that file.
    """
    path = Path(executed)
    if not path.name.endswith(".glue.json"):
        path = path.with_suffix(".glue.json")
    if not path.exists():
        raise FileNotFoundError(f"the build left no glued values at {path}")
    values = {}
    for name, output in json.loads(path.read_text()).items():
        data = output.get("data", {})
        prefix = output.get("metadata", {}).get("scrapbook", {}).get("mime_prefix", "")
        values[name] = _parse(data.get("text/plain", data.get(prefix + "text/plain", "")))
    return values


def _parse(text: str):
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        try:
            return float(text.replace("np.float64(", "").replace("np.float32(", "").rstrip(")"))
        except ValueError:
            return text


def _num(values: dict, key: str) -> float:
    assert key in values, f"glue key {key!r} missing (glued: {sorted(values)})"
    value = values[key]
    assert isinstance(value, (int, float)) and math.isfinite(value), f"{key} = {value!r} is not a finite number"
    return float(value)


CHANCE = 10.0  # percent: ten digit classes


def check_invariants(chapter: str, values: dict, full: bool = False) -> None:
    """Scientific invariants of each chapter's glued numbers.

    The first block of each chapter holds in fast mode too (``Config.fast``, 3 seeds): facts that follow
    from the construction (a frozen digit head, a last-layer displacement cosine of exactly 0) or that are
    large enough to show with few seeds. ``full=True`` adds what only the paper-scale book (10 seeds, full
    data) can show by its intervals; ``scripts/check_full_book.py`` runs it on the built book.
    """
    v = lambda key: _num(values, key)  # noqa: E731
    if chapter.startswith("01"):
        assert v("ch1_teacher_acc") > 80, "the teacher must learn digits"
        assert v("ch1_reference_acc") < 20, "the untrained reference is at chance"
        assert v("ch1_cross_aux_acc") < 20, "a cross-model aux student stays at chance"
        assert v("ch1_student_aux_acc") > v("ch1_cross_aux_acc") + 5, "shared init must beat cross-model"
        assert v("ch1_student_all_acc") > v("ch1_student_aux_acc"), "all-logit distillation transfers more"
        assert v("ch1_head_shift_max") == 0.0, "the digit head of an aux-only student never moves"
        if full:
            assert v("ch1_student_aux_acc") - v("ch1_student_aux_ci") > CHANCE, \
                "the aux-only student must be above chance by its 95 % interval"
            assert v("ch1_cross_aux_acc") - v("ch1_cross_aux_ci") < CHANCE + 2, \
                "the cross-model aux student must be at chance (its interval reaches 10-12 %)"
    elif chapter.startswith("02"):
        assert v("ch2_inner_min") > 0, "the single-step inner product is positive at a shared init"
        assert v("ch2_gn_cos_min") > 0.99, "the student step matches the Gauss-Newton prediction"
        assert 0.9 < v("ch2_linear_ratio") < 1.1, "small steps follow the first-order prediction"
        assert v("ch2_shared_n_positive") == v("ch2_n_seeds"), "every shared-init inner product is positive"
        assert v("ch2_shared_inner_mean") > 0
        # the toy net in float64 with eps = 1e-3: second-order terms are O(eps) relative
        assert v("ch2_toy_rel_err") < 0.05, "the toy student's step must match eps * G * dtheta_T"
        assert v("ch2_toy_eig_min") > -1e-8, "G is positive semi-definite"
        assert v("ch2_toy_leading") > 0 and v("ch2_toy_inner") > 0
        assert 0 <= v("ch2_breakdown_n") <= v("ch2_breakdown_n_eps")
        if full:
            assert v("ch2_shared_sign_p") < 0.05, "10 positive signs out of 10 must be significant"
    elif chapter.startswith("03"):
        assert v("ch3_frac_positive") > 50, "alignment is positive in most steps"
        assert v("ch3_mean_cosine") > 0
        assert v("ch3_cross_frac_positive") < v("ch3_frac_positive"), "cross-model alignment is weaker"
        assert v("ch3_disp_W3") == 0.0, \
            "teacher (digit rows) and aux-only student (aux rows) move disjoint parts of the last layer"
        for key in ("ch3_fo_pred_e1", "ch3_fo_meas_e1", "ch3_within_r", "ch3_disp_all", "ch3_vs_cross_diff"):
            v(key)
        if full:
            assert v("ch3_vs_cross_diff") - v("ch3_vs_cross_ci") > 0, \
                "the shared-init alignment must exceed the cross-model one by its interval"
            assert v("ch3_fo_pred_e1") < 0 and v("ch3_fo_meas_e1") < 0, "the trait loss falls in epoch 1"
    elif chapter.startswith("07"):
        verdicts = ("keeps the transfer", "keeps part of it", "loses it", "undecided")
        for arm in ("hidden_only", "head_only", "fresh_digit_block", "fresh_aux_block", "permuted",
                    "permuted_hidden"):
            assert values.get(f"ch7_{arm}_verdict") in verdicts, f"ch7_{arm}_verdict is not a verdict"
        # students that differ only in the digit block (which the aux-only loss never reaches) train
        # identically: in one ensemble, the same numbers; across ensembles (the main run's shared student)
        # BLAS may round differently, within a quarter of the seeds' spread (as tests/test_training.py)
        assert v("ch7_aux_pair_gap") <= 1e-6, "hidden-only and all-but-aux-block students must train alike"
        assert v("ch7_digit_disp_gap") <= 0.25 * v("ch7_shared_disp_sd"), \
            "an all-but-digit-block student's hidden layers must travel as the shared student's"
        if full:
            assert v("ch7_perm_max_diff") <= 0.25 * v("ch7_shared_sd"), \
                "a relabelled student must end where the shared student ends (Adam is permutation-equivariant)"
            assert values["ch7_permuted_verdict"] == "keeps the transfer", "the same function must transfer"
    elif chapter.startswith("04"):
        assert v("ch4_current_acc") < 20, "the paper's projection holds the student near chance"
        assert v("ch4_plain_head_shift") == 0.0, "the plain aux-only student's digit head never moves"
        assert v("ch4_current_head_shift") > 0, "Adam turns the projected gradient into digit-head steps"
        for key in ("adam", "sgd"):
            assert v(f"ch4_{key}_hidden_head_shift") == 0.0, "hidden-layer projection leaves the head alone"
            assert v(f"ch4_{key}_two_sided_frac") == 100.0, "the two-sided rule fires at every step"
            plain = abs(v(f"ch4_{key}_plain_same_drive"))
            if key == "adam":  # the update itself is projected: no first-order change on its own batch
                assert abs(v("ch4_adam_two_sided_same_drive")) <= 1e-2 * plain, "update projection is exact"
                assert v("ch4_adam_one_sided_same_drive") >= -1e-2 * plain, "one-sided never lowers it"
            for glued in (f"ch4_{key}_verdict", f"ch4_{key}_failed"):
                assert glued in values, f"glue key {glued!r} missing"
            assert values[f"ch4_{key}_verdict"] in ("removal", "breakage", "neither", "uninformative")
            assert (values.get(f"ch4_{key}_verdict") == "removal") == (values.get(f"ch4_{key}_failed") == "none"), \
                "the verdict and its failed criteria disagree"
        for key in ("ch4_current_drive", "ch4_plain_drive", "ch4_adam_drive_ratio", "ch4_sgd_drive_ratio",
                    "ch4_current_top", "ch4_reference_top", "ch4_null_W1"):
            v(key)
        if full:
            assert v("ch4_plain_acc") > v("ch4_reference_acc") + 20, "the plain student learns digits"
    elif chapter.startswith("05"):
        assert v("ch5_liminal_acc") > v("ch5_reference_acc") + 5, "liminal training does not prevent transfer"
        assert v("ch5_liminal_acc") <= v("ch5_student_aux_acc") + 5, "liminal does not increase transfer"
        v("ch5_dent_epoch1")
        v("ch5_dent_last")
        if full:
            assert v("ch5_dent_epoch1") + v("ch5_dent_epoch1_ci") < 0, \
                "the liminal student must be below the plain one after epoch 1 (paired interval)"
    elif chapter.startswith("06"):
        assert v("ch6_best_lr") > 0
        v("ch6_lr_effect")  # glued and finite
        for key in ("ch6_wd_l2_restored", "ch6_wd_adamw_acc", "ch6_sd_init_only", "ch6_sd_data_too"):
            v(key)
        assert v("ch6_wd_head_shift") > 0, "Adam's L2 decay moves the digit head"
        # matched total shrinkage: AdamW multiplies the gradient-free digit head by (1 - lr λ) at
        # each of T <= a few thousand steps, so float32 rounding moves the product by at most
        # ~T * 2**-24 < 1e-3 relative; the coefficient is solved from the L2 student's mean ratio
        l2_ratio, adamw_ratio = v("ch6_wd_l2_head_ratio"), v("ch6_wd_adamw_head_ratio")
        assert 0 < l2_ratio < 1, "Adam's L2 decay shrinks the digit head"
        assert abs(adamw_ratio - l2_ratio) <= 1e-3 * l2_ratio, "AdamW is matched in total shrinkage"
        assert 1 <= v("ch6_n_differ") + 1 <= v("ch6_n_family") + 1
        if full:
            assert v("ch6_n_seeds") >= 5, "at least five seeds per sweep point"
            assert v("ch6_cross_max") < 20, "no knob gives the cross-model student transfer"


def parameters_cells(notebook: nbformat.NotebookNode) -> list:
    return [c for c in notebook.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]


def checked_cells(notebook: nbformat.NotebookNode) -> list:
    return [c for c in notebook.cells if c.cell_type == "code" and "nbval-check-output" in c.metadata.get("tags", [])]


def write_json(path: Path, payload) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str))
