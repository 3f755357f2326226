"""Tests of gin_core.loss: the one NLL (batch and learned statistics), hand-computed values, gradients, lone classes, errors."""

import math

import pytest
import torch

from gin_core._checks import check_labels
from gin_core.distributions import class_statistics
from gin_core.loss import class_conditional_nll, nll_terms

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)

# A tiny batch, d = 2, two classes:
#   class 0: dim 0 = (1, 2, 3) -> mean 2, biased variance 2/3;  dim 1 = (0, 0, 3) -> mean 1, variance 2
#   class 1: dim 0 = (-2, 2)   -> mean 0, variance 4;           dim 1 = (5, 7)    -> mean 6, variance 1
W = torch.tensor([[1.0, 0.0], [2.0, 0.0], [3.0, 3.0], [-2.0, 5.0], [2.0, 7.0]], dtype=torch.float64)
U = torch.tensor([0, 0, 0, 1, 1])
# With batch statistics each class's squared terms add up to n_c / 2 per dimension, so
#   loss = (1 / (N d)) sum_c n_c sum_j (1/2 + 1/2 log var_cj) + 1/2 log 2 pi
#        = (1/10) (5 + 1.5 log(2/3) + 1.5 log 2 + log 4) + 1/2 log 2 pi
#        = 0.5 + 0.15 log(4/3) + 0.2 log 2 + 0.5 log 2 pi
HAND_EMPIRICAL = 0.5 + 0.15 * math.log(4 / 3) + 0.2 * math.log(2) + HALF_LOG_2PI


def per_sample_reference(w, u, log_det=None):
    """Eq. (7) written out sample by sample in plain Python (batch means and biased variances)."""
    rows, labels = w.tolist(), u.tolist()
    total, count = 0.0, 0
    for i, (row, c) in enumerate(zip(rows, labels)):
        members = [r for r, k in zip(rows, labels) if k == c]
        if len(members) < 2:
            continue
        nll = 0.0
        for j, value in enumerate(row):
            column = [m[j] for m in members]
            mean = sum(column) / len(column)
            var = sum((v - mean) ** 2 for v in column) / len(column)
            nll += (value - mean) ** 2 / (2 * var) + 0.5 * math.log(var) + HALF_LOG_2PI
        nll /= len(row)
        if log_det is not None:
            nll -= log_det[i] / len(row)
        total, count = total + nll, count + 1
    return total / count


def test_empirical_loss_equals_hand_computed_value():
    value, n_used = nll_terms(W, U, 2)
    assert value.item() == pytest.approx(HAND_EMPIRICAL, abs=1e-14)
    assert value.item() == pytest.approx(per_sample_reference(W, U), abs=1e-14)
    assert int(n_used) == 5
    assert class_conditional_nll(W, U, 2).item() == value.item()


def test_empirical_loss_with_log_det():
    log_det = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=torch.float64)  # mean 3
    assert class_conditional_nll(W, U, 2, log_det).item() == pytest.approx(HAND_EMPIRICAL - 3 / 2, abs=1e-14)


def test_lone_sample_is_left_out_and_counted():
    w = torch.cat([W, torch.tensor([[100.0, -100.0]], dtype=torch.float64)])
    u = torch.cat([U, torch.tensor([3])])
    log_det = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 1000.0], dtype=torch.float64)
    value, n_used = nll_terms(w, u, 4, log_det)
    assert torch.isfinite(value)
    assert value.item() == pytest.approx(HAND_EMPIRICAL - 3 / 2, abs=1e-14)  # unchanged: the lone sample is out
    assert int(n_used) == 5
    w_grad = w.clone().requires_grad_()
    class_conditional_nll(w_grad, u, 4).backward()
    assert torch.isfinite(w_grad.grad).all() and torch.equal(w_grad.grad[-1], torch.zeros(2, dtype=torch.float64))


def test_batch_without_any_pair_raises():
    _, n_used = nll_terms(W[:3], torch.tensor([0, 1, 2]), 3)
    assert int(n_used) == 0
    with pytest.raises(ValueError, match="no class has two or more samples in this batch"):
        class_conditional_nll(W[:3], torch.tensor([0, 1, 2]), 3)


