"""Transferability scores: how well frozen features fit the user's labels, without
fine-tuning (`zoo rank`).

Three scores, all on one matrix of pooled features (a row per sample) and its labels:
LogME (You et al., ICML 2021), the log evidence of a Bayesian linear model on the
features, from one SVD; and the cross-validated accuracy of a linear or k-NN probe.
Raw LogME is sensitive to feature scale and to more channels than rows (its optimum
then sits at the edge, and a wide stage can outscore a better narrow one), so
`logme_score` standardises and, where the width is too large for the rows, reduces
it with PCA first; `logme` is the paper's score on the features as given, kept so
the bench can compare the two. numpy, scikit-learn and scipy only: no TensorFlow.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from zoo.errors import DataError
from zoo.train.settings import RANK_METRICS as METRICS

MAX_ITERATIONS = 100  # the evidence's fixed point; it usually settles in a few steps
TOLERANCE = 1e-3  # relative change of alpha / beta that counts as settled
# A fit closer than float precision (‖Fm − y‖² below this times ‖y‖²) counts as that
# close: an exact fit (features that reproduce the one-hot target) would make the
# noise precision β, and so the evidence, infinite.
RESIDUAL_FLOOR = float(np.finfo(np.float64).eps)
AUTO_MAX_DIMS = 256  # the most PCA components "auto" keeps
ROWS_PER_DIM = 4  # "auto" keeps at most one dimension per this many rows
PROBE_NEIGHBOURS = 5  # k of the k-NN probe, fewer when a class has fewer training rows
PROBES = ("linear", "knn")



@dataclass(frozen=True)
class Evidence:
    """One class's LogME optimum: the prior precision `alpha`, the noise precision
    `beta` and the log marginal likelihood there (not yet divided by the rows).
    `alpha` is inf when the features carry nothing along the class's target (the
    evidence then grows with alpha towards the noise-only model)."""

    alpha: float
    beta: float
    log_evidence: float


def checked_features(features: np.ndarray) -> np.ndarray:
    """The features as a finite float64 matrix, or one line saying why not."""
    try:
        matrix = np.asarray(features, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"features must be numbers ({str(exc)[:120]})") from exc
    if matrix.ndim == 4:
        raise DataError(f"features of shape {matrix.shape} are a feature map: pool it to "
                        "one row per sample first (global average pooling over height "
                        "and width)")
    if matrix.ndim != 2:
        raise DataError(f"features must be 2-D, one row per sample, not of shape "
                        f"{matrix.shape}")
    if matrix.shape[1] == 0:
        raise DataError(f"features of shape {matrix.shape} have no columns")
    bad = int(np.size(matrix) - np.count_nonzero(np.isfinite(matrix)))
    if bad:
        raise DataError(f"features hold {bad} non-finite value{'s' * (bad != 1)} "
                        "(NaN or inf); every value must be a finite number")
    return matrix


def checked(features: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The features (see `checked_features`) and the labels as class indices 0..k-1:
    one label per row, at least two classes, at least two rows in each (so a probe
    can cross-validate and every score sees the same data)."""
    matrix = checked_features(features)
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise DataError(f"labels must be 1-D, one class per row, not of shape {labels.shape}")
    if len(labels) != len(matrix):
        raise DataError(f"features have {len(matrix)} rows but there are {len(labels)} "
                        "labels; give one label per row")
    names, classes, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if len(names) < 2:
        raise DataError(f"labels hold {len(names)} class{'es' * (len(names) != 1)}; "
                        "scoring needs at least 2 classes")
    if counts.min() < 2:
        lonely = names[counts < 2]
        raise DataError(f"class {lonely.tolist()[0]!r} has only 1 row ({len(lonely)} such "
                        f"class{'es' * (len(lonely) != 1)}); every class needs at least 2 "
                        "so the probe can cross-validate")
    return matrix, classes


