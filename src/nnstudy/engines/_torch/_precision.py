"""train.precision: the arithmetic of the training step's matrix products, with float32 master weights.

"float32": exact float32 (the default; on CUDA, cuDNN's convolutions too, which torch by default runs in
TensorFloat-32). "tf32": CUDA matrix products and convolutions in TensorFloat-32
(10-bit mantissa inputs, float32 accumulation); on the CPU there is no TF32 and the step stays float32.
"bf16": the forward pass under autocast to bfloat16 (CPU and CUDA), the loss and the update in float32; a vmapped
stack makes autocast's casts itself, call by call (VmapAutocast), since vmap's batched ops escape autocast.
Evaluation (every split's loss and accuracy after each epoch) runs without autocast: exact float32 for "float32"
and "bf16" (cuDNN's TF32 off on CUDA for both), TensorFloat-32 for "tf32" on CUDA, as its training step.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable, Iterator

import torch
from torch.overrides import TorchFunctionMode

_NOTHING = contextlib.nullcontext()  # reusable and reentrant: one for every step of every trial


def precision_of(tc: dict[str, Any]) -> str:
    return tc.get("precision") or "float32"


@contextlib.contextmanager
def trial_precision(tc: dict[str, Any], device: torch.device) -> Iterator[None]:
    """Around a whole trial (or stack) on CUDA: TF32 on for "tf32", off for "float32" and "bf16" (matrix
    products and convolutions alike: a bf16 trial's evaluation, outside autocast, is float32 as torch's default
    TF32 convolutions would not be), and back as it was after."""
    if device.type != "cuda":
        yield
        return
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = precision_of(tc) == "tf32"
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


# autocast's op lists (torch's aten/src/ATen/autocast_mode), by the names the ops have in Python
_LOWER = {"conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "convolution",
          "conv_tbc", "prelu", "addmm", "addbmm", "baddbmm", "bmm", "mm", "matmul", "__matmul__", "__rmatmul__",
          "einsum", "linear", "vecdot", "scaled_dot_product_attention"}
_LOWER_CUDA = {"addmv", "addr", "mv", "chain_matmul", "multi_dot", "lstm_cell", "gru_cell", "rnn_tanh_cell",
               "rnn_relu_cell"}
_FP32_BOTH = {"mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "nll_loss", "cross_entropy", "kl_div",
              "poisson_nll_loss", "cosine_embedding_loss", "hinge_embedding_loss", "margin_ranking_loss",
              "multilabel_margin_loss", "soft_margin_loss", "triplet_margin_loss", "multi_margin_loss",
              "binary_cross_entropy_with_logits", "cdist", "prod"}
_FP32_CPU = _FP32_BOTH | {"binary_cross_entropy", "ctc_loss", "avg_pool3d", "max_pool3d", "adaptive_avg_pool3d",
                          "adaptive_max_pool3d", "max_unpool2d", "max_unpool3d", "grid_sample", "quantile",
                          "nanquantile", "stft", "trace"}
_FP32_CUDA = _FP32_BOTH | {"acos", "asin", "cosh", "erfinv", "exp", "expm1", "log", "log10", "log2", "log1p",
                           "reciprocal", "rsqrt", "sinh", "tan", "pow", "__pow__", "__rpow__", "softplus",
                           "layer_norm", "group_norm", "norm", "vector_norm", "matrix_norm", "cosine_similarity",
                           "dist", "pdist", "renorm", "logsumexp", "interpolate", "upsample", "softmax",
                           "log_softmax", "cumsum", "cumprod", "sum"}
# a bfloat16 input beside float32 weights: one trial's kernel computes in float32 and answers in bfloat16
_NORMS_CPU = {"layer_norm", "group_norm", "batch_norm", "instance_norm"}
_NORMS_CUDA = {"batch_norm", "instance_norm"}


class VmapAutocast(TorchFunctionMode):
    """autocast's casts, made per call above vmap. Under vmap many ops escape autocast (torch 2.13: convolutions,
    a linear layer with a bias, addmm, baddbmm, prelu, scaled_dot_product_attention, the losses), so a stacked
    bf16 model computed them in float32, or in bfloat16 where one trial's autocast asks float32; and its norms
    answered float32 to a bfloat16 input where one trial's answer bfloat16. Within, each call sees its inputs
    cast as autocast casts them for one trial (autocast itself stays on for what it still reaches, e.g. the ops
    of a Python function such as multi_head_attention_forward, which this mode does not enter)."""

    def __init__(self, device_type: str, dtype: torch.dtype = torch.bfloat16):
        super().__init__()
        cuda = device_type == "cuda"
        self.device_type, self.dtype = device_type, dtype
        self.lower = _LOWER | _LOWER_CUDA if cuda else _LOWER
        self.fp32 = _FP32_CUDA if cuda else _FP32_CPU
        self.norms = _NORMS_CUDA if cuda else _NORMS_CPU

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name in self.lower:
            return self._below(func, self._cast(args, self.dtype), self._cast(kwargs, self.dtype))
        if name in self.fp32:
            return self._below(func, self._cast(args, torch.float32), self._cast(kwargs, torch.float32))
        if name in self.norms and args and self._eligible(args[0]) and args[0].dtype != torch.float32:
            return func(args[0].float(), *args[1:], **kwargs).to(args[0].dtype)
        return func(*args, **kwargs)

    def _below(self, func: Callable, args: Any, kwargs: dict[str, Any]) -> Any:
        """func on inputs cast, as autocast runs an op it casts: below autocast, so that the ops it is made of are
        not cast again (under vmap attention takes its math form, whose softmax autocast's float32 list answered
        in float32 to a bfloat16 input: on CUDA a backward that failed)."""
        _set_autocast(self.device_type, False)  # this mode is entered only where autocast is on (vmap_autocast)
        try:
            return func(*args, **kwargs)
        finally:
            _set_autocast(self.device_type, True)

    def _eligible(self, t: Any) -> bool:
        return (isinstance(t, torch.Tensor) and t.is_floating_point() and t.dtype != torch.float64
                and t.device.type == self.device_type)

    def _cast(self, value: Any, dtype: torch.dtype) -> Any:
        if self._eligible(value):
            return value if value.dtype == dtype else value.to(dtype)
        if isinstance(value, list) or type(value) is tuple:  # a tensor list (torch.Size and named tuples hold none)
            return type(value)(self._cast(v, dtype) for v in value)
        if isinstance(value, dict):
            return {k: self._cast(v, dtype) for k, v in value.items()}
        return value


def norm_dtype(name: str, h: torch.Tensor) -> torch.dtype:
    """The dtype one trial's norm ``name`` ("batch_norm", "layer_norm", ...) answers to a bfloat16 (or float16)
    activation ``h`` beside float32 weights under autocast: float32 where autocast computes it in float32 (layer
    and group norm on CUDA), else h's own (the kernel normalizes in float32 and rounds its answer)."""
    return torch.float32 if name in (_FP32_CUDA if h.is_cuda else _FP32_CPU) else h.dtype


