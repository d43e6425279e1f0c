"""A user's own ``nn.Module`` (``[model] kind = "module"``) as the torch training loops expect a model.

The user's class or factory is constructed with ``model.args`` as keyword arguments plus, where its
signature names them and ``args`` does not give them, the data's shape (``DATA_ARGS``). ``UserNet`` wraps
the result: inputs arrive flat, ``(B, prod(input_shape))``, and reach the user's module as
``(B, *module_shape(input_shape))``; ``linears()`` are the modules owning a parameter named ``weight``
with two or more dimensions (L1/L2 and the gradient norms act on those), named by the user's own
parameter names (``fc1.weight``).

Stacking (K trials as one program) uses ``torch.func.functional_call`` + ``vmap`` (``VmapNet``), as the
CNN family does, when ``stack_problem`` finds nothing against it: a module drawing from torch's global
random generator (``nn.Dropout``: its masks could not be the same alone and stacked) or one that ``vmap``
refuses trains one trial at a time. Ops that ``vmap`` has no batching rule for (nn.MultiheadAttention's fast
path in evaluation) run one trial at a time inside the stack: named once at the start of a run, not in torch's
warning at each call.
"""

from __future__ import annotations

import copy
import inspect
import json
import math
import warnings
from typing import Any, Callable

import torch
from torch import nn

from ... import _userfiles
from ..._sigterm import interrupts_noted
from . import _user_dtype

DATA_ARGS = ("n_inputs", "input_shape", "n_outputs", "n_classes")  # filled from the data when asked for
RANDOM_MODULES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout,
                  nn.RReLU)


