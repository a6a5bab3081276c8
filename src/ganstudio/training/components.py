"""Optional pieces of training state, each a checkpointable component of the Trainer.

A component has ``state_tensors() -> dict``, ``state_json() -> dict`` and ``load_state(tensors, js)``;
registering it in ``trainer.stateful`` is all it takes for checkpoints and resume to carry it.
"""

from __future__ import annotations

import copy

import torch

from ..augment import ada_adjust, diff_augment


class EMA:
    """An exponential moving average of G's weights, used for sampling, evaluation and export.

    The effective decay ramps up from 0 (min(beta, (1+n)/(10+n))) so early samples are not a blur
    of the random initialisation.
    """

    def __init__(self, G: torch.nn.Module, beta: float):
        self.module = copy.deepcopy(G).eval().requires_grad_(False)
        self.source, self.beta = G, beta
        self.updates = 0
        self._dst: list[torch.Tensor] = list(self.module.parameters())
        self._src: list[torch.Tensor] = list(G.parameters())

    @torch.no_grad()
    def update(self) -> None:
        self.updates += 1
        beta = min(self.beta, (1 + self.updates) / (10 + self.updates))
        torch._foreach_lerp_(self._dst, self._src, 1 - beta)
        for b_dst, b_src in zip(self.module.buffers(), self.source.buffers()):
            b_dst.copy_(b_src)  # BatchNorm running statistics follow G

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return dict(self.module.state_dict())

    def state_json(self) -> dict:
        return {"updates": self.updates}

    def load_state(self, tensors: dict[str, torch.Tensor], js: dict) -> None:
        self.module.load_state_dict(tensors)
        self.updates = js.get("updates", 0)


class Augmenter:
    """DiffAugment with a fixed or adaptive probability p, and its own RNG (checkpointed)."""

    def __init__(
        self,
        policy: tuple[str, ...],
        p: float,
        ada: bool,
        target: float,
        speed_images: int,
        interval: int,
        batch_size: int,
        device: torch.device,
        seed: int,
        flip_real: bool,
    ):
        self.policy, self.ada, self.target, self.interval = tuple(policy), ada, target, interval
        self.speed_images, self.batch_size = speed_images, batch_size
        self.p = torch.tensor(0.0 if ada else p, device=device)
        self.gen = torch.Generator(device=device).manual_seed(seed + 2)
        self.rt_sum = torch.zeros((), device=device)
        self.rt_n = 0
        self.flip_real = flip_real
        self.half = torch.tensor(0.5, device=device)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return diff_augment(x, self.policy, self.p, self.gen) if self.policy else x

    def flip(self, x: torch.Tensor) -> torch.Tensor:
        return diff_augment(x, ("flip",), self.half, self.gen) if self.flip_real else x

    def observe(self, real_logits: torch.Tensor) -> None:
        """Accumulate D's overfitting signal; adjust p every ``interval`` observations (no host sync)."""
        if not self.ada:
            return
        self.rt_sum += torch.sign(real_logits.detach()).mean()
        self.rt_n += 1
        if self.rt_n >= self.interval:
            self.p = ada_adjust(
                self.p, self.rt_sum / self.rt_n, self.target, self.batch_size * self.rt_n, self.speed_images
            )
            self.rt_sum.zero_()
            self.rt_n = 0

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {"p": self.p, "gen": self.gen.get_state(), "rt_sum": self.rt_sum}

    def state_json(self) -> dict:
        return {"rt_n": self.rt_n}

    def load_state(self, tensors: dict[str, torch.Tensor], js: dict) -> None:
        self.p = tensors["p"].to(self.p.device)
        self.gen.set_state(tensors["gen"].cpu())
        self.rt_sum = tensors["rt_sum"].to(self.p.device)
        self.rt_n = js.get("rt_n", 0)


class LeCamAnchors:
    """LeCam regularisation's two anchors: moving averages of D's mean logit on real pictures and on fakes
    (decay ``decay`` per D update, from 0, on the device: updating them never syncs with the host)."""

    def __init__(self, decay: float, device: torch.device):
        self.decay = decay
        self.real = torch.zeros((), device=device)
        self.fake = torch.zeros((), device=device)

    @torch.no_grad()
    def update(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> None:
        self.real.lerp_(real_logits.detach().float().mean(), 1 - self.decay)
        self.fake.lerp_(fake_logits.detach().float().mean(), 1 - self.decay)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {"real": self.real, "fake": self.fake}

    def state_json(self) -> dict:
        return {}

    def load_state(self, tensors: dict[str, torch.Tensor], js: dict) -> None:
        self.real = tensors["real"].to(self.real.device)
        self.fake = tensors["fake"].to(self.fake.device)
