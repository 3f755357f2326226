r"""Affine coupling blocks, GIN (volume preserving) and GLOW-style, and their soft clamp.

A block maps data to latent in ``forward`` and returns ``(y, log_det)``; ``inverse`` maps back.
Like every transform of :mod:`gin_core.flows`, it declares ``volume_preserving``.

References:
    Sorrenson et al. (2020), §4.1 (eqs. 5-6) and Appendix D.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

__all__ = ["AffineCoupling", "soft_clamp", "SOFT_CLAMPS"]

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
        self.volume_preserving = bool(volume_preserving)
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