def class_evidence(features: np.ndarray, labels: np.ndarray) -> list[Evidence]:
    """LogME's optimum for each class (one-hot target), in class order.

    The fixed point of Algorithm 1 runs in the SVD basis of the features, so each
    step costs O(rank) whatever the rows: with F = U S Vᵀ (thin, numerical rank r),
    z = Uᵀy and λ = α/β, the posterior mean has coordinates s·z/(s²+λ) in V, and
    the directions with s = 0 (d − r of them, when n < d) add nothing to the fit and
    cancel between d/2·log α and ½·log|A|.
    """
    matrix, classes = checked(features, labels)
    left, singular, _ = np.linalg.svd(matrix, full_matrices=False)
    rank = int(np.count_nonzero(
        singular > singular[0] * max(matrix.shape) * np.finfo(np.float64).eps))
    left, singular = left[:, :rank], singular[:rank]
    targets = (classes[:, None] == np.arange(classes.max() + 1)).astype(np.float64)
    projected = left.T @ targets  # z for every class at once
    off_span = ((targets - left @ projected) ** 2).sum(axis=0)  # ‖y‖² − ‖z‖², stably
    return [_maximise(singular, projected[:, c], float(off_span[c]), len(matrix))
            for c in range(targets.shape[1])]


def _fit(singular: np.ndarray, z: np.ndarray, off_span: float,
         ratio: float) -> tuple[float, float, float]:
    """γ, mᵀm and ‖Fm − y‖² of the posterior mean at λ = α/β = `ratio`."""
    squared = singular ** 2
    gamma = float(np.sum(squared / (squared + ratio)))
    mean_norm = float(np.sum((singular * z / (squared + ratio)) ** 2))
    residual = float(np.sum((ratio * z / (squared + ratio)) ** 2)) + off_span
    return gamma, mean_norm, max(residual, RESIDUAL_FLOOR * (off_span + float(z @ z)))


def _maximise(singular: np.ndarray, z: np.ndarray, off_span: float, n: int) -> Evidence:
    """Algorithm 1's fixed point α ← γ/mᵀm, β ← (n − γ)/‖Fm − y‖², from α = β = 1."""
    alpha, beta = 1.0, 1.0
    for _ in range(MAX_ITERATIONS):
        gamma, mean_norm, residual = _fit(singular, z, off_span, alpha / beta)
        if mean_norm == 0.0:  # nothing of y in the features' span: the noise-only limit
            beta = n / (off_span + float(z @ z))
            return Evidence(math.inf, beta, _log_evidence(singular, z, off_span, n,
                                                          math.inf, beta))
        new_alpha, new_beta = gamma / mean_norm, (n - gamma) / residual
        settled = abs(new_alpha / new_beta - alpha / beta) < TOLERANCE * (alpha / beta)
        alpha, beta = new_alpha, new_beta
        if settled:
            break
    return Evidence(alpha, beta, _log_evidence(singular, z, off_span, n, alpha, beta))


def _log_evidence(singular: np.ndarray, z: np.ndarray, off_span: float, n: int,
                  alpha: float, beta: float) -> float:
    """log p(y | F, α, β) = n/2·log β + d/2·log α − n/2·log 2π − β/2·‖Fm − y‖²
    − α/2·mᵀm − ½·log|αI + βFᵀF|, with d/2·log α − ½·log|A| written as
    −½·Σ log(1 + βs²/α) over the nonzero singular values (the zero ones cancel),
    which also holds at α = inf."""
    if math.isinf(alpha):  # m = 0, A's determinant term vanishes against d/2·log α
        return n / 2 * math.log(beta) - n / 2 * math.log(2 * math.pi) - beta / 2 * (
            off_span + float(z @ z))
    _, mean_norm, residual = _fit(singular, z, off_span, alpha / beta)
    return (n / 2 * math.log(beta) - n / 2 * math.log(2 * math.pi)
            - beta / 2 * residual - alpha / 2 * mean_norm
            - float(np.sum(np.log1p(beta * singular ** 2 / alpha))) / 2)


def logme(features: np.ndarray, labels: np.ndarray) -> float:
    """LogME on the features as given: the mean over classes of the maximised log
    evidence per row. Comparable between feature sets on the same labels only."""
    n = len(np.asarray(features))
    return float(np.mean([e.log_evidence / n for e in class_evidence(features, labels)]))


