"""Every condition is declared once, in subliminal/conditions.py, and every other module reads it there."""

import ast
import re
from pathlib import Path

import pytest

from subliminal import budget, conditions
from subliminal.conditions import CONDITIONS, Condition, StudentCondition, info, student_condition
from subliminal.config import Config

PACKAGE = Path(conditions.__file__).parent
HEX = re.compile(r"#[0-9A-Fa-f]{6}")


def declared_names(path: Path) -> list[str]:
    """The names of the ``Condition(...)`` records a module's source declares."""
    tree = ast.parse(path.read_text())
    return [node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Condition"
            and node.args and isinstance(node.args[0], ast.Constant)]


# --------------------------------------------------------------------------- one declaration each


def test_every_built_in_condition_is_declared_once_with_label_and_colour():
    names = declared_names(PACKAGE / "conditions.py")
    assert names == list(CONDITIONS), "each built-in condition is one Condition(...) in CONDITIONS"
    assert len(set(names)) == len(names)
    for name, c in CONDITIONS.items():
        assert isinstance(c, Condition) and c.name == name
        assert c.label.strip() and c.description.strip(), name
        assert HEX.fullmatch(c.color), (name, c.color)
        assert (c.student is None) == (name in ("teacher", "reference")), name
    colours = [c.color.upper() for c in CONDITIONS.values()]
    assert len(set(colours)) == len(colours), "every condition its own colour"
    assert "#555555" not in colours  # the grey of an unknown condition
    labels = [c.label for c in CONDITIONS.values()]
    assert len(set(labels)) == len(labels)


def test_the_paper_table_and_the_derived_lists_come_from_the_declaration():
    assert conditions.ALL_CONDITIONS == ("teacher", "reference", "student_aux", "student_all", "cross_aux",
                                         "cross_all", "projection", "liminal")
    assert tuple(CONDITIONS)[: len(conditions.ALL_CONDITIONS)] == conditions.ALL_CONDITIONS  # the table's order
    assert conditions.STUDENT_CONDITIONS == {n: c.student for n, c in CONDITIONS.items() if c.student is not None}
    assert conditions.RESERVED_NAMES == ("teacher", "reference")
    assert conditions.IMITATION_CONDITIONS == ("student_aux", "student_all", "cross_aux", "cross_all")
    assert budget.STUDENTS == conditions.ALL_CONDITIONS[2:]


def test_no_other_module_declares_or_guesses_a_condition():
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        if path.name != "conditions.py":
            assert not declared_names(path), path
            assert "class StudentCondition" not in text, path
        # what a condition is comes from its declaration, never from its name
        assert not re.search(r"""["'](projection|liminal|cross)["'] in (name|c|n|condition)\b""", text), path


def test_info_of_an_unknown_condition_is_a_grey_self_named_entry():
    unknown = info("my_arm")
    assert (unknown.name, unknown.label, unknown.description, unknown.color) == ("my_arm", "my_arm", "my_arm",
                                                                                   "#555555")
    assert unknown.student is None
    assert info("cross_aux") is CONDITIONS["cross_aux"]


# --------------------------------------------------------------------------- resolving a condition


def test_student_condition_resolves_names_and_pairs():
    assert student_condition("projection_hidden") == StudentCondition(project=True, layers="hidden")
    assert student_condition("teacher") is None and student_condition("reference") is None
    mine = StudentCondition(init="cross", liminal=True)
    assert student_condition(("anything", mine)) is mine


@pytest.mark.parametrize("bad", ["nope", "Projection", ("x", "not a spec"), 3, None])
def test_an_unknown_condition_is_a_clear_error_listing_the_known_ones(bad):
    with pytest.raises(ValueError, match=r"unknown condition .*; choose from \[") as err:
        student_condition(bad)
    for name in CONDITIONS:
        assert repr(name) in str(err.value)
    with pytest.raises(ValueError, match="unknown condition"):
        budget.estimate(Config.fast(), 1, ["teacher", bad])


def test_run_experiment_names_unknown_conditions_the_same_way():
    from subliminal.experiments import condition_specs

    with pytest.raises(ValueError, match=r"unknown condition 'nope'; choose from \['teacher', 'reference'"):
        condition_specs(["student_aux", "nope"])


# --------------------------------------------------------------------------- the budget reads the declaration


@pytest.mark.parametrize("config", [Config.fast(track_alignment=False), Config.fast(track_alignment=False,
                                                                                    trait_grad="label_free")])
def test_budget_reads_what_a_condition_is_not_its_name(config):
    def cost(*conds):
        e = budget.estimate(config, 2, list(conds))
        return e.memory_bytes, e.flops

    plain, projecting, liminal = cost("student_aux"), cost("projection"), cost("liminal")
    assert len({plain, projecting, liminal}) == 3  # the test can tell them apart
    assert cost(("my_arm", StudentCondition(project=True))) == projecting
    assert cost(("projection_like_name", StudentCondition())) == plain
    assert cost(("liminal_too", StudentCondition())) == plain
    assert cost(("early", StudentCondition(init="cross", liminal=True))) == liminal


