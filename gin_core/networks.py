"""The paper's two networks (Tables 2 and 3) and the subnetworks they are made of.

References:
    Sorrenson et al. (2020), Appendix D, Tables 2 and 3.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .couplings import AffineCoupling
from .flows import Downsample, Flatten, InvertibleSequential, Permutation

__all__ = [
    "MLP",
    "mlp",
    "conv_net",
    "coupling_flow",
    "artificial_gin",
    "emnist_gin",
    "build_network",
    "count_parameters",
]


class MLP(nn.Sequential):
    """A sequence of ``nn.Linear`` layers and element-wise activations, evaluated batch-in-columns.

    Same modules, parameters and ``state_dict`` as the ``nn.Sequential`` it extends, and the
    same function; only the layout of the computation differs: a 2-d input ``(batch,
    features)`` is transposed (a view) and every linear layer computes ``W h + b`` on
    ``(features, batch)``. On the CPU, PyTorch's matrix products with a few features and a
    large batch run several times faster in that layout (forward and backward) than
    ``nn.Linear``'s ``x W^T + b``; for large layers the two are equally fast.

    Only ``nn.Linear`` layers and element-wise modules (activations) may be used.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2:
            return super().forward(x)
        h = x.t()
        for layer in self:
            if isinstance(layer, nn.Linear):
                h = layer.weight @ h if layer.bias is None else torch.addmm(layer.bias.unsqueeze(1), layer.weight, h)
            else:
                h = layer(h)
        return h.t()


def mlp(c_in: int, hidden: int, c_out: int) -> MLP:
    """Three linear layers ``c_in -> hidden -> hidden -> c_out`` with ReLU between them (an :class:`MLP`)."""
    return MLP(nn.Linear(c_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, c_out))


