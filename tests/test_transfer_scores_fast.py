"""The transferability scores `zoo rank` computes from frozen features: LogME against
its closed form computed directly with numpy, the probes, the prepared features and
the input checks. numpy and scikit-learn only; every test runs in well under a second."""

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from zoo.errors import DataError
from zoo.train.transfer_scores import (
    METRICS,
    auto_dims,
    class_evidence,
    kendall_tau,
    logme,
    logme_score,
    prepared,
    probe_score,
    score,
)


def direct_log_evidence(features: np.ndarray, target: np.ndarray, alpha: float,
                        beta: float) -> float:
    """log p(y | F, α, β) straight from the definition: A = αI + βFᵀF,
    m = βA⁻¹Fᵀy, with a d×d determinant and solve (no SVD)."""
    n, d = features.shape
    a = alpha * np.eye(d) + beta * features.T @ features
    m = beta * np.linalg.solve(a, features.T @ target)
    sign, log_det = np.linalg.slogdet(a)
    assert sign > 0
    return (n / 2 * math.log(beta) + d / 2 * math.log(alpha) - n / 2 * math.log(2 * math.pi)
            - beta / 2 * float(np.sum((features @ m - target) ** 2))
            - alpha / 2 * float(m @ m) - log_det / 2)


def one_hot(labels: np.ndarray) -> np.ndarray:
    return (labels[:, None] == np.unique(labels)).astype(np.float64)


