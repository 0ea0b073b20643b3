"""Shared training helpers: determinism, optimiser, learning-rate schedule."""

import math
import os
import random
import sys
import time

import numpy as np
import torch

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.path.abspath(os.path.join(REPO_ROOT, "..", "shared"))
MODELS_DIR = os.path.join(REPO_ROOT, "models")


def seed_everything(seed, threads=2):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


def make_optimizer(model, lr, weight_decay):
    """AdamW; weight decay only on matrices (not on norms), as in llama2.c."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=lr, betas=(0.9, 0.95), eps=1e-8)


def lr_at(step, total, peak, warmup, floor_frac=0.1):
    """Linear warmup then cosine decay to floor_frac * peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return peak * (floor_frac + (1 - floor_frac) * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


class Timer:
    """Wall time and this process's CPU time. On a shared machine the CPU time (one
    torch thread) is what the run would take on an idle core."""

    def __init__(self):
        self.t0 = time.time()
        self.c0 = time.process_time()

    def elapsed(self):
        return time.time() - self.t0

    def cpu(self):
        return time.process_time() - self.c0


def log(*a):
    print(*a, flush=True)
    sys.stdout.flush()
