"""Chapter 7's experiment (subliminal.sharing): the decision rule, the doses, the alignment on measured
steps, and the facts the chapter derives before its runs, checked on tiny runs."""

import math

import numpy as np
import pytest

from subliminal import Config, sharing
from subliminal.decisions import Paired
from subliminal.experiments import StudentCondition, run_experiment
from subliminal.results import ConditionResult


@pytest.fixture(scope="module")
def tiny():
    return Config.fast(hidden=16, n_train=1024, n_noise=1024, teacher_epochs=1, student_epochs=2,
                       teacher_batch_size=256, student_batch_size=128, trait_batch_size=256, curve_every=2,
                       curve_samples=200)


def paired(name, mean, p):
    return Paired(name, mean, 1.0, 5, p, p)


@pytest.mark.parametrize("above, below, verdict", [
    (True, False, "keeps the transfer"), (True, True, "keeps part of it"), (False, True, "loses it"),
    (False, False, "undecided")])
def test_the_decision_rule(above, below, verdict):
    vs_cross = paired("a - cross", 20.0 if above else 1.0, 0.001 if above else 0.5)
    vs_shared = paired("shared - a", 20.0 if below else 1.0, 0.001 if below else 0.5)
    assert sharing.sharing_verdict(vs_cross, vs_shared) == verdict


def test_compare_reads_paired_differences_and_adjusts_them_as_one_family():
    rng = np.random.default_rng(0)
    seed_effect = rng.normal(0, 0.05, 5)  # what a seed shares across conditions
    shared, cross = 0.5 + seed_effect, 0.1 + 0.2 * seed_effect
    accuracies = {"like_shared": shared + rng.normal(0, 0.005, 5), "like_cross": cross + rng.normal(0, 0.005, 5),
                  "between": 0.3 + 0.5 * seed_effect + rng.normal(0, 0.005, 5)}
    out = sharing.compare(accuracies, shared, cross)
    assert out["like_shared"]["verdict"] == "keeps the transfer"
    assert out["like_cross"]["verdict"] == "loses it"
    assert out["between"]["verdict"] == "keeps part of it"
    # one family of 2 x 3 comparisons: every adjusted p is at least its raw p, and no more than 6 times it
    for v in out.values():
        for c in (v["vs_cross"], v["vs_shared"]):
            assert c.p <= c.p_adjusted <= min(1.0, 6 * c.p) + 1e-12
    np.testing.assert_allclose(out["between"]["vs_cross"].mean, 100 * np.mean(accuracies["between"] - cross))


def test_transfer_kept_is_the_share_of_the_gain():
    assert sharing.transfer_kept(np.array([0.3]), np.array([0.5]), np.array([0.1])) == pytest.approx(0.5)
    assert math.isnan(sharing.transfer_kept(np.array([0.3]), np.array([0.1]), np.array([0.1])))


def test_doses_are_relative_to_each_tensors_init_std():
    config = Config()
    assert sharing.init_std("W1", config) == pytest.approx(1 / 28)
    assert sharing.init_std("W3", config) == pytest.approx(1 / 16)
    dosed = sharing.dose_config(config, "W2", 0.5)
    assert dosed.student_init_noise_tensors == (("W2", pytest.approx(0.5 / 16)),)
    assert sharing.start_correlation(0.0) == 1.0 and sharing.start_correlation(1.0) == pytest.approx(2 ** -0.5)
    with pytest.raises(ValueError, match="weight tensor"):
        sharing.init_std("b1", config)
    with pytest.raises(ValueError, match="relative dose"):
        sharing.dose_config(config, "W1", -0.1)
    assert sharing.dose_name("W1", 0.5) == "noise_W1_r0.5"


def test_a_noisy_tensor_correlates_with_the_teachers_as_predicted(tiny):
    """The expected correlation 1/sqrt(1 + r^2) of a start with noise r x init std on one tensor."""
    from subliminal.experiments import shared_inits, student_starts

    config = Config(hidden=64)
    start = student_starts(sharing.dose_config(config, "W1", 1.0), [0], [StudentCondition()], "cpu")
    teacher = shared_inits(config, [0], "cpu")
    corr = np.corrcoef(start[0].flatten().numpy(), teacher[0].flatten().numpy())[0, 1]
    assert abs(corr - sharing.start_correlation(1.0)) < 0.01  # 50k entries: sampling error ~ 0.003


def test_alignment_on_steps():
    cos = np.array([[0.1, np.nan, -0.2, np.nan, 0.3], [-0.1, np.nan, -0.1, np.nan, 0.2]])
    frac, mean = sharing.alignment_on_steps(ConditionResult(accuracy=np.zeros(2), cosine=cos), every=2)
    np.testing.assert_allclose(frac, [2 / 3, 1 / 3])
    np.testing.assert_allclose(mean, [0.2 / 3, 0.0], atol=1e-12)
    with pytest.raises(ValueError, match="not measured at steps 0, 3, 6"):
        sharing.alignment_on_steps(ConditionResult(accuracy=np.zeros(2), cosine=cos), every=3)


def test_the_digit_block_never_changes_the_training(tiny):
    """Fact 2 of the chapter: the aux logits do not depend on the digit block, so two students that differ
    only in it train identically (same losses, same alignment, same displacements), and a student with a fresh
    digit block trains as the shared student does."""
    arms = {a.name: a.condition for a in sharing.ARMS}
    run = run_experiment(tiny, seeds=2, conditions=["student_aux", *[(n, arms[n]) for n in
                                                                      ("fresh_digit_block", "fresh_aux_block",
                                                                       "hidden_only")]],
                         cache=False, progress=False)
    for a, b in (("fresh_digit_block", "student_aux"), ("fresh_aux_block", "hidden_only")):
        np.testing.assert_array_equal(run[a].loss, run[b].loss)
        np.testing.assert_array_equal(run[a].displacement_cos, run[b].displacement_cos)
    # ... but their digits are read by different blocks, and the trait gradient goes through them
    assert not np.array_equal(run["fresh_digit_block"].cosine, run["student_aux"].cosine)


def test_the_sentences_follow_the_verdicts():
    names = [a.name for a in sharing.ARMS]
    labels = {a.name: a.label for a in sharing.ARMS}
    predicted = {n: {"verdict": "keeps the transfer" if n == "permuted" else "loses it"} for n in names}
    assert sharing.answer(predicted, names, labels).startswith("Of 6 ways of sharing less than the whole start, "
                                                                "1 kept the transfer (")
    assert "it takes all of them" in sharing.parts_sentence(predicted, names, labels)
    assert "the same numbers are not needed" in sharing.theorem_sentence(predicted)
    other = dict(predicted, head_only={"verdict": "keeps the transfer"})
    assert sharing.parts_sentence(other, names, labels).startswith("Not every part is needed")
    assert "stronger than what transfer needs" in sharing.theorem_sentence(other)
    failed = dict(predicted, permuted={"verdict": "loses it"})
    assert "does not hold as stated" in sharing.theorem_sentence(failed)
    none = {n: {"verdict": "loses it"} for n in names}
    assert "none kept the transfer" in sharing.answer(none, names, labels)


def test_the_heads_sentence_follows_the_two_halves():
    def said(head, hidden):
        return sharing.heads_sentence({"head_only": {"verdict": head}, "hidden_only": {"verdict": hidden}})

    assert "a compatible head is enough" in said("keeps the transfer", "loses it")
    assert said("loses it", "keeps part of it").startswith("Neither half is enough")
    assert "do not settle it" in said("undecided", "loses it")