def prepared(features: np.ndarray, max_dims: int | None = None, *,
             standardize: bool = True) -> np.ndarray:
    """The features standardised per column (constant columns become 0; skipped with
    `standardize=False`) and, when `max_dims` is given and the width exceeds it,
    reduced by PCA to `max_dims` components (at most one per row): the fixes for the
    scale and the more-columns-than-rows that make raw LogME mislead."""
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    matrix = checked_features(features)
    if standardize:
        matrix = StandardScaler().fit_transform(matrix)
    if max_dims is not None and max_dims < 1:
        raise DataError(f"max_dims must be at least 1, not {max_dims}")
    if max_dims is None or matrix.shape[1] <= max_dims:
        return matrix
    # random_state: PCA may pick its randomized solver on large matrices
    pca = PCA(n_components=min(max_dims, len(matrix)), random_state=0)
    with np.errstate(invalid="ignore", divide="ignore"):  # its variance ratio, all constant
        return pca.fit_transform(matrix)


def auto_dims(rows: int, width: int) -> int | None:
    """How many dimensions "auto" keeps: min(width, rows // 4, 256) when the width
    exceeds rows // 4 (so LogME sees several rows per dimension), else None (no PCA)."""
    limit = rows // ROWS_PER_DIM
    return min(width, limit, AUTO_MAX_DIMS) if width > limit else None


def logme_score(features: np.ndarray, labels: np.ndarray, *, standardize: bool = True,
                max_dims: int | Literal["auto"] | None = "auto") -> float:
    """LogME on prepared features (`prepared`): standardised unless `standardize` is
    False, reduced by PCA to `max_dims` ("auto": `auto_dims`; an int; None: never)."""
    matrix, _ = checked(features, labels)
    dims = auto_dims(*matrix.shape) if max_dims == "auto" else max_dims
    return logme(prepared(matrix, dims, standardize=standardize), labels)


def probe_score(features: np.ndarray, labels: np.ndarray, kind: str = "linear",
                folds: int = 5, seed: int = 0) -> float:
    """The mean accuracy over stratified folds of a probe trained on frozen features:
    "linear" (logistic regression) or "knn" (k nearest neighbours, euclidean, k = 5
    or the fewest rows of a class in a training fold if that is smaller), both on
    features standardised inside each fold. Folds are cut to the smallest class's
    row count (at least 2); the same seed gives the same folds and the same score."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind not in PROBES:
        raise DataError(f"unknown probe {kind!r}; known: {', '.join(PROBES)}")
    matrix, classes = checked(features, labels)
    splits = max(2, min(folds, int(np.bincount(classes).min())))
    cuts = list(StratifiedKFold(splits, shuffle=True, random_state=seed).split(matrix, classes))
    if kind == "linear":
        probe = LogisticRegression(max_iter=1000)
    else:
        fewest = min(int(np.bincount(classes[train]).min()) for train, _ in cuts)
        probe = KNeighborsClassifier(n_neighbors=min(PROBE_NEIGHBOURS, fewest))
    accuracy = cross_val_score(make_pipeline(StandardScaler(), probe), matrix, classes,
                               cv=cuts, scoring="accuracy")
    return float(np.mean(accuracy))



def _linear(features: np.ndarray, labels: np.ndarray) -> float:
    return probe_score(features, labels, "linear")


def _knn(features: np.ndarray, labels: np.ndarray) -> float:
    return probe_score(features, labels, "knn")


SCORERS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "logme": logme_score, "linear": _linear, "knn": _knn}


def score(features: np.ndarray, labels: np.ndarray, metric: str) -> float:
    """The named score (`METRICS`) of the features against the labels; higher is better."""
    if metric not in SCORERS:
        raise DataError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    return SCORERS[metric](features, labels)


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b between two score lists over the same candidates (the bench:
    transfer score against fine-tuned accuracy); NaN where one list is constant."""
    from scipy.stats import kendalltau

    if len(a) != len(b):
        raise DataError(f"kendall_tau needs lists of the same length, not {len(a)} and {len(b)}")
    if len(a) < 2:
        raise DataError("kendall_tau needs at least 2 pairs")
    return float(kendalltau(a, b).statistic)