def test_empirical_gradient_matches_per_sample_formula():
    """The closed form drops the squared terms; their gradient must be zero, so both agree."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(40, 3, generator=g, dtype=torch.float64)
    u = torch.randint(4, (40,), generator=g)
    u[-1] = 4  # a lone class
    log_det = torch.randn(40, generator=g, dtype=torch.float64)

    a = w.clone().requires_grad_()
    ld_a = log_det.clone().requires_grad_()
    value = class_conditional_nll(a, u, 5, ld_a)
    value.backward()

    b = w.clone().requires_grad_()
    ld_b = log_det.clone().requires_grad_()
    keep = torch.bincount(u)[u] >= 2
    parts = []
    for i in torch.nonzero(keep).flatten().tolist():
        members = b[u == u[i]]
        mean, var = members.mean(0), members.var(0, unbiased=False)
        parts.append((0.5 * (b[i] - mean) ** 2 / var + 0.5 * var.log() + HALF_LOG_2PI).mean() - ld_b[i] / 3)
    reference = torch.stack(parts).mean()
    reference.backward()

    assert value.item() == pytest.approx(reference.item(), abs=1e-13)
    assert torch.allclose(a.grad, b.grad, atol=1e-13)
    assert torch.allclose(ld_a.grad, ld_b.grad, atol=1e-15)


def test_empirical_loss_equals_the_authors_formula():
    """The authors' code: per class std (biased), loss = 0.5 + mean_j log sig_j + 0.5 log 2 pi."""
    g = torch.Generator().manual_seed(1)
    w = torch.randn(60, 4, generator=g, dtype=torch.float64) * 3
    u = torch.arange(60) % 3
    sig = torch.stack([w[u == c].std(0, unbiased=False) for c in range(3)])
    authors = (0.5 + sig[u].log().mean(1) + HALF_LOG_2PI).mean()
    assert class_conditional_nll(w, u, 3).item() == pytest.approx(authors.item(), abs=1e-13)


LEARNED = (
    torch.tensor([[1.0, 0.0], [0.0, 4.0]], dtype=torch.float64),
    torch.tensor([[0.0, math.log(2)], [math.log(3), 0.0]], dtype=torch.float64),
)


def test_learned_loss_equals_hand_computed_value():
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    u = torch.tensor([0, 1])
    # sample 0: (0 + 0.5 * 4 / 4 + log 2) / 2;  sample 1: (0.5 * 9 / 9 + log 3 + 0) / 2
    hand = ((0.5 + math.log(2)) + (0.5 + math.log(3))) / 4 + HALF_LOG_2PI
    assert class_conditional_nll(w, u, 2, None, *LEARNED).item() == pytest.approx(hand, abs=1e-14)
    log_det = torch.tensor([2.0, 4.0], dtype=torch.float64)
    assert class_conditional_nll(w, u, 2, log_det, *LEARNED).item() == pytest.approx(hand - 3 / 2, abs=1e-14)


def test_learned_statistics_handle_single_samples_and_train():
    means = torch.zeros(3, 2, requires_grad=True)
    log_stds = torch.zeros(3, 2, requires_grad=True)
    w = torch.tensor([[3.0, -1.0]])
    u = torch.tensor([2])
    value, n_used = nll_terms(w, u, 3, None, means, log_stds)  # one sample of one class is fine when learned
    assert value.item() == pytest.approx((0.5 * 9 + 0.5 * 1) / 2 + HALF_LOG_2PI, abs=1e-6)
    assert int(n_used) == 1
    value.backward()
    assert means.grad[2].abs().sum() > 0 and means.grad[:2].abs().sum() == 0


