"""RBM: own contrastive divergence (CD-k) next to scikit-learn's BernoulliRBM, on binarized inputs.

History per epoch: pseudo-log-likelihood of every split (own) and of the test split (scikit-learn's).
Artifacts: samples after several Gibbs-step counts, inpainting of the hidden bottom rows, filters.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ...data._dataset import Dataset
from ...spec import Trial
from .._result import OnEpoch, TrialResult
from ._boltzmann import RBM, few_threads, seeded_start, gibbs_samples, inpaint, pseudo_ll
from ._metrics import Snapshot, epoch_log, npz

N_SHOWN = 16
MAX_FILTERS = 64
INPAINT_STEPS = 200


def image_shape(data: Dataset) -> tuple[int, int] | None:
    """(rows, columns) when the inputs are one-channel images, else None."""
    shape = tuple(s for s in data.input_shape if s != 1)
    return shape if len(shape) == 2 else None  # type: ignore[return-value]


def sample_steps(gibbs_steps: int) -> list[int]:
    return sorted({s for s in (1, 10, 100, gibbs_steps) if s <= gibbs_steps})


def train_trial(trial: Trial, data: Dataset, on_epoch: OnEpoch, device: str = "cpu") -> TrialResult:
    with few_threads(torch.device(device)):
        return _train(trial, data, on_epoch, device)


def _train(trial: Trial, data: Dataset, on_epoch: OnEpoch, device: str) -> TrialResult:
    mc, tc = trial.config["model"], trial.config["train"]
    dev, gen, x, batch = seeded_start(trial, data, device)
    n = len(x["train"])
    rbm = RBM(x["train"].shape[1], mc["hidden"], x["train"].mean(0), gen)
    theirs = _sklearn_rbm(mc, tc, trial.seed, batch) if mc["sklearn"] else None
    x_np = x["train"].cpu().numpy()
    order = np.random.default_rng(trial.seed)
    log, train_time = epoch_log(trial, on_epoch), 0.0
    for epoch in range(1, tc["epochs"] + 1):
        t0 = time.perf_counter()
        rbm.epoch(x["train"], batch, mc["k"], tc["lr"])
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        train_time += time.perf_counter() - t0
        metrics = {}
        for name, v in x.items():
            if len(v):
                metrics[f"{name}_pll"] = pseudo_ll(v, rbm.W, rbm.b, rbm.c)
                metrics[f"{name}_loss"] = -metrics[f"{name}_pll"]
        if theirs is not None:
            perm = order.permutation(n)
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # weights that overflow give NaN:
                for start in range(0, n, batch):  # a diverged trial, said once, not numpy's warning at each step
                    theirs.partial_fit(x_np[perm[start:start + batch]])
                metrics["sklearn_test_pll"] = pseudo_ll(x["test"], *_params(theirs, dev))
        if log.record(epoch, metrics, train_time, Snapshot({"model": None})):
            break
    return log.result(Snapshot({"model": None}), train_time,
                      lambda: artifacts(rbm, theirs, x, data, mc, gen, dev))


def _sklearn_rbm(mc: dict, tc: dict, seed: int, batch: int):
    from sklearn.neural_network import BernoulliRBM

    return BernoulliRBM(n_components=mc["hidden"], learning_rate=tc["lr"], batch_size=batch, random_state=seed)


def _params(model, dev) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """scikit-learn's RBM as (W (visible, hidden), b, c)."""
    f = lambda a: torch.as_tensor(np.asarray(a, np.float32), device=dev)  # noqa: E731
    return f(model.components_.T), f(model.intercept_visible_), f(model.intercept_hidden_)


def inpaint_mask(shape: tuple[int, int], side: str, count: int) -> tuple[np.ndarray, int]:
    """(True where a pixel is hidden, (h, w); the rows or columns hidden): ``count`` rows at the top or bottom,
    or columns at the left or right (0: half of them)."""
    along = shape[0] if side in ("top", "bottom") else shape[1]
    n = min(count or along // 2, along)
    mask = np.zeros(shape, bool)
    if side == "top":
        mask[:n] = True
    elif side == "bottom":
        mask[shape[0] - n:] = True
    elif side == "left":
        mask[:, :n] = True
    else:
        mask[:, shape[1] - n:] = True
    return mask, n


def artifacts(rbm: RBM, theirs, x: dict, data: Dataset, mc: dict, gen, dev) -> dict[str, bytes]:
    shape = image_shape(data)
    if shape is None:
        return {}
    steps = sample_steps(mc["gibbs_steps"])
    arrays = {"steps": np.array(steps),
              "own": gibbs_samples(rbm.W, rbm.b, rbm.c, N_SHOWN, steps, gen).reshape(len(steps), N_SHOWN, *shape)}
    if theirs is not None:
        arrays["sklearn"] = gibbs_samples(*_params(theirs, dev), N_SHOWN, steps, gen).reshape(
            len(steps), N_SHOWN, *shape)
    out = {"rbm_samples.npz": npz(**arrays)}
    side = mc.get("inpaint_side", "bottom")
    hidden_np, rows = inpaint_mask(shape, side, mc["inpaint_rows"])
    hidden = torch.as_tensor(hidden_np, device=dev).flatten()
    originals = (x["test"] if len(x["test"]) else x["train"])[:N_SHOWN // 2]
    filled = inpaint(rbm.W, rbm.b, rbm.c, originals, hidden, INPAINT_STEPS, gen)
    masked = torch.where(hidden, torch.full_like(originals, 0.5), originals).cpu().numpy()
    out["rbm_inpainting.npz"] = npz(original=originals.cpu().numpy().reshape(-1, *shape),
                                    masked=masked.reshape(-1, *shape), filled=filled.reshape(-1, *shape),
                                    rows=np.array(rows), side=np.array(side))
    w = rbm.W.T[:MAX_FILTERS].cpu().numpy()
    out["rbm_filters.npz"] = npz(w=w.reshape(len(w), *shape), total=np.array(rbm.W.shape[1]))
    return out
