r"""Invertible building blocks: affine couplings (GIN and GLOW-style), permutations,
checkerboard downsampling, flattening, and their composition.

Every transform maps data to latent in ``forward`` and returns ``(y, log_det)`` where
``log_det`` holds the per-sample :math:`\log|\det J|`; ``inverse`` maps back.

References:
    Sorrenson et al. (2020), §4.1 (eqs. 5-6) and Appendix D.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from ._checks import check_finite as _finite

__all__ = [
    "AffineCoupling",
    "Permutation",
    "DiagonalScaling",
    "Downsample",
    "Flatten",
    "InvertibleSequential",
    "soft_clamp",
    "encode",
    "inversion_error",
]

SOFT_CLAMPS = ("tanh", "atan")


def soft_clamp(s: torch.Tensor, clamp: float, kind: str = "tanh") -> torch.Tensor:
    r"""Soft clamp of raw log-scales into :math:`(-\mathrm{clamp}, \mathrm{clamp})`.

    Arguments:
        s: raw log-scales from the coupling subnetwork.
        clamp: bound of the output.
        kind: ``"tanh"`` computes :math:`c \tanh(s)` (the paper's :math:`2\tanh(s)` with c = 2;
            FrEIA's ``clamp_activation="TANH"``); ``"atan"`` computes
            :math:`0.636\, c \arctan(s/c)`, the clamp of FrEIA before version 0.2 that the
            authors' code used. (FrEIA 0.2's default ``"ATAN"`` is :math:`0.636\, c \arctan(s)`,
            without the division by c.)

    Returns:
        The clamped log-scales, same shape as ``s``.

    References:
        Sorrenson et al. (2020), Appendix D.
    """
    if kind == "tanh":
        return clamp * torch.tanh(s)
    if kind == "atan":
        return clamp * 0.636 * torch.atan(s / clamp)
    raise ValueError(f"unknown soft clamp {kind!r}; expected one of {SOFT_CLAMPS}")


class AffineCoupling(nn.Module):
    r"""Two affine couplings (RealNVP style) over a split along dimension 1.

    The input (features for a fully connected block, channels for a convolutional one) is
    split into halves :math:`x_1` (first ``c // 2``) and :math:`x_2`. Then

    .. math::
        y_2 = x_2 \odot e^{s_1(x_1)} + t_1(x_1), \qquad
        y_1 = x_1 \odot e^{s_2(y_2)} + t_2(y_2),

    where each subnetwork outputs ``[s, t]`` jointly (as in GLOW) and ``s`` is soft-clamped.

    With ``volume_preserving=True`` (GIN) the mean of the log-scales over dimension 1 is
    subtracted, so that they sum to exactly zero and :math:`\det J = 1`. The paper sets the
    last component to minus the sum of the others; subtracting the mean gives the same
    constraint without singling out one dimension (whose scale could otherwise reach
    :math:`e^{\pm 2(c-1)}`), so every log-scale stays within twice the clamp. For a
    convolutional block the zero sum holds *per pixel* (over channels), as in the authors'
    code: each pixel's transform is then volume preserving on its own and the block stays
    translation-equivariant, whereas a per-sample sum would couple every pixel's scale to
    the whole image.

    Arguments:
        channels: size of dimension 1 of the input; even, and at least 4 for a GIN block
            (with halves of one dimension the zero-sum constraint forces every scale to 1).
        subnet: a factory ``subnet(c_in, c_out) -> nn.Module``.
        volume_preserving: GIN block if true, GLOW-style block with exact log-det if false.
        clamp: bound of the soft clamp (2 in the paper).
        clamp_kind: ``"tanh"`` (paper) or ``"atan"`` (FrEIA before 0.2, the authors' code).
        conv: whether the input is an image ``(B, C, H, W)`` rather than ``(B, C)``.

    References:
        Sorrenson et al. (2020), §4.1 eqs. (5)-(6) and Appendix D.
    """

    def __init__(
        self,
        channels: int,
        subnet: Callable[[int, int], nn.Module],
        volume_preserving: bool = True,
        clamp: float = 2.0,
        clamp_kind: str = "tanh",
        conv: bool = False,
    ):
        super().__init__()
        kind = "convolutional" if conv else "fully connected"
        minimum = 4 if volume_preserving else 2
        if not isinstance(channels, int) or channels % 2 or channels < minimum:
            raise ValueError(
                f"a {kind} {'GIN' if volume_preserving else 'GLOW-style'} coupling block needs an even "
                f"number of {'channels' if conv else 'dimensions'} >= {minimum}, got {channels}"
            )
        if clamp_kind not in SOFT_CLAMPS:
            raise ValueError(f"unknown soft clamp {clamp_kind!r}; expected one of {SOFT_CLAMPS}")
        self.channels = channels
        self.split = channels // 2
        self.volume_preserving = volume_preserving
        self.clamp = clamp
        self.clamp_kind = clamp_kind
        self.conv = conv
        self.subnet1 = subnet(self.split, 2 * (channels - self.split))  # acts on x1, moves x2
        self.subnet2 = subnet(channels - self.split, 2 * self.split)  # acts on y2, moves x1

    def extra_repr(self) -> str:
        kind = "conv" if self.conv else "fc"
        return f"{kind}, channels={self.channels}, volume_preserving={self.volume_preserving}, clamp={self.clamp}"

    def _check(self, x: torch.Tensor) -> None:
        ndim = 4 if self.conv else 2
        if x.dim() != ndim or x.shape[1] != self.channels:
            expected = "(batch, channels, height, width)" if self.conv else "(batch, features)"
            raise ValueError(
                f"coupling block expects a tensor of shape {expected} with {self.channels} at dim 1, "
                f"got shape {tuple(x.shape)}"
            )

    # A fully connected block computes in a (features, batch) layout: contiguous halves, and
    # subnets such as :class:`~gin_core.networks.MLP` then need no transposes. Convolutional
    # blocks keep (batch, channels, height, width). ``_dim`` is the split axis of that layout.

    @property
    def _dim(self) -> int:
        return 1 if self.conv else 0

    def _halves(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = x if self.conv else x.t().contiguous()
        return h.narrow(self._dim, 0, self.split), h.narrow(self._dim, self.split, self.channels - self.split)

    def _join(self, h1: torch.Tensor, h2: torch.Tensor) -> torch.Tensor:
        h = torch.cat([h1, h2], dim=self._dim)
        return h if self.conv else h.t()

    def _scale_shift(self, net: nn.Module, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = net(h) if self.conv else net(h.t()).t()
        s, t = out.chunk(2, dim=self._dim)
        s = soft_clamp(s, self.clamp, self.clamp_kind)
        if self.volume_preserving:
            s = s - s.mean(dim=self._dim, keepdim=True)
        return s, t

    def log_scales(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The log-scales ``(s1, s2)`` that ``forward`` applies to ``x``, laid out like ``x``'s halves (for inspection and tests)."""
        self._check(x)
        _, _, s1, s2 = self._couple(x)
        return (s1, s2) if self.conv else (s1.t(), s2.t())

    def _couple(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The two couplings: outputs ``(y1, y2)`` and log-scales ``(s1, s2)``, in the internal layout."""
        x1, x2 = self._halves(x)
        s1, t1 = self._scale_shift(self.subnet1, x1)
        y2 = torch.addcmul(t1, x2, torch.exp(s1))
        s2, t2 = self._scale_shift(self.subnet2, y2)
        y1 = torch.addcmul(t2, x1, torch.exp(s2))
        return y1, y2, s1, s2

    def _log_det(self, s1: torch.Tensor, s2: torch.Tensor, batch: int) -> torch.Tensor:
        if self.volume_preserving:  # exactly zero by construction; no round-off
            return s1.new_zeros(batch)
        if self.conv:
            return s1.flatten(1).sum(1) + s2.flatten(1).sum(1)
        return s1.sum(0) + s2.sum(0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self._check(x)
        y1, y2, s1, s2 = self._couple(x)
        return self._join(y1, y2), self._log_det(s1, s2, x.shape[0])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        self._check(y)
        y1, y2 = self._halves(y)
        s2, t2 = self._scale_shift(self.subnet2, y2)
        x1 = (y1 - t2) * torch.exp(-s2)
        s1, t1 = self._scale_shift(self.subnet1, x1)
        x2 = (y2 - t1) * torch.exp(-s1)
        return self._join(x1, x2)


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
        layers: transforms, each with ``forward(x) -> (y, log_det)`` and ``inverse(y) -> x``.
        input_shape: the per-sample shape of x (checked on every call).
        latent_shape: the per-sample shape of w (default: ``input_shape``).

    Returns:
        ``forward`` returns ``(w, log_det)`` with the per-sample :math:`\log|\det J_{g^{-1}}(x)|`.
    """

    def __init__(
        self, layers: list[nn.Module], input_shape: tuple[int, ...], latent_shape: tuple[int, ...] | None = None
    ):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.input_shape = tuple(input_shape)
        self.latent_shape = tuple(latent_shape) if latent_shape is not None else self.input_shape

    @property
    def volume_preserving(self) -> bool:
        return all(getattr(layer, "volume_preserving", True) for layer in self.layers)

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