def conv_net(c_in: int, hidden: int, c_out: int) -> nn.Sequential:
    """Three 3x3 convolutions ``c_in -> hidden -> hidden -> c_out`` (same padding) with ReLU between them."""
    return nn.Sequential(
        nn.Conv2d(c_in, hidden, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(hidden, hidden, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(hidden, c_out, 3, padding=1),
    )


def count_parameters(net: nn.Module) -> int:
    """Number of learnable parameters (permutations are buffers and do not count)."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def _init_weights(net: nn.Module, generator: torch.Generator, zero_last: bool) -> None:
    """Initialise every subnet from ``generator``.

    ``zero_last=True``: Xavier-normal hidden weights, zero biases, zero last layer (the
    coupling starts as the identity). ``zero_last=False``: every layer drawn as PyTorch's
    default, uniform on ``±1/sqrt(fan_in)`` for weights and biases (a random non-linear map).
    """
    for block in net.modules():
        if isinstance(block, AffineCoupling):
            for sub in (block.subnet1, block.subnet2):
                layers = [m for m in sub.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
                for i, layer in enumerate(layers):
                    if not zero_last:
                        bound = layer.weight[0].numel() ** -0.5
                        nn.init.uniform_(layer.weight, -bound, bound, generator=generator)
                        nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
                    elif i == len(layers) - 1:
                        nn.init.zeros_(layer.weight)
                        nn.init.zeros_(layer.bias)
                    else:
                        nn.init.xavier_normal_(layer.weight, generator=generator)
                        nn.init.zeros_(layer.bias)


def coupling_flow(
    blocks: list[tuple[str, dict]],
    input_shape: tuple[int, ...],
    volume_preserving: bool = True,
    zero_init_last: bool = True,
    seed: int = 0,
    clamp: float = 2.0,
    clamp_kind: str = "tanh",
) -> InvertibleSequential:
    """Build an invertible network from a list of block specifications.

    Arguments:
        blocks: ``("fc", {"hidden": h})``, ``("conv", {"hidden": h})``, ``("down", {})`` or
            ``("flatten", {})``. Each coupling block is preceded by a random fixed permutation.
        input_shape: per-sample shape of the data, ``(d,)`` or ``(C, H, W)``.
        volume_preserving: GIN blocks if true, GLOW-style blocks if false.
        zero_init_last: zero-initialise the last layer of every subnet, so that the network
            starts as a permutation; ``False`` gives a random non-linear map (used for mixing).
        seed: seeds the permutations and the weights. Building never touches the global
            random state.
        clamp, clamp_kind: soft clamp of the log-scales (see :class:`~gin_core.couplings.AffineCoupling`).

    Returns:
        An :class:`~gin_core.flows.InvertibleSequential`; ``w, log_det = net(x)``, ``x = net.inverse(w)``.

    References:
        Sorrenson et al. (2020), Appendix D.
    """
    generator = torch.Generator().manual_seed(int(seed))
    shape = tuple(input_shape)
    layers: list[nn.Module] = []
    with torch.random.fork_rng(devices=[]):  # layer constructors draw default weights; keep global state untouched
        for kind, options in blocks:
            if kind in ("fc", "conv"):
                hidden = options["hidden"]
                make: Callable = mlp if kind == "fc" else conv_net
                seed_perm = int(torch.randint(2**31 - 1, (1,), generator=generator))
                layers.append(Permutation(shape[0], seed=seed_perm))
                layers.append(
                    AffineCoupling(
                        shape[0],
                        lambda c_in, c_out, h=hidden, f=make: f(c_in, h, c_out),
                        volume_preserving=volume_preserving,
                        clamp=clamp,
                        clamp_kind=clamp_kind,
                        conv=kind == "conv",
                    )
                )
            elif kind == "down":
                layers.append(Downsample())
                shape = (4 * shape[0], shape[1] // 2, shape[2] // 2)
            elif kind == "flatten":
                layers.append(Flatten(shape))
                shape = (shape[0] * shape[1] * shape[2],)
            else:
                raise ValueError(f"unknown block kind {kind!r}; expected 'fc', 'conv', 'down' or 'flatten'")
        net = InvertibleSequential(layers, input_shape, latent_shape=shape)
    _init_weights(net, generator, zero_init_last)
    net.config = {
        "architecture": "coupling_flow",
        "blocks": [[kind, dict(options)] for kind, options in blocks],
        "input_shape": list(input_shape),
        "volume_preserving": bool(volume_preserving),
        "zero_init_last": bool(zero_init_last),
        "seed": int(seed),
        "clamp": float(clamp),
        "clamp_kind": clamp_kind,
    }
    return net


def artificial_gin(
    volume_preserving: bool = True, seed: int = 0, zero_init_last: bool = True, **kwargs
) -> InvertibleSequential:
    """The network of Table 2: 8 fully connected coupling blocks on 10 dimensions, subnets 5->10->10->10.

    Arguments:
        volume_preserving: GIN (true) or the GLOW-style ablation (false).
        seed: seed of permutations and weights.
        zero_init_last: start as a permutation (true, for training) or as a random map.

    Returns:
        A network with 4,480 learnable parameters.

    References:
        Sorrenson et al. (2020), Table 2.
    """
    blocks = [("fc", {"hidden": 10})] * 8
    net = coupling_flow(blocks, (10,), volume_preserving, zero_init_last, seed, **kwargs)
    net.config = {
        "architecture": "artificial_gin",
        "volume_preserving": bool(volume_preserving),
        "seed": int(seed),
        "zero_init_last": bool(zero_init_last),
        **kwargs,
    }
    return net


def emnist_gin(volume_preserving: bool = True, seed: int = 0, **kwargs) -> InvertibleSequential:
    """The network of Table 3 for 28x28 images.

    Downsample, 4 conv blocks (2->16->16->4), downsample, 4 conv blocks (8->32->32->16),
    flatten, 2 fully connected blocks (392->392->392->784).

    Arguments:
        volume_preserving: GIN (true) or the GLOW-style ablation (false).
        seed: seed of permutations and weights.

    Returns:
        A network with 2,620,192 learnable parameters mapping ``(B, 1, 28, 28)`` to ``(B, 784)``.

    References:
        Sorrenson et al. (2020), Table 3.
    """
    blocks = (
        [("down", {})]
        + [("conv", {"hidden": 16})] * 4
        + [("down", {})]
        + [("conv", {"hidden": 32})] * 4
        + [("flatten", {})]
        + [("fc", {"hidden": 392})] * 2
    )
    net = coupling_flow(blocks, (1, 28, 28), volume_preserving, True, seed, **kwargs)
    net.config = {
        "architecture": "emnist_gin",
        "volume_preserving": bool(volume_preserving),
        "seed": int(seed),
        **kwargs,
    }
    return net


ARCHITECTURES = {"artificial_gin": artificial_gin, "emnist_gin": emnist_gin, "coupling_flow": coupling_flow}


def build_network(config: dict) -> InvertibleSequential:
    """Rebuild a network from its ``config`` (the constructor settings every network records).

    Arguments:
        config: ``net.config`` of a network built by :func:`artificial_gin`, :func:`emnist_gin`
            or :func:`coupling_flow`, as stored in checkpoints and weight files.

    Returns:
        A freshly initialised network of the same architecture and settings.
    """
    if not isinstance(config, dict) or config.get("architecture") not in ARCHITECTURES:
        raise ValueError(
            f"not a network configuration: expected a dict with 'architecture' in {sorted(ARCHITECTURES)}, got {config!r}"
        )
    kwargs = {k: v for k, v in config.items() if k != "architecture"}
    if config["architecture"] == "coupling_flow":
        kwargs["blocks"] = [(kind, dict(options)) for kind, options in kwargs["blocks"]]
        kwargs["input_shape"] = tuple(kwargs["input_shape"])
    return ARCHITECTURES[config["architecture"]](**kwargs)