def test_class_statistics():
    means, variances, counts = class_statistics(W, U, 3)
    assert torch.allclose(means, torch.tensor([[2.0, 1.0], [0.0, 6.0], [0.0, 0.0]], dtype=torch.float64))
    assert torch.allclose(variances, torch.tensor([[2 / 3, 2.0], [4.0, 1.0], [0.0, 0.0]], dtype=torch.float64))
    assert counts.tolist() == [3, 2, 0]


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("learned", [False, True])
def test_bad_input_raises_clear_errors(learned):
    stats = LEARNED if learned else (None, None)

    def loss(w, u, log_det=None):
        return class_conditional_nll(w, u, 2, log_det, *stats)

    with pytest.raises(ValueError, match=r"codes w must be a non-empty \(batch, d\) tensor, got torch.Size\(\[2\]\)"):
        loss(W[0], U[:1])
    with pytest.raises(ValueError, match="codes w must be a non-empty"):
        loss(torch.zeros(0, 2, dtype=torch.float64), torch.zeros(0, dtype=torch.long))
    bad = W.clone()
    bad[1, 1] = float("nan")
    with pytest.raises(ValueError, match="latent w contains 1 NaN or infinite values"):
        loss(bad, U)
    bad[1, 1] = float("inf")
    with pytest.raises(ValueError, match="latent w contains 1 NaN or infinite values"):
        loss(bad, U)
    with pytest.raises(ValueError, match=r"labels u must lie in \[0, 2\), got values from 0 to 5"):
        loss(W, torch.tensor([0, 0, 0, 1, 5]))
    with pytest.raises(ValueError, match=r"labels u must lie in \[0, 2\), got values from -1 to 1"):
        loss(W, torch.tensor([-1, 0, 0, 1, 1]))
    with pytest.raises(TypeError, match=r"labels u must be integers \(torch.long\), got dtype torch.float32"):
        loss(W, U.float())
    with pytest.raises(TypeError, match="labels u must be integers"):
        loss(W, U.bool())
    with pytest.raises(TypeError, match="labels u must be a torch.Tensor, got list"):
        loss(W, U.tolist())
    with pytest.raises(ValueError, match=r"labels u must have shape \(5,\) to match the batch, got \(4,\)"):
        loss(W, U[:4])
    with pytest.raises(ValueError, match=r"log_det must have shape \(5,\), got \(5, 1\)"):
        loss(W, U, torch.zeros(5, 1, dtype=torch.float64))
    if learned:
        with pytest.raises(ValueError, match=r"means and log_stds must have shape \(2, 3\)"):
            loss(torch.zeros(5, 3, dtype=torch.float64), U)
        with pytest.raises(ValueError, match="give both means and log_stds"):
            class_conditional_nll(W, U, 2, None, LEARNED[0], None)


def test_check_labels_errors():
    check_labels(torch.tensor([0, 1]), 2, 2)
    with pytest.raises(ValueError, match=r"labels u must have shape \(2,\)"):
        check_labels(torch.tensor([[0, 1]]), 2, 2)


def test_many_conditions_with_rare_and_empty_ones():
    """40 conditions in a batch of 240 (the sub-label model): lone and absent conditions as in training."""
    g = torch.Generator().manual_seed(3)
    u = torch.cat([torch.arange(36).repeat_interleave(6), torch.tensor([36, 37]), torch.full((22,), 38)])
    w = torch.randn(240, 5, generator=g, dtype=torch.float64) * (1 + u.unsqueeze(1) % 3)
    value, n_used = nll_terms(w, u, 40)
    kept = torch.bincount(u, minlength=40) >= 2
    assert not kept[36] and not kept[37] and not kept[39] and kept[38]  # lone 36, 37; absent 39
    mask = kept[u]
    assert value.item() == pytest.approx(per_sample_reference(w[mask], u[mask]), abs=1e-12)
    assert int(n_used) == 238
    w_grad = w.clone().requires_grad_()
    class_conditional_nll(w_grad, u, 40).backward()
    assert torch.isfinite(w_grad.grad).all() and (w_grad.grad[~mask] == 0).all()


def test_the_loss_is_written_once():
    """The eager model, the compiled step and the learned-statistics loss all reach nll_terms (no copy of its math)."""
    import inspect

    import gin_core.model
    import gin_core.training.compiled

    for module in (gin_core.model, gin_core.training.compiled):
        source = inspect.getsource(module)
        assert "nll_terms(" in source and "class_statistics" not in source and "HALF_LOG_2PI" not in source
