"""The convolutional LSTM cell (Shi et al. 2015): an LSTM whose input-to-state and state-to-state maps are
convolutions, so the state keeps the frame's spatial layout. No peephole terms (as OpenSTL's cell); the forget
gate's bias starts at 1 so the cell remembers by default."""

from __future__ import annotations

import torch
import torch.nn as nn


class ConvLSTMCell(nn.Module):
    """One cell: ``(x, (h, c)) -> (h, c)`` for inputs (N, cin, H, W) and states (N, hidden, H, W)."""

    def __init__(self, cin: int, hidden: int, kernel: int = 3) -> None:
        super().__init__()
        self.hidden = hidden
        self.gates = nn.Conv2d(cin + hidden, 4 * hidden, kernel, padding=kernel // 2)
        with torch.no_grad():
            self.gates.bias.zero_()
            self.gates.bias[hidden:2 * hidden] = 1.0  # the forget gate

    def initial(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        zeros = x.new_zeros(x.shape[0], self.hidden, *x.shape[2:])
        return zeros, zeros

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = state
        i, f, g, o = self.gates(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
