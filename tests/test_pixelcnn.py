"""The gated PixelCNN (pixelsmith.models.pixelcnn): raster-order causality with no blind spot, a likelihood that
is a normalised distribution, sampling pixel by pixel that uses the same conditionals as the likelihood, and
`evaluate likelihood` reporting it as exact."""

import itertools

import pytest
import torch
from conftest import gen

from pixelsmith import Cancelled
from pixelsmith.registry import create_model


def tiny(**kw):
    torch.manual_seed(0)
    args = dict(width=8, layers=4, dilations=[1, 2], size=28) | kw
    return create_model("pixelcnn", **args).eval()


def test_each_output_sees_exactly_the_pixels_before_it():
    model = tiny(num_classes=3)
    x = torch.bernoulli(torch.full((1, 1, 28, 28), 0.5), generator=gen(0)).requires_grad_(True)
    out = model(x, torch.tensor([1]))
    order = torch.arange(28 * 28).view(28, 28)
    for i, j in [(0, 0), (0, 5), (6, 0), (13, 17), (27, 27)]:
        grad, = torch.autograd.grad(out[0, 0, i, j], x, retain_graph=True)
        seen = grad[0, 0].abs() > 0
        assert not (seen & (order >= i * 28 + j)).any()  # nothing at or after (i, j)
        if j:
            assert seen[i, j - 1]  # the left neighbour
        if i:
            assert seen[i - 1, j] and seen[i - 1, min(j + 1, 27)]  # above and above-right: no blind spot


def test_the_likelihood_sums_to_one_over_every_binary_image():
    model = tiny(size=3)
    images = torch.tensor(list(itertools.product([0.0, 1.0], repeat=9))).view(-1, 1, 3, 3)
    log_p, same = model.log_likelihood(images)
    assert torch.equal(log_p, same)  # exact: no bound
    torch.testing.assert_close(log_p.exp().sum(), torch.tensor(1.0), atol=1e-5, rtol=0)


def test_a_conditional_model_mixes_its_classes_for_p_of_x():
    model = tiny(size=3, num_classes=4)
    images = torch.tensor(list(itertools.product([0.0, 1.0], repeat=9))).view(-1, 1, 3, 3)
    log_p, _ = model.log_likelihood(images)
    torch.testing.assert_close(log_p.exp().sum(), torch.tensor(1.0), atol=1e-5, rtol=0)
    given = model.log_likelihood(images, labels=torch.full((len(images),), 2))[0]
    assert not torch.allclose(given, log_p)


def test_sampling_uses_the_model_conditionals():
    model = tiny(size=2)
    # p(x) of each 2x2 image from the model, against how often seeded sampling draws it
    images = torch.tensor(list(itertools.product([0.0, 1.0], repeat=4))).view(-1, 1, 2, 2)
    p = model.log_likelihood(images)[0].exp()
    samples = model.sample(4000, generator=gen(1))
    codes = (samples.flatten(1) * torch.tensor([8.0, 4.0, 2.0, 1.0])).sum(1).long()
    freq = torch.bincount(codes, minlength=16).float() / len(codes)
    assert (freq - p).abs().max() < 0.03  # 4000 draws: a standard error under 0.008


def test_samples_are_binary_seeded_of_the_class_asked_and_cancellable():
    model = tiny(num_classes=3)
    a = model.sample(3, generator=gen(0), label=2)
    assert a.shape == (3, 1, 28, 28) and set(a.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(a, model.sample(3, generator=gen(0), label=2))
    rows = []

    def stop(event):
        rows.append(event.done)
        if event.done == 2:
            raise Cancelled

    with pytest.raises(Cancelled):
        model.sample(2, generator=gen(0), progress=stop)
    assert rows == [1, 2]


def test_evaluate_likelihood_reports_the_exact_nll(tiny_mnist):
    from pixelsmith.pipelines.evaluate import evaluate_likelihood

    model = tiny(num_classes=10)
    model.config = {"model": "pixelcnn"}
    result = evaluate_likelihood(model, "mnist-test", tiny_mnist, n=8, k=5)
    assert result["protocol"]["estimator"] == "exact" and result["protocol"]["k"] is None
    m = result["model"]
    assert m["nll_nats"] == pytest.approx(m["negative_elbo_nats"])
    assert m["nll_bits_per_dim"] == pytest.approx(m["nll_nats"] / 784 / 0.6931471805599453)
