"""pixelsmith.metrics.generative: the Fréchet distance against its closed form for Gaussians, KID's unbiased
estimator near zero for one distribution and growing with a shift, and precision/recall/density/coverage
against the reference implementation (the prdc package)."""

import pytest
import torch

from pixelsmith import PixelsmithError
from pixelsmith.metrics.generative import frechet_distance, kernel_distance, precision_recall_density_coverage


def gaussian(n, d, mean=0.0, std=1.0, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * std + mean


def test_frechet_distance_matches_the_closed_form():
    """Between N(m1, s1^2 I) and N(m2, s2^2 I) it is d (m1 - m2)^2 + d (s1 - s2)^2."""
    d = 8
    real, fake = gaussian(20000, d), gaussian(20000, d, mean=0.5, std=2.0, seed=1)
    assert frechet_distance(real, fake) == pytest.approx(d * 0.25 + d * 1.0, rel=0.03)
    assert frechet_distance(real, gaussian(20000, d, seed=2)) < 0.01


def test_kid_is_unbiased_near_zero_and_grows_with_a_shift():
    real, same = gaussian(2000, 16), gaussian(2000, 16, seed=1)
    mean, std = kernel_distance(real, same, subsets=20, subset_size=500)
    assert abs(mean) < 3 * std + 1e-3 and std > 0
    shifted, _ = kernel_distance(real, gaussian(2000, 16, mean=0.3, seed=1), subsets=20, subset_size=500)
    far, _ = kernel_distance(real, gaussian(2000, 16, mean=1.0, seed=1), subsets=20, subset_size=500)
    assert 0.01 < shifted < far


@pytest.mark.parametrize("shift", [0.0, 0.7])
def test_prdc_matches_the_reference_package(shift):
    import prdc  # the reference implementation (a test extra)

    real, fake = gaussian(600, 10).float(), gaussian(500, 10, mean=shift, seed=3).float()
    ours = precision_recall_density_coverage(real, fake, k=5)
    theirs = prdc.compute_prdc(real.numpy(), fake.numpy(), nearest_k=5)
    for key in ("precision", "recall", "density", "coverage"):
        assert ours[key] == pytest.approx(float(theirs[key]), abs=1e-6), key


def test_bad_feature_sets_are_clear_errors():
    with pytest.raises(PixelsmithError, match="same D"):
        frechet_distance(torch.zeros(5, 3), torch.zeros(5, 4))
    with pytest.raises(PixelsmithError, match="at least 6 real"):
        precision_recall_density_coverage(torch.zeros(3, 2), torch.zeros(9, 2))