def module_shape(input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of one sample as the module sees it: a one-channel image (H, W) gets its channel,
    (1, H, W); tabular (d,), signals (C, L) and images (C, H, W) stay as they are."""
    shape = tuple(int(s) for s in input_shape)
    return (1, *shape) if len(shape) == 2 and shape[0] != 1 else shape


def _as_dict(mc: Any) -> dict[str, Any]:
    return mc if isinstance(mc, dict) else mc.model_dump(mode="json")


class ArgsError(ValueError):
    """The constructor cannot take what model.args (and the data) give it: reported under model.args."""

    key = "model.args"


def _call(ref: str, kwargs: dict[str, Any]) -> str:
    return f"{ref.split(':', 1)[1]}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"


def load_constructor(mc: Any) -> Callable[..., Any]:
    """The class or factory ``model.module`` names; ValueError (one line) for anything else."""
    mc = _as_dict(mc)
    ref, sha = mc["module"], mc.get("module_sha256")
    obj = _userfiles.load_object(ref, sha)  # ValueError: not in the cache, failed to import, no such name
    if inspect.isclass(obj):
        if not issubclass(obj, nn.Module):
            raise ValueError(f"{ref} is a class but not a torch.nn.Module (give an nn.Module subclass or a "
                             "function that returns one)")
    elif not callable(obj):
        raise ValueError(f"{ref} is not an nn.Module class or a function that returns one (it is of type "
                         f"{type(obj).__name__})")
    return obj


def constructor_kwargs(fn: Callable[..., Any], args: dict[str, Any], ref: str, input_shape: tuple[int, ...],
                       n_out: int) -> dict[str, Any]:
    """``args`` plus the data's shape where the signature asks for it (``DATA_ARGS``; ``n_classes`` is
    ``n_outputs`` by a classifier's name); ValueError (one line) when the constructor cannot take them."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return dict(args)
    data = {"n_inputs": math.prod(input_shape), "input_shape": module_shape(input_shape), "n_outputs": n_out,
            "n_classes": n_out}
    kwargs = dict(args)
    for name in DATA_ARGS:
        p = sig.parameters.get(name)
        if name in data and name not in kwargs and p is not None and p.kind in (p.POSITIONAL_OR_KEYWORD,
                                                                              p.KEYWORD_ONLY):
            kwargs[name] = data[name]
    try:
        sig.bind(**kwargs)
    except TypeError as e:
        takes = [n for n, p in sig.parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        unknown = [k for k in args if k not in sig.parameters]
        name = ref.split(":", 1)[1]
        if unknown and not any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values()):
            raise ArgsError(f"{name} takes no argument {unknown[0]!r} (it takes: {', '.join(takes) or 'none'})") \
                from None
        raise ArgsError(f"{name}: {e} (model.args gives {', '.join(args) or 'nothing'}; filled from the data "
                         f"when named: {', '.join(DATA_ARGS)})") from None
    return kwargs


def construct(mc: Any, input_shape: tuple[int, ...], n_out: int) -> nn.Module:
    """The user's module, built as the study says; ValueError (one line) when it cannot be."""
    mc = _as_dict(mc)
    fn = load_constructor(mc)
    kwargs = constructor_kwargs(fn, mc.get("args", {}), mc["module"], tuple(input_shape), n_out)
    signalled: list[int] = []
    try:
        with interrupts_noted(signalled):
            net = fn(**kwargs)
    except BaseException as e:  # SystemExit, a KeyboardInterrupt of its own (not Ctrl-C): it must not end nnstudy
        if isinstance(e, KeyboardInterrupt) and signalled:
            raise
        raise ValueError(f"{_call(mc['module'], kwargs)} raised {_userfiles.error_line(e)}") from None
    if not isinstance(net, nn.Module):
        raise ValueError(f"{_call(mc['module'], kwargs)} returned a {type(net).__name__}, not a torch.nn.Module")
    if "_modules" not in vars(net):  # torch's own attributes, which nn.Module.__init__ sets
        raise ValueError(f"{_call(mc['module'], kwargs)} built a {type(net).__name__} whose __init__ did not call "
                         f"super().__init__() first (nn.Module needs it before any layer is assigned)")
    return net


class _Weight:
    """A weight tensor that no module holds under the name ``weight``, as the loops read one: ``.weight``."""

    def __init__(self, weight: nn.Parameter):
        self.weight = weight


class UserNet(nn.Module):
    """The user's module behind the interface of the built-in models: flat inputs, ``linears()``,
    ``linear_names`` (the user's parameter names), ``bind_rng``."""

    def __init__(self, net: nn.Module, input_shape: tuple[int, ...]):
        super().__init__()
        self.net = net
        self.view_shape = module_shape(input_shape)
        owners, seen = [], set()
        for name, m in net.named_modules():
            w = m._parameters.get("weight")
            if isinstance(w, nn.Parameter) and w.dim() >= 2 and id(w) not in seen:  # a tied weight counts once
                seen.add(id(w))
                owners.append((f"{name}.weight" if name else "weight", m))
        if not owners:  # weights by other names (self.W = nn.Parameter(...)): every parameter of 2+ dimensions
            owners = [(name, _Weight(p)) for name, p in net.named_parameters() if p.dim() >= 2]
        self.linear_names = [n for n, _ in owners]
        self._owners = [m for _, m in owners]  # a plain list: the modules stay registered under `net` only

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # a copy: a forward that changes its input in place (x /= 255) must not change the data it is given again
        try:  # a try costs nothing per step where a context manager would
            out = self.net(x.reshape(x.shape[0], *self.view_shape).clone())
        except (Exception, KeyboardInterrupt):
            raise
        except BaseException as e:  # SystemExit: the trial fails, nnstudy goes on
            raise _userfiles.exited("its forward", e) from e
        return out.to(x.dtype) if out.dtype.itemsize > x.dtype.itemsize else out  # a wider output loses nothing

    def linears(self) -> list[Any]:
        return list(self._owners)

    def bind_rng(self, seed: int, step: torch.Tensor, dtype: torch.dtype) -> None:
        for m in self.net.modules():  # nnstudy's own counter-based dropout, should a module use it
            if hasattr(m, "bind") and hasattr(m, "p_tensor"):
                m.bind(seed, step, dtype)


_batch_norms: dict[str, bool] = {}


def build(mc: Any, n_in: int, n_out: int, input_shape: tuple[int, ...] = ()) -> UserNet:
    """The wrapped module for one trial (build it after ``torch.manual_seed``: its init draws from it)."""
    mc = _as_dict(mc)
    shape = tuple(input_shape) or (n_in,)
    net = UserNet(materialize(construct(mc, shape, n_out), shape, mc["module"]), shape)
    _batch_norms[json.dumps(mc, sort_keys=True)] = any(isinstance(m, nn.modules.batchnorm._BatchNorm)
                                                        for m in net.modules())
    return net


def materialize(net: nn.Module, input_shape: tuple[int, ...], ref: str) -> nn.Module:
    """A module with lazy layers (``nn.LazyLinear``) gets its parameters' shapes from one forward pass of two
    zero samples (eval mode, no gradient); ValueError (one line) when that pass fails."""
    from torch.nn.modules.lazy import LazyModuleMixin

    if not any(isinstance(m, LazyModuleMixin) and m.has_uninitialized_params() for m in net.modules()):
        return net
    training = net.training
    signalled: list[int] = []
    try:
        with torch.no_grad(), interrupts_noted(signalled):
            net.eval()(torch.zeros(2, *module_shape(input_shape)))
    except BaseException as e:  # SystemExit, a KeyboardInterrupt of its own (not Ctrl-C): it must not end nnstudy
        if isinstance(e, KeyboardInterrupt) and signalled:
            raise
        raise ValueError(f"{ref}: its forward pass on a batch of shape {(2, *module_shape(input_shape))} (to "
                         f"initialize its lazy layers) raised {_userfiles.error_line(e)}") from None
    return net.train(training)


def has_batch_norm(mc: Any) -> bool:
    """Whether the module (as last built in this process: the loops build it before planning batches) has
    batch norm, which a batch of one sample breaks."""
    return _batch_norms.get(json.dumps(_as_dict(mc), sort_keys=True), False)


def check_model(mc: Any, data, train: dict[str, Any]) -> None:
    """Build the module for the loaded data and pass two samples through it as ``train`` (its dtype and
    precision) trains it; ValueError (one line, with a ``key`` attribute for model.args) when the code cannot
    train on this data. Leaves torch's global random state as it was."""
    from .._common import head_of

    mc = _as_dict(mc)
    head = head_of(mc, data)
    state = torch.random.get_rng_state()
    try:
        net = build(mc, data.x_train.shape[1], head.n_out, data.input_shape)
        if not net.linears():
            raise ValueError(f"{mc['module']} has no weight tensor (a parameter of 2 or more dimensions) to train")
        what = (f"{data.name} has {head.n_out} classes" if data.task == "classification"
                else f"{data.name} has {head.n_out} target{'s' if head.n_out != 1 else ''}")
        try:
            check_output(net, head.n_out, what, train)
        except ValueError as e:
            raise ValueError(f"{mc['module']}: {e}") from None
        _checked[json.dumps(mc, sort_keys=True)] = vmap_facts(net)  # for stack_key, without loading the data again
    finally:
        torch.random.set_rng_state(state)


def summary_module(mc: Any, data, n_out: int) -> nn.Module:
    """The user's module itself (its own children are the summary's rows), reshaping the flat inputs
    ``nnstudy summary`` passes into (B, *input_shape) before its forward."""
    net = build(_as_dict(mc), data.x_train.shape[1], n_out, data.input_shape)
    shape = net.view_shape
    inner = net.net
    inner.register_forward_pre_hook(lambda _m, args: (args[0].reshape(args[0].shape[0], *shape), *args[1:]))
    return inner


def check_output(net: UserNet, n_out: int, what: str, train: dict[str, Any]) -> None:
    """One forward pass of two zero samples as training runs it: the module cast to ``train["dtype"]`` (None:
    its parameters' dtype as built), under ``train["precision"]``'s autocast; ValueError (one line) when it
    fails, has the wrong shape, is not floating point or computes in another dtype (``_user_dtype``)."""
    dtype = _user_dtype.DTYPES.get(train["dtype"])
    if dtype is not None:
        net.to(dtype)
    else:
        dtype = next((p.dtype for p in net.parameters() if p.is_floating_point()), torch.float32)
    shown = (2, *net.view_shape)
    x = torch.zeros(shown, dtype=dtype)
    signalled: list[int] = []
    try:
        with interrupts_noted(signalled):
            out = _user_dtype.forward(net.net, x, train["precision"])  # the module's own output, before the cast
    except BaseException as e:  # SystemExit, a KeyboardInterrupt of its own (not Ctrl-C): it must not end nnstudy
        if isinstance(e, KeyboardInterrupt) and signalled:
            raise
        why = train["dtype"] and isinstance(e, Exception) and _user_dtype.why_raised(net.net, x, train, e)
        if why:
            raise ValueError(why) from None
        raise ValueError(f"its forward pass on a batch of shape {shown} raised {_userfiles.error_line(e)}") from None
    if not isinstance(out, torch.Tensor):
        raise ValueError(f"its forward pass returned a {type(out).__name__}; it must return a tensor of shape "
                         f"(B, {n_out}) ({what})")
    if tuple(out.shape) != (2, n_out):
        raise ValueError(f"its output for a batch of shape {shown} has shape {tuple(out.shape)}; "
                         f"it must be (B, {n_out}) ({what})")
    if train["engine"] == "torch" and not out.is_floating_point():  # a training function may want integers
        raise ValueError(f"its output has dtype {_user_dtype.name(out.dtype)}; it must be floating point (the "
                         "loss's gradient flows back through it): return the floats, before any .long() or argmax")
    if train["dtype"]:
        _user_dtype.check_dtype(out, train)


StackFacts = tuple[str | None, tuple[str, ...]]  # why it cannot stack (None: it can); ops vmap runs slice by slice


def vmap_facts(net: UserNet) -> StackFacts:
    """Whether K copies of ``net`` can train as one vmapped program (a training step, then an evaluation: eval
    mode, no gradient, where fast paths such as nn.MultiheadAttention's run ops vmap has no batching rule for)."""
    for name, m in net.net.named_modules():
        if isinstance(m, RANDOM_MODULES):
            where = f" ({name})" if name else ""
            return (f"its {type(m).__name__}{where} draws from torch's global random generator, so its masks "
                    "would not be the same alone and stacked"), ()
    from torch.func import functional_call, stack_module_state, vmap

    from ._stack_vmap import slow_ops

    models = [copy.deepcopy(net).train() for _ in range(2)]
    params, buffers = stack_module_state(models)
    params = {n: p.detach().clone().requires_grad_(True) for n, p in params.items()}
    dtype = next(iter(params.values())).dtype if params else torch.float32
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, math.prod(net.view_shape), generator=gen, dtype=dtype)

    def one(p, b, xb):
        return functional_call(models[0], (p, b), (xb,))

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = vmap(one)(params, buffers, x)
            torch.autograd.grad(out.square().sum(), list(params.values()), allow_unused=True)
            with torch.no_grad():
                models[0].eval()
                vmap(one, in_dims=(0, 0, None))(params, buffers, x[0])
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # SystemExit too: the user's code must not end nnstudy
        if "random operation" in str(e):
            return ("it draws random numbers in forward from torch's global generator, so its draws would not be "
                    "the same alone and stacked"), ()
        return f"torch.func.vmap cannot run it ({_userfiles.error_line(e)[:120]})", ()
    return None, slow_ops(caught)