def vmap_autocast(device_type: str) -> contextlib.AbstractContextManager:
    """Around a vmapped forward pass: VmapAutocast where autocast is on, else nothing."""
    if not _autocasting(device_type):
        return _NOTHING
    dtype = torch.get_autocast_dtype(device_type) if hasattr(torch, "get_autocast_dtype") else torch.bfloat16
    return VmapAutocast(device_type, dtype)


def _autocasting(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4: no device argument
        return torch.is_autocast_cpu_enabled() if device_type == "cpu" else torch.is_autocast_enabled()


def _set_autocast(device_type: str, on: bool) -> None:
    try:
        torch.set_autocast_enabled(device_type, on)
    except TypeError:  # torch < 2.4: no device argument
        (torch.set_autocast_cpu_enabled if device_type == "cpu" else torch.set_autocast_enabled)(on)


def forward_context(tc: dict[str, Any], device: torch.device) -> Callable[[], contextlib.AbstractContextManager]:
    """Decided once, where a training step is built: a maker of the context around each forward pass.
    "bf16": a fresh autocast to bfloat16 (no weight cache, so that a captured CUDA graph reads the current
    weights); otherwise one shared do-nothing context."""
    if precision_of(tc) != "bf16":
        return lambda: _NOTHING
    return functools.partial(torch.autocast, device_type=device.type, dtype=torch.bfloat16, cache_enabled=False)
