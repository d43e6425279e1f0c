"""`nnstudy summary` of a NumPy-engine network: one forward pass of two zero samples (evaluation mode)
gives each layer's output shape; parameters are counted per layer; inside each self-attention, the
queries, keys and values per head and the attention weights get rows of their own (as for torch models).

Mult-adds are counted from the matrix products the layers run (every Linear, and attention's q kᵀ and
weights · v), per sample; torchinfo's count for a torch model follows its own conventions and differs.
"""

from __future__ import annotations

import numpy as np

from ...summary import Layer, Summary
from ._activations import Activation
from ._attention import SelfAttention
from ._layers import Linear
from ._network import Network, _inner

BATCH = 2


def summarize_network(net: Network, input_shape: tuple[int, ...], trial=None) -> Summary:
    x = np.zeros((BATCH, int(np.prod(input_shape))), net.params[0].dtype if net.params else np.float64)
    rows, names = [], iter(net.param_names)
    for layer in net.layers:
        x = layer.forward(x, train=False)
        own = [next(names) for _ in layer.params]
        rows.append(Layer(_row_name(layer, own), _kind(layer), tuple(x.shape[1:]),
                          sum(p.size for p in layer.params), _mult_adds(layer)))
        for attn in _attentions(layer):
            where = f"{_row_name(layer, own)}.attn"
            rows += [Layer(f"{where}: q, k, v", "per head", attn.q.shape[1:], 0),
                     Layer(f"{where}: weights", "softmax(q kᵀ/√d)", attn.attn.shape[1:], 0)]
    total = sum(p.size for p in net.params)
    return Summary(rows, total, total, trial, tuple(input_shape), sum(r.mult_adds for r in rows))


def _row_name(layer, own: list[str]) -> str:
    if not own:
        return layer.name if isinstance(layer, Activation) else type(layer).__name__.lower()
    bases = list(dict.fromkeys(n.split(".")[0] for n in own))
    return bases[0] if len(bases) == 1 else ", ".join(own)


def _kind(layer) -> str:
    return f"Activation({layer.name})" if isinstance(layer, Activation) else type(layer).__name__


def _attentions(layer) -> list[SelfAttention]:
    if isinstance(layer, SelfAttention):
        return [layer]
    attn = getattr(layer, "attn", None)
    return [attn] if isinstance(attn, SelfAttention) else []


def _mult_adds(layer) -> int:
    """Per sample: rows x in x out for each Linear it runs, 2 T² dim for each self-attention."""
    linear = sum(lin.x.shape[0] // BATCH * lin.w.size for lin in _inner(layer)
                 if isinstance(lin, Linear) and hasattr(lin, "x"))
    for attn in _attentions(layer):
        _, heads, t, d = attn.q.shape
        linear += 2 * heads * t * t * d
    return int(linear)