def separable(rows_per_class: int = 20, classes: int = 3, noise: float = 0.3,
              seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features that separate the classes linearly, random features of the same
    shape, and the labels."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), rows_per_class)
    good = one_hot(labels) * 2 + noise * rng.normal(size=(len(labels), classes))
    good = np.c_[good, rng.normal(size=(len(labels), 2))]
    return good, rng.normal(size=good.shape), labels


TOY_FEATURES = np.array([[1.0], [2.0], [-1.0], [-2.0], [0.5], [-0.5]])
TOY_LABELS = np.array([0, 0, 1, 1, 0, 1])


def test_direct_formula_matches_a_hand_computed_evidence():
    # F = [1, 0]ᵀ, y = [1, 0], α = β = 1: A = 2, m = 1/2, ‖Fm − y‖² = 1/4, mᵀm = 1/4,
    # so L = 0 + 0 − log 2π − 1/8 − 1/8 − ½·log 2.
    hand = -math.log(2 * math.pi) - 0.25 - 0.5 * math.log(2)
    assert direct_log_evidence(np.array([[1.0], [0.0]]), np.array([1.0, 0.0]), 1.0,
                               1.0) == pytest.approx(hand, rel=1e-12)


def problem(kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Small problems whose evidence has its maximum inside (finite α and β): with
    fewer rows than columns, random features often put it at the boundary (β → inf,
    an exact fit), where a d×d determinant cannot be computed precisely."""
    if kind == "toy":
        return TOY_FEATURES, TOY_LABELS
    rows, width = {"n>d": (40, 5), "n<d": (9, 12)}[kind]
    labels = np.arange(rows) % 3
    signal = np.c_[one_hot(labels) * 2, np.zeros((rows, width - 3))]
    return signal + 0.5 * np.random.default_rng(4).normal(size=(rows, width)), labels


@pytest.mark.parametrize("kind", ["toy", "n>d", "n<d"])
def test_logme_evidence_equals_the_closed_form_at_its_alpha_beta(kind):
    features, labels = problem(kind)
    evidences = class_evidence(features, labels)
    assert len(evidences) == len(np.unique(labels))
    for evidence, target in zip(evidences, one_hot(labels).T, strict=True):
        assert 0 < evidence.alpha < 1e6 and 0 < evidence.beta < 1e6
        assert evidence.log_evidence == pytest.approx(
            direct_log_evidence(features, target, evidence.alpha, evidence.beta), rel=1e-9)


@pytest.mark.parametrize("kind", ["toy", "n>d", "n<d"])
def test_logme_evidence_is_a_maximum_over_nearby_alpha_beta(kind):
    features, labels = problem(kind)
    steps = np.exp(np.linspace(-0.5, 0.5, 11))  # ±0.5 in log α and log β, 0 included
    for evidence, target in zip(class_evidence(features, labels), one_hot(labels).T,
                                strict=True):
        nearby = [direct_log_evidence(features, target, evidence.alpha * a, evidence.beta * b)
                  for a in steps for b in steps]
        assert max(nearby) <= evidence.log_evidence + 1e-3 * abs(evidence.log_evidence)
        assert min(nearby) < evidence.log_evidence - 1e-3  # not flat: the grid can tell


def test_logme_is_the_mean_evidence_per_row():
    evidences = class_evidence(TOY_FEATURES, TOY_LABELS)
    assert logme(TOY_FEATURES, TOY_LABELS) == pytest.approx(
        np.mean([e.log_evidence for e in evidences]) / len(TOY_FEATURES), rel=1e-12)


@pytest.mark.parametrize("metric", list(METRICS))
def test_linearly_separable_features_score_above_random_ones(metric):
    good, random, labels = separable()
    assert score(good, labels, metric) > score(random, labels, metric)


def test_raw_logme_ranks_separable_features_above_random_ones():
    good, random, labels = separable()
    assert logme(good, labels) > logme(random, labels)


def test_probes_score_separable_features_near_perfect_and_random_near_chance():
    good, random, labels = separable()
    assert probe_score(good, labels, "linear") >= 0.95
    assert probe_score(good, labels, "knn") >= 0.95
    assert probe_score(random, labels, "linear") < 0.6


@pytest.mark.parametrize("scorer", [logme, logme_score, lambda f, y: score(f, y, "linear")],
                         ids=["logme", "logme_score", "linear"])
def test_scores_do_not_depend_on_row_order(scorer):
    good, _, labels = separable()
    order = np.random.default_rng(3).permutation(len(labels))
    assert scorer(good[order], labels[order]) == pytest.approx(scorer(good, labels), rel=1e-9)


def test_a_zero_column_leaves_logme_unchanged():
    # A zero eigenvalue of FᵀF adds log α to log|A| and d/2·log α alike: they cancel.
    good, _, labels = separable()
    widened = np.c_[good, np.zeros(len(good))]
    assert logme(widened, labels) == pytest.approx(logme(good, labels), rel=1e-9)


def test_a_constant_column_does_not_break_either_logme():
    good, _, labels = separable()
    widened = np.c_[good, np.full(len(good), 7.0)]
    assert math.isfinite(logme(widened, labels))
    # standardised, the constant column becomes zeros, which change nothing
    assert logme_score(widened, labels) == pytest.approx(logme_score(good, labels), rel=1e-9)


def test_features_with_no_variation_score_the_noise_only_evidence():
    labels = np.array([0, 0, 1, 1, 2, 2])
    evidences = class_evidence(np.zeros((6, 3)), labels)
    assert all(e.alpha == math.inf for e in evidences)
    n, hits = 6, 2  # β = n/‖y‖², so L = n/2·log(n/‖y‖²) − n/2·log 2π − n/2
    expected = n / 2 * math.log(n / hits) - n / 2 * math.log(2 * math.pi) - n / 2
    assert logme(np.zeros((6, 3)), labels) == pytest.approx(expected / n, rel=1e-12)


def test_an_exact_fit_scores_finite_and_above_a_noisy_one():
    # Features that reproduce the one-hot targets leave no residual: β would be infinite.
    good, _, labels = separable()
    exact = one_hot(labels)
    assert math.isfinite(logme(exact, labels))
    assert logme(exact, labels) > logme(good, labels)
    assert logme(exact, labels) == pytest.approx(
        logme(exact + 1e-9 * np.random.default_rng(7).normal(size=exact.shape), labels),
        rel=1e-6)  # no jump between an exact fit and a nearly exact one


def test_standardised_logme_ignores_column_scale_where_raw_logme_does_not():
    good, _, labels = separable()
    scales = np.array([1e-3, 1.0, 1e3, 10.0, 0.1])
    assert logme_score(good * scales, labels) == pytest.approx(logme_score(good, labels),
                                                               rel=1e-6)
    assert logme(good * scales, labels) != pytest.approx(logme(good, labels), rel=1e-2)


def test_prepared_features_have_zero_mean_unit_variance_and_constant_columns_at_zero():
    rng = np.random.default_rng(4)
    features = np.c_[rng.normal(5.0, 3.0, size=(30, 4)), np.full(30, 2.5)]
    out = prepared(features)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(out[:, :4].std(axis=0), 1.0, rtol=1e-12)
    assert np.all(out[:, 4] == 0.0)


def test_prepared_reduces_only_features_wider_than_max_dims():
    features = np.random.default_rng(5).normal(size=(30, 12))
    assert prepared(features, max_dims=4).shape == (30, 4)
    assert prepared(features, max_dims=12).shape == (30, 12)
    assert prepared(features[:6], max_dims=10).shape == (6, 6)  # no more than one per row
    with pytest.raises(DataError, match="max_dims must be at least 1"):
        prepared(features, max_dims=0)


@pytest.mark.parametrize(("rows", "width", "dims"), [
    (100, 10, None),  # 10 <= 100 // 4: no PCA
    (100, 25, None),
    (100, 26, 25),
    (500, 1280, 125),  # MobileNetV2's last stage on 500 images: more channels than rows
    (4000, 1280, 256),
])
def test_auto_dims_keeps_at_most_a_quarter_of_the_rows_and_256(rows, width, dims):
    assert auto_dims(rows, width) == dims


def test_logme_score_auto_reduces_wide_features_before_logme():
    rng = np.random.default_rng(6)
    labels = np.arange(40) % 4
    wide = rng.normal(size=(40, 60)) + labels[:, None]
    assert logme_score(wide, labels) == pytest.approx(logme(prepared(wide, 10), labels),
                                                      rel=1e-9)
    assert logme_score(wide, labels, max_dims=None) == pytest.approx(
        logme(prepared(wide), labels), rel=1e-9)
    assert logme_score(wide, labels, standardize=False, max_dims=None) == pytest.approx(
        logme(wide, labels), rel=1e-12)


@pytest.mark.parametrize("kind", ["linear", "knn"])
def test_probe_score_is_deterministic_for_a_seed_and_follows_it(kind):
    _, random, labels = separable(rows_per_class=12)
    assert probe_score(random, labels, kind, seed=7) == probe_score(random, labels, kind, seed=7)
    assert len({probe_score(random, labels, kind, seed=s) for s in range(3)}) > 1


def test_knn_probe_works_when_classes_have_fewer_training_rows_than_five_neighbours():
    # 3 rows per class: 3 folds, 2 training rows per class, so k is 2, not 5
    features = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]])
    assert probe_score(features, np.array([0, 0, 0, 1, 1, 1]), "knn") == 1.0


def test_probe_score_accepts_string_labels():
    good, _, labels = separable()
    names = np.array(["cat", "dog", "emu"])[labels]
    assert probe_score(good, names) == probe_score(good, labels)


GOOD, _, LABELS = separable(rows_per_class=4)


@pytest.mark.parametrize(("features", "labels", "words"), [
    (np.zeros((12, 8, 4, 4)), LABELS, "pool it to one row per sample"),
    (np.zeros(12), LABELS, "must be 2-D"),
    (GOOD[:11], LABELS, "11 rows but there are 12 labels"),
    (np.where(np.eye(12, 5) == 1, np.nan, GOOD), LABELS, "5 non-finite values"),
    (np.where(np.eye(12, 5)[:, ::-1] == 1, np.inf, GOOD)[:, :1], LABELS,
     "1 non-finite value (NaN or inf)"),
    (GOOD, np.zeros(12, dtype=int), "1 class; scoring needs at least 2"),
    (GOOD, np.r_[LABELS[:-1], 9], "class 9 has only 1 row"),
    (GOOD, LABELS[:, None], "labels must be 1-D"),
    (np.full((12, 2), "x"), LABELS, "features must be numbers"),
    (np.zeros((12, 0)), LABELS, "no columns"),
], ids=["feature-map", "1-D", "rows", "nan", "inf", "one-class", "lonely-class",
        "2-D-labels", "strings", "no-columns"])
@pytest.mark.parametrize("metric", list(METRICS))
def test_bad_input_is_refused_in_one_line(features, labels, words, metric):
    with pytest.raises(DataError, match=None) as refused:
        score(features, labels, metric)
    message = str(refused.value)
    assert words in message and "\n" not in message


def test_raw_logme_refuses_bad_input_too():
    with pytest.raises(DataError, match="non-finite"):
        logme(np.where(np.eye(12, 5) == 1, np.nan, GOOD), LABELS)


def test_an_unknown_metric_names_the_known_ones():
    with pytest.raises(DataError, match="unknown metric 'r2'; known: logme, linear, knn"):
        score(GOOD, LABELS, "r2")


def test_an_unknown_probe_names_the_known_ones():
    with pytest.raises(DataError, match="unknown probe 'svm'; known: linear, knn"):
        probe_score(GOOD, LABELS, "svm")


def test_kendall_tau_agrees_and_disagrees():
    assert kendall_tau([0.1, 0.5, 0.9], [10, 20, 30]) == pytest.approx(1.0)
    assert kendall_tau([0.1, 0.5, 0.9], [30, 20, 10]) == pytest.approx(-1.0)
    with pytest.raises(DataError, match="same length"):
        kendall_tau([1, 2, 3], [1, 2])


@st.composite
def small_problems(draw) -> tuple[np.ndarray, np.ndarray]:
    classes = draw(st.integers(2, 4))
    rows = draw(st.integers(max(4, 2 * classes), 30))
    width = draw(st.integers(1, 40))
    extra = draw(st.lists(st.integers(0, classes - 1), min_size=rows - 2 * classes,
                          max_size=rows - 2 * classes))
    labels = np.array(draw(st.permutations([*range(classes), *range(classes), *extra])))
    features = draw(arrays(np.float64, (rows, width),
                           elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)))
    return features, labels


EXACT_LABELS = np.array([0, 0, 1, 1, 2, 2, 2])


@settings(max_examples=100, deadline=None)
@given(small_problems())
@example((one_hot(EXACT_LABELS), EXACT_LABELS))  # an exact fit
@example((np.eye(7), EXACT_LABELS))  # as many columns as rows
@example((np.zeros((7, 3)), EXACT_LABELS))  # nothing to fit with
def test_logme_is_a_finite_float_for_any_small_finite_features(problem):
    features, labels = problem
    raw = logme(features, labels)
    assert isinstance(raw, float) and math.isfinite(raw)
    assert math.isfinite(logme_score(features, labels))
