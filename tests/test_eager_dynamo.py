"""Training with torch.optim without importing torch._dynamo (engines/_torch/_eager.py): the same numbers as
with it, no import, and the real module in its place as soon as anything needs it.

Each case runs in a fresh interpreter: this one may have imported torch._dynamo already."""

import json
import subprocess
import sys
import textwrap

PRELUDE = textwrap.dedent("""
    import json, sys
    if sys.argv[-1] == "preloaded":
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
""")

TRAIN = PRELUDE + textwrap.dedent("""
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


def run(code: str, *args: str, cwd=None) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300, cwd=cwd)
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


OWN_LOOP = textwrap.dedent('''
    import torch


    def train(config, seed, data, report):
        x, y = torch.tensor(data.x_train), torch.tensor(data.y_train)
        net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
        opt = torch.optim.Adam(net.parameters(), lr=0.05)
        for epoch in range(1, 4):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
            report(epoch, train_loss=loss.item())
''')

RUN_OWN_LOOP = PRELUDE + textwrap.dedent("""
    from pathlib import Path
    trial = expand(read_study(Path(sys.argv[1]))[0])[0]
    r = get_engine("function").train(trial, data, lambda e, m: None)
    print(json.dumps({"runs": [h["train_loss"] for h in r.history],
                      "dynamo": type(sys.modules["torch._dynamo"]).__name__ if "torch._dynamo" in sys.modules
                      else None}))
""")


def test_a_users_own_torch_loop_runs_without_importing_torch_dynamo(tmp_path):
    (tmp_path / "own.py").write_text(OWN_LOOP)
    study = tmp_path / "own.toml"
    study.write_text('[study]\nname = "own"\n[data]\nname = "moons"\n[train]\nfunction = "own.py:train"\n')
    spared, preloaded = (run(RUN_OWN_LOOP, study.name, mode, cwd=tmp_path) for mode in ("spared", "preloaded"))
    assert spared["dynamo"] is None and preloaded["dynamo"] == "module"
    assert len(spared["runs"]) == 3 and spared["runs"] == preloaded["runs"]
    assert spared["runs"][-1] < spared["runs"][0]


RACE = textwrap.dedent("""
    import json, sys, threading
    import torch
    from nnstudy.engines._torch._eager import without_dynamo

    with without_dynamo():
        standin = sys.modules["torch._dynamo"]
        barrier, got = threading.Barrier(8), []

        def ask():
            barrier.wait()
            got.append(standin.config)  # each thread finds the stand-in lacking `config`: one import between them

        threads = [threading.Thread(target=ask) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        real = sys.modules["torch._dynamo"]
    print(json.dumps({"one_config": len({id(c) for c in got}) == 1 and got[0] is real.config,
                      "real": type(real).__name__, "attribute": torch._dynamo is real,
                      "kept": sys.modules["torch._dynamo"] is real}))
""")


def test_threads_asking_the_stand_in_at_once_share_one_real_module():
    seen = run(RACE)
    assert seen == {"one_config": True, "real": "module", "attribute": True, "kept": True}
