"""A stack of layers, built from a ``[model]`` section in the same order as the torch engine's MLP:
(Linear -> [norm] -> activation -> [dropout]) per hidden layer, then the output Linear."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._activations import Activation
from ._layers import Dropout, Layer, Linear
from ._norm import BatchNorm, LayerNorm


class Network:
    def __init__(self, layers: list[Layer], linear_names: list[str]):
        self.layers, self.linear_names = layers, linear_names
        self.params = [p for layer in layers for p in layer.params]  # torch's order (Linear weights transposed)
        self.grads = [g for layer in layers for g in layer.grads]
        self.buffers = [b for layer in layers for b in layer.buffers]
        self.param_names = _param_names(layers, linear_names)

    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x, train)
        return x

    def backward(self, dy: np.ndarray) -> None:
        for layer in reversed(self.layers):
            dy = layer.backward(dy)

    def linears(self) -> list[Linear]:
        """Every Linear, those inside composite layers (attention, encoder blocks) included."""
        return [lin for layer in self.layers for lin in _inner(layer) if isinstance(lin, Linear)]

    def dropouts(self) -> list[Dropout]:
        return [d for layer in self.layers for d in _inner(layer) if isinstance(d, Dropout)]

    def state_dict(self) -> dict[str, list[np.ndarray]]:
        return {"params": self.params, "buffers": self.buffers}

    def load_state_dict(self, state: dict[str, list[np.ndarray]]) -> None:
        for dst, src in zip(self.params + self.buffers, state["params"] + state["buffers"]):
            np.copyto(dst, src)  # in place: the optimizer keeps its references


def build_network(mc: dict[str, Any], n_in: int, n_out: int, dtype, init: np.random.Generator,
                  dropout: np.random.Generator, zero_perceptron: bool = True,
                  input_shape: tuple[int, ...] = ()) -> Network:
    """The network of a ``[model]`` section, built by its kind (``zero_perceptron`` False: gradient checks
    draw weights even where the kind starts from fixed ones). A builder that takes ``input_shape`` (the
    ViT's patches need the image's) gets the data's sample shape; inputs reach the network flat."""
    import inspect

    from ...kinds import of

    build = of(mc).build["numpy"]
    if "input_shape" in inspect.signature(build).parameters:
        return build(mc, n_in, n_out, dtype, init, dropout, zero_perceptron, input_shape=tuple(input_shape))
    return build(mc, n_in, n_out, dtype, init, dropout, zero_perceptron)


def mlp_network(n_in: int, hidden: list[int], n_out: int, activation: str, dropout_rate: float, norm: str,
                dtype, init: np.random.Generator | None, dropout: np.random.Generator | None,
                zero_output: bool = False) -> Network:
    """(Linear -> [norm] -> activation -> [dropout]) per hidden layer, then the output layer; freshly drawn
    weights (``zero_output``: the output layer starts at zero)."""
    layers: list[Layer] = []
    width = n_in
    for h in hidden:
        layers.append(Linear(width, h, dtype, init, need_dx=bool(layers)))
        if norm == "batch":
            layers.append(BatchNorm(h, dtype))
        elif norm == "layer":
            layers.append(LayerNorm(h, dtype))
        if activation != "identity":
            layers.append(Activation(activation, dtype, in_place=norm == "none"))  # after the Linear itself
        if dropout_rate > 0:
            layers.append(Dropout(dropout_rate, dtype, dropout))
        width = h
    layers.append(Linear(width, n_out, dtype, None if zero_output else init, need_dx=bool(layers)))
    return Network(layers, [f"hidden{i + 1}" for i in range(len(hidden))] + ["output"])


def given_network(mc: dict[str, Any], dtype) -> Network:
    """Linear layers with the weights of the study file, ``activation`` between them."""
    layers: list[Layer] = []
    activation = "sign_plus" if mc["activation"] == "sign" and mc.get("sign_zero") == 1 else mc["activation"]
    for i, spec in enumerate(mc["layers"]):
        w = np.asarray(spec["w"], dtype)  # (out, in), as torch writes it
        lin = Linear(w.shape[1], w.shape[0], dtype, None)
        lin.w[...], lin.b[...] = w.T, np.asarray(spec["b"], dtype)
        layers.append(lin)
        if i < len(mc["layers"]) - 1 and mc["activation"] != "identity":
            layers.append(Activation(activation, dtype))
    n = len(mc["layers"])
    return Network(layers, [f"hidden{i + 1}" for i in range(n - 1)] + ["output"])


def _inner(layer: Layer) -> list[Layer]:
    """The layer itself, or the layers a composite one (with ``sublayers()``) is made of."""
    return layer.sublayers() if hasattr(layer, "sublayers") else [layer]


def _param_names(layers: list[Layer], linear_names: list[str]) -> list[str]:
    names, linear, norm = [], 0, 0
    for layer in layers:
        if hasattr(layer, "param_names"):  # a composite layer names its own tensors
            names += layer.param_names
            linear += sum(isinstance(inner, Linear) for inner in _inner(layer))
        elif isinstance(layer, Linear):
            base, linear = linear_names[linear], linear + 1
            names += [f"{base}.weight", f"{base}.bias"]
        elif layer.params:
            norm += 1
            names += [f"norm{norm}.weight", f"norm{norm}.bias"]
    return names