_stack_facts: dict[str, StackFacts] = {}
_checked: dict[str, StackFacts] = {}  # model config -> its stack facts, found by check_model on the loaded data


def stack_problem(mc: Any, data_cfg: dict[str, Any]) -> str | None:
    """Why trials of this configuration train one at a time, or None when they can stack."""
    return _facts(mc, data_cfg)[0]


def slow_stack_ops(mc: Any, data_cfg: dict[str, Any]) -> tuple[str, ...]:
    """The ops torch.func.vmap runs one trial at a time when trials of this configuration stack."""
    return _facts(mc, data_cfg)[1]


def _facts(mc: Any, data_cfg: dict[str, Any]) -> StackFacts:
    """``vmap_facts`` of this configuration (cached; found by check_model when it ran in this process, else the
    data is loaded to know its shape)."""
    mc = _as_dict(mc)
    key = json.dumps([mc, data_cfg], sort_keys=True)
    checked = json.dumps(mc, sort_keys=True)
    if key not in _stack_facts and checked in _checked:  # whether it stacks does not depend on the data
        _stack_facts[key] = _checked[checked]
    if key not in _stack_facts:
        from ...executor._worker import load_data
        from .._common import head_of

        data = load_data(data_cfg)
        torch_state = torch.random.get_rng_state()
        try:
            net = build(mc, data.x_train.shape[1], head_of(mc, data).n_out, data.input_shape)
            _stack_facts[key] = vmap_facts(net)
        except ValueError as e:
            _stack_facts[key] = str(e), ()
        finally:
            torch.random.set_rng_state(torch_state)
    return _stack_facts[key]
