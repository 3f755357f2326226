r"""Invertible transforms and their composition: permutations, scaling, checkerboard
downsampling, flattening, and :class:`InvertibleSequential`.

**The transform contract.** Every transform maps data to latent in ``forward`` and returns
``(y, log_det)`` where ``log_det`` holds the per-sample :math:`\log|\det J|`; ``inverse`` maps
back; and it declares ``volume_preserving`` (an attribute or property: ``True`` when its
log-determinant is zero for every input). :class:`InvertibleSequential` refuses a layer that
does not declare it, sums the layers' log-determinants (the one place they are summed), and is
volume preserving when every layer is. The coupling blocks are in :mod:`gin_core.couplings`.

References:
    Sorrenson et al. (2020), §4.1 (eqs. 5-6) and Appendix D.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._checks import check_finite as _finite

__all__ = [
    "declares_volume",
    "Permutation",
    "DiagonalScaling",
    "Downsample",
    "Flatten",
    "InvertibleSequential",
    "encode",
    "inversion_error",
]


def declares_volume(layer: nn.Module) -> bool:
    """Whether ``layer`` states if it preserves volume (the transform contract of this module).

    Arguments:
        layer: a transform.

    Returns:
        ``True`` if ``layer.volume_preserving`` exists and is a ``bool``.
    """
    return isinstance(getattr(layer, "volume_preserving", None), bool)


class Permutation(nn.Module):
    """A random but fixed permutation of dimension 1 (features or channels).

    The permutation is a buffer, so it is saved and restored with ``state_dict``. It is drawn
    from its own generator: building it never touches the global random state.

    Arguments:
        channels: size of dimension 1.
        seed: seed of the permutation's private generator.

    References:
        Sorrenson et al. (2020), Appendix D.
    """

    volume_preserving = True

    def __init__(self, channels: int, seed: int):
        super().__init__()
        generator = torch.Generator().manual_seed(int(seed))
        perm = torch.randperm(channels, generator=generator)
        self.register_buffer("perm", perm)
        self.register_buffer("inv_perm", torch.argsort(perm))

    def extra_repr(self) -> str:
        return f"channels={self.perm.numel()}"

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() < 2 or x.shape[1] != self.perm.numel():
            raise ValueError(f"permutation expects {self.perm.numel()} entries at dim 1, got shape {tuple(x.shape)}")
        return self._permute(x, self.perm), x.new_zeros(x.shape[0])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        if y.dim() < 2 or y.shape[1] != self.perm.numel():
            raise ValueError(
                f"inverse permutation expects {self.perm.numel()} entries at dim 1, got shape {tuple(y.shape)}"
            )
        return self._permute(y, self.inv_perm)

    @staticmethod
    def _permute(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        # Same values as x[:, index]. index_select's backward (an index_add) is far cheaper than
        # advanced indexing's (an accumulating index_put). A (batch, features) result is laid
        # out as (features, batch) in memory, the layout a fully connected coupling computes in.
        if x.dim() == 2:
            return x.t().index_select(0, index).t()
        return x.index_select(1, index)


class DiagonalScaling(nn.Module):
    r"""A fixed per-feature rescaling :math:`y_i = a_i x_i` with :math:`a_i = e^{s_i}`.

    Its log-determinant is :math:`\sum_i s_i` for every sample; with :math:`\sum_i s_i = 0`
    (scales with product 1) it preserves volume, and composed with a GIN it gives a network
    with exactly the same loss (eq. 7 with batch statistics) but another split of the
    variance among the latent variables (the book's theory of dimension discovery).

    Arguments:
        log_scale: the log-scales :math:`s`, ``(features,)``; stored as a buffer (not trained).

    References:
        Sorrenson et al. (2020), §3.2 (volume preservation).
    """

    def __init__(self, log_scale: torch.Tensor):
        super().__init__()
        log_scale = torch.as_tensor(log_scale)
        if log_scale.dim() != 1 or not log_scale.is_floating_point():
            raise ValueError(f"log_scale must be a 1-d floating tensor, got shape {tuple(log_scale.shape)}")
        _finite(log_scale, "log_scale")
        self.register_buffer("log_scale", log_scale.clone())

    @property
    def volume_preserving(self) -> bool:
        return bool(abs(float(self.log_scale.double().sum())) < 1e-6)

    def extra_repr(self) -> str:
        return f"features={self.log_scale.numel()}"

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 2 or x.shape[1] != self.log_scale.numel():
            raise ValueError(f"expected shape (batch, {self.log_scale.numel()}), got {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self._check(x)
        s = self.log_scale.to(x.dtype)
        return x * s.exp(), s.sum().expand(x.shape[0])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        self._check(y)
        return y * (-self.log_scale.to(y.dtype)).exp()


class Downsample(nn.Module):
    """Checkerboard (i-RevNet) downsampling: ``(C, H, W) -> (4C, H/2, W/2)``.

    Each 2x2 patch of a channel becomes four channels at one pixel; output channel
    ``4c + 2i + j`` holds input channel ``c`` at rows ``i::2`` and columns ``j::2``. A pure
    rearrangement: volume preserving, ``log_det = 0``.

    References:
        Jacobsen et al. (2018); Sorrenson et al. (2020), Appendix D.
    """

    volume_preserving = True

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 4 or x.shape[2] % 2 or x.shape[3] % 2:
            raise ValueError(
                f"downsampling expects (batch, channels, height, width) with even height and width, got {tuple(x.shape)}"
            )
        b, c, h, w = x.shape
        y = x.reshape(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
        return y.reshape(b, 4 * c, h // 2, w // 2), x.new_zeros(b)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        if y.dim() != 4 or y.shape[1] % 4:
            raise ValueError(f"inverse downsampling expects (batch, 4*channels, h, w), got {tuple(y.shape)}")
        b, c4, h, w = y.shape
        x = y.reshape(b, c4 // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
        return x.reshape(b, c4 // 4, 2 * h, 2 * w)


class Flatten(nn.Module):
    """Flattening ``(C, H, W) -> C*H*W`` and back.

    Arguments:
        shape: the per-sample input shape ``(C, H, W)``.
    """

    volume_preserving = True

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.shape = tuple(shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if tuple(x.shape[1:]) != self.shape:
            raise ValueError(f"flatten expects per-sample shape {self.shape}, got {tuple(x.shape[1:])}")
        return x.reshape(x.shape[0], -1), x.new_zeros(x.shape[0])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        if y.dim() != 2 or y.shape[1] != math.prod(self.shape):
            raise ValueError(f"inverse flatten expects (batch, {math.prod(self.shape)}), got {tuple(y.shape)}")
        return y.reshape(y.shape[0], *self.shape)


class InvertibleSequential(nn.Module):
    r"""A chain of invertible transforms: :math:`w = g^{-1}(x)` in ``forward``, :math:`x = g(w)` in ``inverse``.

    Arguments:
        layers: transforms, each with ``forward(x) -> (y, log_det)``, ``inverse(y) -> x`` and a
            ``volume_preserving`` declaration (see the module's contract).
        input_shape: the per-sample shape of x (checked on every call).
        latent_shape: the per-sample shape of w (default: ``input_shape``).

    Returns:
        ``forward`` returns ``(w, log_det)`` with the per-sample :math:`\log|\det J_{g^{-1}}(x)|`.

    Raises:
        TypeError: a layer does not declare ``volume_preserving``.
    """

    def __init__(
        self, layers: list[nn.Module], input_shape: tuple[int, ...], latent_shape: tuple[int, ...] | None = None
    ):
        super().__init__()
        undeclared = [f"{i} ({type(layer).__name__})" for i, layer in enumerate(layers) if not declares_volume(layer)]
        if undeclared:
            raise TypeError(
                f"layers {', '.join(undeclared)} do not declare volume_preserving (True or False); every transform "
                "must, so that the flow knows whether its log-determinant enters the loss"
            )
        self.layers = nn.ModuleList(layers)
        self.input_shape = tuple(input_shape)
        self.latent_shape = tuple(latent_shape) if latent_shape is not None else self.input_shape

    @property
    def volume_preserving(self) -> bool:
        return all(layer.volume_preserving for layer in self.layers)

    def _check(self, x: torch.Tensor, shape: tuple[int, ...], name: str, finite: bool = True) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"{name} must be a floating point tensor, got dtype {x.dtype}")
        if x.dim() != len(shape) + 1 or tuple(x.shape[1:]) != shape:
            raise ValueError(f"{name} must have shape (batch, {', '.join(map(str, shape))}), got {tuple(x.shape)}")
        if finite:
            _finite(x, name)
        elif x.shape[0] == 0:
            raise ValueError(f"{name} is an empty batch (shape {tuple(x.shape)}); expected at least one sample")

    def forward(self, x: torch.Tensor, check_finite: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Map data to latent: ``w, log_det = net(x)``.

        Arguments:
            x: a batch of data, ``(batch, *input_shape)``; its type, shape and emptiness are
                always checked.
            check_finite: also check that ``x`` holds no NaN or infinite value (a pass over the
                data; :func:`gin_core.training.train` checks its data once and skips it per step).
        """
        self._check(x, self.input_shape, "x", check_finite)
        log_det = x.new_zeros(x.shape[0])
        for layer in self.layers:
            x, ld = layer(x)
            log_det = log_det + ld
        return x.contiguous(), log_det

    def inverse(self, w: torch.Tensor) -> torch.Tensor:
        self._check(w, self.latent_shape, "w")
        for layer in reversed(self.layers):
            w = layer.inverse(w)
        return w.contiguous()


def _batches(net: nn.Module, x: torch.Tensor, batch_size: int, noise: float = 0.0, seed: int = 0):
    """``x`` in batches on the network's device and dtype, with optional Gaussian noise drawn on the CPU."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    param = next(net.parameters())
    generator = torch.Generator().manual_seed(int(seed))
    for i in range(0, x.shape[0], batch_size):
        xb = x[i : i + batch_size]
        if noise > 0:
            xb = xb + noise * torch.randn(xb.shape, generator=generator, dtype=xb.dtype)
        yield xb.to(param.device, param.dtype)


@torch.no_grad()
def encode(
    net: nn.Module,
    x: torch.Tensor,
    batch_size: int = 1000,
    noise: float = 0.0,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Map data to flat latent codes in evaluation mode, batch by batch.

    Arguments:
        net: a flow, ``w, log_det = net(x)``.
        x: data ``(N, ...)``.
        batch_size: samples per forward pass.
        noise: standard deviation of Gaussian noise added to ``x`` first (the training
            augmentation; 0 for none), drawn batch by batch on the CPU from a private generator
            seeded by ``seed``: the same seed and batch size give the same codes on any device.
        seed: seed of the noise.

    Returns:
        ``(w, log_det)`` on the CPU: codes ``(N, d)`` and per-sample ``log|det J|`` ``(N,)``.
    """
    net.eval()
    ws, log_dets = [], []
    for xb in _batches(net, x, batch_size, noise, seed):
        w, log_det = net(xb)
        ws.append(w.flatten(1).cpu())
        log_dets.append(log_det.cpu())
    return torch.cat(ws), torch.cat(log_dets)


@torch.no_grad()
def inversion_error(net: nn.Module, x: torch.Tensor, batch_size: int = 500) -> float:
    """Largest ``|g(g^{-1}(x)) - x|`` over ``x``, in evaluation mode (0 for an exact inverse)."""
    net.eval()
    worst = 0.0
    for xb in _batches(net, x, batch_size):
        w, _ = net(xb)
        worst = max(worst, (net.inverse(w) - xb).abs().max().item())
    return worst
