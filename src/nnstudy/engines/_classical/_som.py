"""Self-organising map (MiniSom): training in train.epochs chunks of the iterations, clustering scored by
NMI (each neuron is a cluster), classification by each neuron's majority training label."""

from __future__ import annotations

import time
import warnings

import numpy as np

from ...data._dataset import Dataset
from ...spec import Trial
from .._result import OnEpoch, TrialResult
from ._metrics import Snapshot, classifier_artifacts, epoch_log, npz, splits


def train_trial(trial: Trial, data: Dataset, on_epoch: OnEpoch, device: str = "cpu") -> TrialResult:
    from minisom import MiniSom

    mc, tc = trial.config["model"], trial.config["train"]
    rows, cols = mc["grid"]
    x = data.x_train.astype(np.float64)
    with warnings.catch_warnings():  # a bubble or triangle of radius 1.5 is well defined: no warning per trial
        warnings.filterwarnings("ignore", message="sigma should be an integer", category=UserWarning)
        som = MiniSom(rows, cols, x.shape[1], sigma=mc["sigma"], learning_rate=mc["learning_rate"],
                      neighborhood_function=mc["neighborhood"], random_seed=trial.seed)
    som.random_weights_init(x)
    order = np.arange(mc["iterations"]) % len(x)  # MiniSom.train(x, iterations, random_order=True)'s order,
    som._random_generator.shuffle(order)  # drawn as it draws it: the same map as that call, in epochs
    total, epochs = mc["iterations"], min(tc["epochs"], mc["iterations"])
    bounds = np.linspace(0, total, epochs + 1).round().astype(int)
    log, holder, train_time = epoch_log(trial, on_epoch), {"model": som}, 0.0
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        for t in range(bounds[epoch - 1], bounds[epoch]):
            sample = x[order[t]]
            som.update(sample, som.winner(sample), t, total)
        train_time += time.perf_counter() - t0
        if log.record(epoch, metrics(som, data), train_time, Snapshot(holder)):
            break
    return log.result(Snapshot(holder), train_time, lambda: artifacts(som, data))


def winners(som, x: np.ndarray) -> np.ndarray:
    """(n,) flat index of each sample's best-matching neuron."""
    return som._distance_from_weights(np.asarray(x, np.float64)).argmin(1)


def neuron_labels(som, data: Dataset, win_train: np.ndarray | None = None) -> np.ndarray:
    """(neurons,) majority training label per neuron; -1 where no training sample lands (``win_train``: the
    training samples' winners, when already found)."""
    n_neurons, k = som.get_weights().shape[0] * som.get_weights().shape[1], len(data.classes)
    counts = np.zeros((n_neurons, k), np.int64)
    np.add.at(counts, (winners(som, data.x_train) if win_train is None else win_train, data.y_train), 1)
    return np.where(counts.sum(1) > 0, counts.argmax(1), -1)


def dead_units(som, x: np.ndarray, win: np.ndarray | None = None) -> int:
    """Neurons that win no sample of ``x`` (``win``: its winners, when already found): units the map spends
    on no data."""
    n_neurons = som.get_weights().shape[0] * som.get_weights().shape[1]
    return int(n_neurons - len(np.unique(winners(som, x) if win is None else win)))


def predict(labels: np.ndarray, win: np.ndarray, data: Dataset) -> np.ndarray:
    """(n,) class of each sample: the majority label of its best-matching neuron ``win`` (a neuron no training
    sample landed on answers the most frequent training class)."""
    fallback = np.bincount(data.y_train, minlength=len(data.classes)).argmax()
    return np.where(labels[win] >= 0, labels[win], fallback)


def metrics(som, data: Dataset) -> dict[str, float]:
    from sklearn.metrics import normalized_mutual_info_score

    win_train = winners(som, data.x_train)  # once per epoch: the labels, the dead units and the train split
    labels = neuron_labels(som, data, win_train)
    out: dict[str, float] = {"dead_units": float(dead_units(som, data.x_train, win_train))}
    for name, x, y in splits(data):
        x = x.astype(np.float64)
        win = win_train if name == "train" else winners(som, x)
        pred = predict(labels, win, data)
        out[f"{name}_loss"] = float(som.quantization_error(x))
        out[f"{name}_accuracy"] = float((pred == y).mean())
        out[f"{name}_nmi"] = float(normalized_mutual_info_score(y, win))
        out[f"{name}_topographic_error"] = float(som.topographic_error(x)) if labels.size > 1 else 0.0
    return out


def artifacts(som, data: Dataset) -> dict[str, bytes]:
    """predictions.npz (each test sample's class: its neuron's label) and som.npz: U-matrix, training hits per
    class, each neuron's label (-1 = no hit), the prototypes (rows, cols, inputs) and the training inputs and
    labels (at most MAX_POINTS), for the input-plane figure."""
    rows, cols = som.get_weights().shape[:2]
    k = len(data.classes)
    hits = np.zeros((k, rows * cols), np.int64)
    win_train = winners(som, data.x_train)
    np.add.at(hits, (data.y_train, win_train), 1)
    shown = np.random.default_rng(0).permutation(len(data.x_train))[:MAX_POINTS]
    labels = neuron_labels(som, data, win_train)
    out = classifier_artifacts(predict(labels, winners(som, data.x_test), data), data) if len(data.x_test) else {}
    return out | {"som.npz": npz(umatrix=som.distance_map(), hits=hits.reshape(k, rows, cols),
                                 labels=labels.reshape(rows, cols), classes=np.array(data.classes),
                                 prototypes=som.get_weights(), x=data.x_train[np.sort(shown)].astype(np.float32),
                                 y=data.y_train[np.sort(shown)])}


MAX_POINTS = 2000  # training samples kept for the figure of the prototypes over the data