def test_budget_reads_a_custom_trait_from_the_declaration():
    # label_free needs the teachers' digit targets on the training images
    free = budget.estimate(Config.fast(), 1, [("x", StudentCondition(project=True, trait="label_free"))])
    labelled = budget.estimate(Config.fast(), 1, [("x", StudentCondition(project=True))])
    assert "teacher_digit_targets" in free.parts and "teacher_digit_targets" not in labelled.parts


# --------------------------------------------------------------------------- the old names still work


def test_the_old_import_paths_are_the_declaration():
    from subliminal import experiments, models, plots, results, sweeps
    from subliminal.config import LAYERS, tensor_names
    from subliminal.experiments import ALL_CONDITIONS, PLACEBOS, STUDENT_CONDITIONS
    from subliminal.experiments import StudentCondition as Reexported
    from subliminal.widgets.learning_rate import LR_CONDITIONS

    assert Reexported is StudentCondition and experiments.StudentCondition is StudentCondition
    assert STUDENT_CONDITIONS is conditions.STUDENT_CONDITIONS
    assert ALL_CONDITIONS is conditions.ALL_CONDITIONS and PLACEBOS is conditions.PLACEBOS
    assert results.CONDITIONS is CONDITIONS and results.info is info and results.ConditionInfo is Condition
    assert sweeps.TRANSFER_CONDITIONS is conditions.TRANSFER_CONDITIONS == ("student_aux", "cross_aux")
    assert LR_CONDITIONS is conditions.TRANSFER_CONDITIONS
    assert plots.CONDITION_COLORS == {n: c.color for n, c in CONDITIONS.items()}
    assert plots.CONDITION_LABELS == {n: c.label for n, c in CONDITIONS.items()}
    assert models.LAYERS is LAYERS and models.tensor_names is tensor_names
    assert tuple(models.TENSORS) == tuple(tensor_names(models.TENSORS))


# --------------------------------------------------------------------------- the ensemble's layout


def test_layout_is_condition_major():
    from subliminal.experiments import Layout

    specs = {"a": StudentCondition(), "b": StudentCondition(liminal=True), "c": StudentCondition(project=True)}
    layout = Layout.of(specs, 3, "cpu")
    assert layout.names == ("a", "b", "c") and layout.n_seeds == 3
    assert layout.rows("b") == slice(3, 6) and layout.rows("c") == slice(6, 9)
    assert layout.members(lambda s: s.liminal).tolist() == [False] * 3 + [True] * 3 + [False] * 3
    assert layout.seed_index.tolist() == [0, 1, 2] * 3
    assert layout.per_member(lambda s: s.project) == [False] * 6 + [True] * 3


# --------------------------------------------------------------------------- adding a condition is one declaration

#: The built-in added by one Condition(...) line in conditions.py and no other edit.
CONFIDENCE = StudentCondition(project=True, space="update", tau=-1.0, placebo="confidence")


@pytest.fixture(scope="module")
def tiny():
    """hidden 16, 1,024 images, 4 student steps (as tests/test_partial_sharing.py)."""
    return Config.fast(hidden=16, n_train=1024, n_noise=1024, teacher_epochs=1, student_epochs=1,
                       teacher_batch_size=256, student_batch_size=256, trait_batch_size=256, curve_every=2,
                       curve_samples=200)


def test_a_new_built_in_condition_is_known_to_tables_figures_and_budget():
    from subliminal import plots, results

    declared = CONDITIONS["projection_confidence"]
    assert declared.student == CONFIDENCE and student_condition("projection_confidence") == CONFIDENCE
    assert results.info("projection_confidence") is declared
    assert results.info("projection_confidence").label == "projection, confidence placebo"
    assert plots.color("projection_confidence") == declared.color != info("not_declared").color
    assert plots.label("projection_confidence") == declared.label
    config = Config.fast(track_alignment=False)
    new = budget.estimate(config, 2, ["teacher", "projection_confidence"])
    pair = budget.estimate(config, 2, ["teacher", ("my_confidence", CONFIDENCE)])
    plain = budget.estimate(config, 2, ["teacher", "student_aux"])
    assert (new.memory_bytes, new.flops) == (pair.memory_bytes, pair.flops) != (plain.memory_bytes, plain.flops)


def test_run_experiment_runs_a_new_built_in_condition_by_name(tiny):
    import numpy as np

    from subliminal.experiments import declaration, run_experiment

    by_name = run_experiment(tiny, seeds=2, conditions=["projection_confidence"], cache=False, progress=False)
    by_pair = run_experiment(tiny, seeds=2, conditions=[("my_confidence", CONFIDENCE)], cache=False, progress=False)
    assert by_name.declarations["projection_confidence"] == declaration(CONFIDENCE)
    new, same = by_name["projection_confidence"], by_pair["my_confidence"]
    assert new.accuracy.shape == (2,) and new.projected is not None and new.projected.any()
    for field in ("accuracy", "loss", "cosine", "projected", "curve_acc"):
        np.testing.assert_array_equal(getattr(new, field), getattr(same, field), err_msg=field)
