"""The Fréchet distance between two Gaussians, and the Gaussian fitted to a set of features: FID's arithmetic.

``metrics.fid`` and the conditional intra-FID (``metrics.conditional``) both use it.
"""
import numpy as np


def gaussian_fit(features):
    """(mean, covariance) of feature rows, float64; the covariance with the unbiased 1/(n-1). Shapes: (n, d) -> (d,), (d, d)."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"gaussian_fit: features must be (n, d) with n >= 2, got {x.shape}")
    return x.mean(axis=0), np.cov(x, rowvar=False)


def sqrt_psd(S):
    """The symmetric square root of a symmetric positive semi-definite matrix: V diag(sqrt(max(w, 0))) Vᵀ."""
    w, V = np.linalg.eigh((S + S.T) / 2.0)
    return (V * np.sqrt(np.clip(w, 0.0, None))) @ V.T


def frechet_distance(mu1, S1, mu2, S2):
    """||mu1 - mu2||² + Tr(S1) + Tr(S2) - 2 Tr((S1^½ S2 S1^½)^½), the Fréchet distance of two Gaussians.

    Tr((S1 S2)^½) is computed as the sum of the square roots of the eigenvalues of the symmetric
    S1^½ S2 S1^½, which has the same eigenvalues as S1 S2 and no complex rounding.
    """
    A = sqrt_psd(np.asarray(S1, np.float64))
    M = A @ np.asarray(S2, np.float64) @ A
    trace_sqrt = float(np.sqrt(np.clip(np.linalg.eigvalsh((M + M.T) / 2.0), 0.0, None)).sum())
    diff = np.asarray(mu1, np.float64) - np.asarray(mu2, np.float64)
    return max(0.0, float(diff @ diff + np.trace(S1) + np.trace(S2) - 2.0 * trace_sqrt))
