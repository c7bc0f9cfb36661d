"""DanceRevolution's curriculum: which frames of a training sequence feed back ground truth.

A training sequence alternates a ground-truth span of ``gt_span`` frames (the pose fed
back after each of these frames is the true one: teacher forcing) with a self-predicted
span (the network's own output is fed back). The self-predicted span starts at
``pred_start`` frames and grows by one frame every ``grow_every`` training steps up to
``pred_max``, so early training learns the easy one-step mapping and later training
learns to recover from its own mistakes over long spans: the cure for freezing and drift
in long dances.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Curriculum:
    gt_span: int = 10
    pred_start: int = 1
    pred_max: int = 40
    grow_every: int = 50

    def pred_span(self, step: int) -> int:
        """Length of the self-predicted span at training ``step``."""
        if self.grow_every <= 0:
            return self.pred_max
        return min(self.pred_max, self.pred_start + step // self.grow_every)

    def teacher_mask(self, step: int, seq_len: int) -> list[bool]:
        """``seq_len`` booleans: True where the pose fed back after that frame is ground truth."""
        pred = self.pred_span(step)
        mask: list[bool] = []
        while len(mask) < seq_len:
            mask += [True] * self.gt_span + [False] * pred
        return mask[:seq_len]
