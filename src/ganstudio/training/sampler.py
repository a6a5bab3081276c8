"""Seeded, resumable batches of dataset indices (the dataset lives in one tensor; we index it).

Each epoch is a fresh permutation drawn from the sampler's own CPU generator. The state
(epoch, position, current permutation, generator state) is checkpointed, so a resumed run sees
exactly the batches the uninterrupted run would have seen. Incomplete last batches are dropped
(static shapes are faster and keep D's batch statistics comparable).

For data-parallel training every rank holds the same global permutation and takes its own
contiguous slice of each global batch, so the state is world-size independent.
"""

from __future__ import annotations

import torch


class BatchSampler:
    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        if n < batch_size * world:
            raise ValueError(f"dataset has {n} images, fewer than one batch of {batch_size * world}")
        self.n, self.batch_size, self.rank, self.world = n, batch_size, rank, world
        self.global_batch = batch_size * world
        self.gen = torch.Generator().manual_seed(seed)
        self.epoch, self.pos = 0, 0
        self.perm = torch.randperm(n, generator=self.gen)

    @property
    def steps_per_epoch(self) -> int:
        return self.n // self.global_batch

    def next(self) -> torch.Tensor:
        """Indices (batch_size,) of this rank's next batch."""
        if self.pos + self.global_batch > self.n:
            self.epoch += 1
            self.pos = 0
            self.perm = torch.randperm(self.n, generator=self.gen)
        start = self.pos + self.rank * self.batch_size
        idx = self.perm[start : start + self.batch_size]
        self.pos += self.global_batch
        return idx

    @property
    def epoch_progress(self) -> float:
        return self.epoch + self.pos / (self.steps_per_epoch * self.global_batch)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {"perm": self.perm, "gen": self.gen.get_state()}

    def state_json(self) -> dict:
        return {"epoch": self.epoch, "pos": self.pos, "n": self.n}

    def load_state(self, tensors: dict[str, torch.Tensor], js: dict) -> None:
        if js["n"] != self.n:
            raise ValueError(f"checkpoint was taken on {js['n']} images, dataset now has {self.n}")
        self.perm = tensors["perm"].clone()
        self.gen.set_state(tensors["gen"].clone())
        self.epoch, self.pos = js["epoch"], js["pos"]
