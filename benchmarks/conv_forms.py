"""The stacked CNN's step written out by hand in several forms: which one the GPU runs fastest (issue 21).

    python benchmarks/conv_forms.py [--device cuda] [--k 64] [--batch 16] [--steps 200]
        [--compile none forward step tail] [--compile-mode default]

sweep_throughput's CNN (conv 32 -> relu -> max pool -> conv 64 -> relu -> max pool -> dense 10, 28 x 28 x 1
inputs, no padding) for K trials, one SGD step (forward, cross-entropy summed over the trials, backward, the
update) captured in one CUDA graph where the device is CUDA, in each form and precision:
    grouped     the trials folded into the channels, one grouped convolution (groups = K): what vmap does
    grouped-cl  the same tensors channels-last (NHWC): cuDNN's tensor-core kernels for grouped convolutions
    unfold      each trial's windows x its weight, one batched matmul over the trials (im2col)
Precisions: float32 (no TF32 anywhere), tf32 (cuDNN and matmul TF32), bf16 (autocast). Also the forward
pass of an evaluation chunk (``--eval-rows`` images shared by all K trials). Prints ms per step and per chunk.

``--compile`` runs each form and precision once per mode named (default: none):
    none     eager, as above
    forward  the form's forward by torch.compile (Inductor; AOTAutograd compiles its backward too)
    step     the whole step, forward, loss, torch.autograd.grad and the update, as one graph (fullgraph,
             torch._dynamo.config.trace_autograd_ops on), and the evaluation's forward
    tail     only the elementwise tail of each convolution: bias + ReLU + max pool around cuDNN's
             convolution (grouped forms); ReLU + max pool after the batched matmul (unfold)
``--compile-mode`` is torch.compile's mode: "default" or "max-autotune-no-cudagraphs" (Inductor makes no
CUDA graphs of its own in either; the compiled step is compiled by its first calls, then captured in the one
CUDA graph as the eager step is). "compile s" is what the first calls of the step and of the evaluation took
(compilation, autotuning): a study pays it once (less where Inductor's on-disk caches hold a graph from an
earlier run; TORCHINDUCTOR_FORCE_DISABLE_CACHES=1 measures it cold). Before timing, one compiled step is
checked against one eager step of the same form from the same weights, device and precision: "Δ weights" is
the largest max |compiled - eager| / max |eager| over the six updated weights, a float32 row over 1e-5 marked
"!"; "Δ update" the same of the update (updated - initial weights), whose float32 floor is the rounding of
the updated weights (about 1e-5 of the update at K = 4, batch 4, eager forms among themselves alike). On the
CPU the unfold form's compiled forward and step run with Inductor's C++ vectorization off ("C++ simd off":
see cpu_simd_off).
"""

from __future__ import annotations

import argparse
import contextlib
import time

import torch
import torch.nn.functional as F

C1, C2, N_OUT, SIDE = 32, 64, 10, 28


def weights(k: int, device: torch.device) -> list[torch.Tensor]:
    g = torch.Generator(device="cpu").manual_seed(0)
    shapes = [(k, C1, 1, 3, 3), (k, C1), (k, C2, C1, 3, 3), (k, C2), (k, N_OUT, C2 * 25), (k, N_OUT)]
    return [(torch.randn(s, generator=g) * 0.1).to(device).requires_grad_(True) for s in shapes]


