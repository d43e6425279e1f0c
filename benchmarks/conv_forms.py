"""The stacked CNN's step written out by hand in several forms: which one the GPU runs fastest (issue 21).

    python benchmarks/conv_forms.py [--device cuda] [--k 64] [--batch 16] [--steps 200]

sweep_throughput's CNN (conv 32 -> relu -> max pool -> conv 64 -> relu -> max pool -> dense 10, 28 x 28 x 1
inputs, no padding) for K trials, one SGD step (forward, cross-entropy summed over the trials, backward, the
update) captured in one CUDA graph where the device is CUDA, in each form and precision:
    grouped     the trials folded into the channels, one grouped convolution (groups = K): what vmap does
    grouped-cl  the same tensors channels-last (NHWC): cuDNN's tensor-core kernels for grouped convolutions
    unfold      each trial's windows x its weight, one batched matmul over the trials (im2col)
Precisions: float32 (no TF32 anywhere), tf32 (cuDNN and matmul TF32), bf16 (autocast). Also the forward
pass of an evaluation chunk (``--eval-rows`` images shared by all K trials). Prints ms per step and per chunk.
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


def forward_grouped(ws: list[torch.Tensor], x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """x: (K, B, 1, H, W) per-trial batches -> logits (K, B, 10)."""
    w1, b1, w2, b2, w3, b3 = ws
    k, b = x.shape[:2]
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    h = x.transpose(0, 1).reshape(b, k, SIDE, SIDE).contiguous(memory_format=fmt)
    h = F.conv2d(h, w1.reshape(k * C1, 1, 3, 3).contiguous(memory_format=fmt), b1.reshape(-1), groups=k)
    h = F.max_pool2d(F.relu(h), 2)
    h = F.conv2d(h.contiguous(memory_format=fmt), w2.reshape(k * C2, C1, 3, 3).contiguous(memory_format=fmt),
                 b2.reshape(-1), groups=k)
    h = F.max_pool2d(F.relu(h), 2)  # (B, K*C2, 5, 5)
    h = h.reshape(b, k, C2 * 25).transpose(0, 1)  # (K, B, 1600)
    return torch.baddbmm(b3.unsqueeze(1), h, w3.transpose(1, 2))


def _windows(h: torch.Tensor) -> torch.Tensor:
    """(N, H, W, C) channels-inner -> (N, Ho*Wo, 9*C) windows ordered (kh, kw, C)."""
    n, hh, ww, c = h.shape
    win = h.unfold(1, 3, 1).unfold(2, 3, 1)  # (N, Ho, Wo, C, 3, 3)
    return win.permute(0, 1, 2, 4, 5, 3).reshape(n, (hh - 2) * (ww - 2), 9 * c)


def forward_unfold(ws: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    w1, b1, w2, b2, w3, b3 = ws
    k, b = x.shape[:2]
    h = _windows(x.reshape(k * b, SIDE, SIDE, 1)).reshape(k, b * 26 * 26, 9)
    h = torch.baddbmm(b1.unsqueeze(1), h, w1.reshape(k, C1, 9).transpose(1, 2))  # (K, B*26*26, C1)
    h = F.relu(h).reshape(k * b, 13, 2, 13, 2, C1).amax((2, 4))  # (K*B, 13, 13, C1)
    h = _windows(h).reshape(k, b * 121, 9 * C1)
    h = torch.baddbmm(b2.unsqueeze(1), h, w2.permute(0, 1, 3, 4, 2).reshape(k, C2, 9 * C1).transpose(1, 2))
    h = F.relu(h).reshape(k * b, 11, 11, C2)[:, :10, :10].reshape(k * b, 5, 2, 5, 2, C2).amax((2, 4))
    h = h.permute(0, 3, 1, 2).reshape(k, b, C2 * 25)
    return torch.baddbmm(b3.unsqueeze(1), h, w3.transpose(1, 2))


FORMS = {"grouped": lambda ws, x: forward_grouped(ws, x, False),
         "grouped-cl": lambda ws, x: forward_grouped(ws, x, True),
         "unfold": forward_unfold}


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


def timed(fn, device: torch.device, reps: int) -> float:
    """Seconds per call of fn, replayed from one CUDA graph where the device is CUDA."""
    for _ in range(3):
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
    return (time.perf_counter() - t0) / reps


def measure(form: str, prec: str, k: int, batch: int, steps: int, eval_rows: int, device: torch.device):
    ws = weights(k, device)
    g = torch.Generator(device="cpu").manual_seed(1)
    x = torch.rand((k, batch, 1, SIDE, SIDE), generator=g).to(device)
    y = torch.randint(0, N_OUT, (k, batch), generator=g).to(device)
    xe = torch.rand((eval_rows, 1, SIDE, SIDE), generator=g).to(device)
    forward = FORMS[form]

    def step():
        logits = forward(ws, x)
        loss = F.cross_entropy(logits.float().reshape(-1, N_OUT), y.reshape(-1), reduction="sum") / batch
        grads = torch.autograd.grad(loss, ws)
        with torch.no_grad():
            torch._foreach_add_(ws, grads, alpha=-0.01)

    def evaluate():
        with torch.no_grad():
            forward(ws, xe.unsqueeze(0).expand(k, *xe.shape))

    with precision(prec, device):
        step_s = timed(step, device, steps)
        eval_s = timed(evaluate, device, max(2, steps // 20))
    return step_s, eval_s


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
    args = ap.parse_args()
    device = torch.device(args.device)
    print(f"K = {args.k}, batch {args.batch}, {args.steps} steps, evaluation chunk {args.eval_rows} rows, "
          f"{torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'}, torch {torch.__version__}")
    print("| form | precision | ms/step | ms/eval chunk | 3375 steps s |\n|---|---|---:|---:|---:|")
    for prec in args.precisions:
        for form in args.forms:
            try:
                step_s, eval_s = measure(form, prec, args.k, args.batch, args.steps, args.eval_rows, device)
            except Exception as err:  # one failing form leaves the others' figures
                print(f"| {form} | {prec} | failed: {' '.join(str(err).split())[:200]} | | |", flush=True)
                continue
            print(f"| {form} | {prec} | {step_s * 1e3:.3f} | {eval_s * 1e3:.3f} | {3375 * step_s:.2f} |", flush=True)


if __name__ == "__main__":
    main()
