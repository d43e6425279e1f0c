"""Training with torch.optim without importing torch._dynamo (engines/_torch/_eager.py): the same numbers as
with it, no import, and the real module in its place as soon as anything needs it.

Each case runs in a fresh interpreter: this one may have imported torch._dynamo already."""

import json
import subprocess
import sys
import textwrap

TRAIN = textwrap.dedent("""
    import json, sys
    if sys.argv[1] == "preloaded":
        import torch._dynamo  # torch's own path: the real module decides every graph_break and disable
    import numpy as np
    from nnstudy.data._dataset import Dataset
    from nnstudy.data._sklearn import make_moons
    from nnstudy.engines import get_engine
    from nnstudy.spec import expand, read_study

    x, y = make_moons(300, 0.2, 0)
    x = x.astype(np.float32)
    data = Dataset("moons", "classification", x[:200], y[:200], x[200:250], y[200:250], x[250:], y[250:],
                   (2,), ["upper", "lower"])
    runs = {}
    cases = [("momentum", {"schedule": {"kind": "step", "step_size": 1, "gamma": 0.5}}),
             ("nesterov", {"weight_decay": 1e-3}), ("adam", {"lr": 0.01}), ("adamw", {"lr": 0.01}),
             ("rmsprop", {"lr": 0.01}), ("adagrad", {}), ("adadelta", {"lr": 1.0}),
             ("lbfgs", {"lr": 0.5, "batch_size": "full"}), ("sgd", {"schedule": {"kind": "cosine"}})]
    for name, extra in cases:
        train = {"epochs": 3, "batch_size": 32, "optimizer": name, **extra}
        study, _, _ = read_study({"study": {"name": "t"}, "data": {"name": "moons"}, "model": {"hidden": [8]},
                                  "train": train})
        r = get_engine("torch").train(expand(study)[0], data, lambda e, m: None, "cpu")
        runs[name] = [{k: v for k, v in h.items() if k != "time_s"} for h in r.history]
    import torch
    module = sys.modules.get("torch._dynamo")
    print(json.dumps({"runs": runs, "dynamo": None if module is None else type(module).__name__,
                      "torch_attribute": "_dynamo" in torch.__dict__}))
""")


def run(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_every_optimizer_gives_the_same_numbers_without_importing_torch_dynamo():
    spared, preloaded = run(TRAIN, "spared"), run(TRAIN, "preloaded")
    assert spared["dynamo"] is None and not spared["torch_attribute"]  # never imported, the stand-in gone
    assert preloaded["dynamo"] == "module"
    assert set(spared["runs"]) == {"momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad", "adadelta",
                                   "lbfgs", "sgd"}
    for name, history in preloaded["runs"].items():
        assert len(history) == 3
        assert spared["runs"][name] == history, name  # every metric of every epoch, bit for bit
    lrs = [h["lr"] for h in spared["runs"]["momentum"]]
    assert lrs == [0.05, 0.025, 0.0125]  # the step schedule ran (StepLR on the optimizer)


GIVE_WAY = textwrap.dedent("""
    import json, sys
    import torch
    from nnstudy.engines._torch._eager import without_dynamo, _StandIn

    seen = {}
    p = torch.nn.Parameter(torch.ones(3))
    with without_dynamo():
        opt = torch.optim.SGD([p], lr=0.5)  # caches the stand-in's disable(add_param_group), ...
        (p * p).sum().backward()
        opt.step()
        seen["before"] = type(sys.modules["torch._dynamo"]).__name__
        import importlib.util
        seen["spec"] = importlib.util.find_spec("torch._dynamo").origin.endswith("__init__.py")  # no ValueError
        doubled = torch.compile(lambda t: t * 2, backend="eager")(torch.arange(3.0))  # needs the real one
        seen["compiled"] = doubled.tolist()
        seen["after_compile"] = isinstance(sys.modules["torch._dynamo"], _StandIn)
        real = sys.modules["torch._dynamo"]
        calls = []
        original = real.disable
        real.disable = lambda *a, **k: calls.append(1) or original(*a, **k)
        opt.zero_grad()  # disabled while the stand-in was torch._dynamo: now the real one wraps it
        (p * p).sum().backward()
        opt.step()
        seen["real_disable_calls"] = len(calls)
    seen["after_exit"] = sys.modules["torch._dynamo"] is real and torch._dynamo is real
    seen["p"] = p.detach().tolist()
    with without_dynamo():  # the real one already there: nothing replaced
        seen["kept"] = sys.modules["torch._dynamo"] is real
    print(json.dumps(seen))
""")


def test_the_stand_in_gives_way_to_the_real_torch_dynamo():
    seen = run(GIVE_WAY)
    assert seen["before"] == "_StandIn" and seen["spec"]
    assert seen["compiled"] == [0.0, 2.0, 4.0]
    assert seen["after_compile"] is False
    assert seen["real_disable_calls"] >= 1
    assert seen["after_exit"] and seen["kept"]
    assert seen["p"] == [0.0, 0.0, 0.0]  # 1 - 0.5 * 2 = 0, twice