def bias_relu_pool(h: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """The grouped forms' tail of a convolution made without its bias: (N, C, H, W) -> (N, C, H/2, W/2), in the
    convolution's dtype (bfloat16 under autocast, as the convolution adding its bias would leave it)."""
    return F.max_pool2d(F.relu(h + bias.to(h.dtype).reshape(1, -1, 1, 1)), 2)


def forward_grouped(ws: list[torch.Tensor], x: torch.Tensor, channels_last: bool, tail=None) -> torch.Tensor:
    """x: (K, B, 1, H, W) per-trial batches -> logits (K, B, 10). tail: bias_relu_pool (or its compiled form)
    after each convolution made without bias; None: the convolutions add their bias, then ReLU and max pool."""
    w1, b1, w2, b2, w3, b3 = ws
    k, b = x.shape[:2]
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    h = x.transpose(0, 1).reshape(b, k, SIDE, SIDE).contiguous(memory_format=fmt)
    w1g = w1.reshape(k * C1, 1, 3, 3).contiguous(memory_format=fmt)
    if tail is None:
        h = F.max_pool2d(F.relu(F.conv2d(h, w1g, b1.reshape(-1), groups=k)), 2)
    else:
        h = tail(F.conv2d(h, w1g, groups=k), b1.reshape(-1))
    w2g = w2.reshape(k * C2, C1, 3, 3).contiguous(memory_format=fmt)
    h = h.contiguous(memory_format=fmt)
    if tail is None:
        h = F.max_pool2d(F.relu(F.conv2d(h, w2g, b2.reshape(-1), groups=k)), 2)
    else:
        h = tail(F.conv2d(h, w2g, groups=k), b2.reshape(-1))  # (B, K*C2, 5, 5)
    h = h.reshape(b, k, C2 * 25).transpose(0, 1)  # (K, B, 1600)
    return torch.baddbmm(b3.unsqueeze(1), h, w3.transpose(1, 2))


def _windows(h: torch.Tensor) -> torch.Tensor:
    """(N, H, W, C) channels-inner -> (N, Ho*Wo, 9*C) windows ordered (kh, kw, C)."""
    n, hh, ww, c = h.shape
    win = h.unfold(1, 3, 1).unfold(2, 3, 1)  # (N, Ho, Wo, C, 3, 3)
    return win.permute(0, 1, 2, 4, 5, 3).reshape(n, (hh - 2) * (ww - 2), 9 * c)


def relu_pool_nhwc(h: torch.Tensor, n: int, side: int, c: int) -> torch.Tensor:
    """The unfold form's tail: (.., n*side*side, c) channels-inner -> ReLU, 2 x 2 max pool (N, side/2, side/2, c),
    an odd last row and column dropped as max_pool2d does."""
    even = side // 2 * 2
    h = F.relu(h).reshape(n, side, side, c)[:, :even, :even]
    return h.reshape(n, even // 2, 2, even // 2, 2, c).amax((2, 4))


def forward_unfold(ws: list[torch.Tensor], x: torch.Tensor, tail=relu_pool_nhwc) -> torch.Tensor:
    w1, b1, w2, b2, w3, b3 = ws
    k, b = x.shape[:2]
    h = _windows(x.reshape(k * b, SIDE, SIDE, 1)).reshape(k, b * 26 * 26, 9)
    h = torch.baddbmm(b1.unsqueeze(1), h, w1.reshape(k, C1, 9).transpose(1, 2))  # (K, B*26*26, C1)
    h = tail(h, k * b, 26, C1)  # (K*B, 13, 13, C1)
    h = _windows(h).reshape(k, b * 121, 9 * C1)
    h = torch.baddbmm(b2.unsqueeze(1), h, w2.permute(0, 1, 3, 4, 2).reshape(k, C2, 9 * C1).transpose(1, 2))
    h = tail(h, k * b, 11, C2)  # (K*B, 5, 5, C2)
    h = h.permute(0, 3, 1, 2).reshape(k, b, C2 * 25)
    return torch.baddbmm(b3.unsqueeze(1), h, w3.transpose(1, 2))


FORMS = {"grouped": lambda ws, x: forward_grouped(ws, x, False),
         "grouped-cl": lambda ws, x: forward_grouped(ws, x, True),
         "unfold": forward_unfold}
COMPILE = ("none", "forward", "step", "tail")


def compiled(fn, mode: str):
    """fn by Inductor, one graph (a graph break is an error, not a silent split), shapes static."""
    return torch.compile(fn, mode=mode, dynamic=False, fullgraph=True)


def tailed_form(form: str, mode: str):
    """The form's forward with its convolutions' tail compiled."""
    if form == "unfold":
        tail = compiled(relu_pool_nhwc, mode)
        return lambda ws, x: forward_unfold(ws, x, tail)
    tail = compiled(bias_relu_pool, mode)
    return lambda ws, x: forward_grouped(ws, x, form == "grouped-cl", tail)


def cpu_simd_off(form: str, comp: str, device: torch.device) -> bool:
    """Whether Inductor's C++ vectorization is turned off for this row: the unfold form's windows backward
    (Tensor.unfold twice, permuted, reshaped) compiles on the CPU (torch 2.13) to a vectorized scatter-add
    that writes past its buffer (wrong gradients of the first convolution, or "free(): invalid next size");
    with cpp.simdlen = 1 it is right. The C++ backend only: CUDA compiles through Triton."""
    return device.type == "cpu" and form == "unfold" and comp in ("forward", "step")


@contextlib.contextmanager
def dynamo_settings(trace_autograd: bool, simd_off: bool):
    """A fresh Dynamo cache (each measurement compiles anew and compile s counts it all), room for the few
    shapes a measurement compiles, torch.autograd.grad traced into the graph where ``trace_autograd``,
    Inductor's C++ vectorization off where ``simd_off`` (see cpu_simd_off)."""
    import torch._dynamo
    import torch._inductor.config

    cfg, cpp = torch._dynamo.config, torch._inductor.config.cpp
    before = cfg.recompile_limit, cfg.trace_autograd_ops, cpp.simdlen
    torch._dynamo.reset()
    cfg.recompile_limit, cfg.trace_autograd_ops = 64, trace_autograd
    if simd_off:
        cpp.simdlen = 1
    try:
        yield
    finally:
        cfg.recompile_limit, cfg.trace_autograd_ops, cpp.simdlen = before
        torch._dynamo.reset()


@contextlib.contextmanager
def precision(name: str, device: torch.device):
    flags = torch.backends.cudnn, torch.backends.cuda.matmul
    before = flags[0].allow_tf32, flags[1].allow_tf32, flags[0].benchmark
    flags[0].allow_tf32 = flags[1].allow_tf32 = name == "tf32"
    flags[0].benchmark = True
    try:
        with torch.autocast(device.type, torch.bfloat16, enabled=name == "bf16"):
            yield
    finally:
        flags[0].allow_tf32, flags[1].allow_tf32, flags[0].benchmark = before


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device: torch.device, reps: int) -> tuple[float, float]:
    """(seconds per call of fn, replayed from one CUDA graph where the device is CUDA; seconds of its first call)."""
    t0 = time.perf_counter()
    fn()
    sync(device)
    first_s = time.perf_counter() - t0
    for _ in range(2):
        fn()
    sync(device)
    if device.type == "cuda":
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            fn()
        run = graph.replay
    else:
        run = fn
    run()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        run()
    sync(device)
    return (time.perf_counter() - t0) / reps, first_s


def make_step(ws: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor, forward):
    """One SGD step of the K trials, in place on ws."""
    batch = x.shape[1]

    def step():
        logits = forward(ws, x)
        loss = F.cross_entropy(logits.float().reshape(-1, N_OUT), y.reshape(-1), reduction="sum") / batch
        grads = torch.autograd.grad(loss, ws)
        with torch.no_grad():
            torch._foreach_add_(ws, grads, alpha=-0.01)

    return step


def rel_diff(got: list[torch.Tensor], want: list[torch.Tensor]) -> float:
    return max(((g.float() - w.float()).abs().max() / w.float().abs().max()).item() for g, w in zip(got, want))


def measure(form: str, prec: str, comp: str, k: int, batch: int, steps: int, eval_rows: int,
            device: torch.device, mode: str = "default"):
    """(s/step, s/eval chunk, compile s, Δ weights, Δ update); the last three None for comp "none"."""
    ws = weights(k, device)
    g = torch.Generator(device="cpu").manual_seed(1)
    x = torch.rand((k, batch, 1, SIDE, SIDE), generator=g).to(device)
    y = torch.randint(0, N_OUT, (k, batch), generator=g).to(device)
    xe = torch.rand((eval_rows, 1, SIDE, SIDE), generator=g).to(device)
    forward = FORMS[form]
    if comp == "forward":
        forward = compiled(forward, mode)
    elif comp == "tail":
        forward = tailed_form(form, mode)
    step = make_step(ws, x, y, forward)

    def evaluate():  # returns the logits: a compiled function that returns nothing computes nothing
        with torch.no_grad():
            return forward(ws, xe.unsqueeze(0).expand(k, *xe.shape))

    if comp == "step":
        step, evaluate = compiled(step, mode), compiled(evaluate, mode)
    settings = (dynamo_settings(comp == "step", cpu_simd_off(form, comp, device)) if comp != "none"
                else contextlib.nullcontext())
    with precision(prec, device), settings:
        check = None
        if comp != "none":  # one eager step of the same form from the same weights, then the compiled one
            w0 = [w.detach().clone() for w in ws]
            ref = [w.detach().clone().requires_grad_(True) for w in ws]
            make_step(ref, x, y, FORMS[form])()
            sync(device)
            t0 = time.perf_counter()
            step()
            sync(device)
            first_step_s = time.perf_counter() - t0
            with torch.no_grad():
                update, ref_update = [w - v for w, v in zip(ws, w0)], [r - v for r, v in zip(ref, w0)]
                check = rel_diff(ws, ref), rel_diff(update, ref_update)
        step_s, _ = timed(step, device, steps)
        eval_s, first_eval_s = timed(evaluate, device, max(2, steps // 20))
    if check is None:
        return step_s, eval_s, None, None, None
    return step_s, eval_s, first_step_s + first_eval_s, *check


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--k", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--eval-rows", type=int, default=512)
    ap.add_argument("--forms", nargs="+", choices=list(FORMS), default=list(FORMS))
    ap.add_argument("--precisions", nargs="+", choices=["float32", "tf32", "bf16"],
                    default=["float32", "tf32", "bf16"])
    ap.add_argument("--compile", nargs="+", choices=COMPILE, default=["none"],
                    help="each form also with torch.compile: of its forward, of the whole step, of the "
                         "convolutions' elementwise tail (see above); none: eager")
    ap.add_argument("--compile-mode", default="default", choices=["default", "max-autotune-no-cudagraphs"],
                    help="torch.compile's mode (neither makes CUDA graphs: the one graph is this script's)")
    args = ap.parse_args()
    device = torch.device(args.device)
    print(f"K = {args.k}, batch {args.batch}, {args.steps} steps, evaluation chunk {args.eval_rows} rows, "
          f"{torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'}, torch {torch.__version__}"
          + (f", torch.compile mode {args.compile_mode!r}" if args.compile != ["none"] else ""))
    print("| form | precision | compile | ms/step | ms/eval chunk | 3375 steps s | compile s | Δ weights | Δ update |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for prec in args.precisions:
        for form in args.forms:
            for comp in args.compile:
                try:
                    step_s, eval_s, compile_s, dw, du = measure(form, prec, comp, args.k, args.batch, args.steps,
                                                                args.eval_rows, device, args.compile_mode)
                except Exception as err:  # one failing form leaves the others' figures
                    print(f"| {form} | {prec} | {comp} | failed: {' '.join(str(err).split())[:300]} | | | | | |",
                          flush=True)
                    if device.type == "cuda":
                        torch.cuda.empty_cache()
                    continue
                if compile_s is None:
                    extra = "| - | - | - |"
                else:
                    bad = " !" if prec == "float32" and dw > 1e-5 else ""
                    extra = f"| {compile_s:.1f} | {dw:.1e}{bad} | {du:.1e} |"
                label = f"{comp}, C++ simd off" if cpu_simd_off(form, comp, device) else comp
                print(f"| {form} | {prec} | {label} | {step_s * 1e3:.3f} | {eval_s * 1e3:.3f} | {3375 * step_s:.2f} "
                      f"{extra}", flush=True)

if __name__ == "__main__":
    main()
