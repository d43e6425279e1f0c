"""Study files: validation errors (one line, exit 2, nothing written) and expansion into trials."""

import io
import re
from pathlib import Path

import pytest
from rich.console import Console

import nnstudy
from nnstudy.cli import main
from nnstudy.errors import StudyError
from nnstudy.spec import expand, read_study, swept_keys

BAD = sorted((Path(__file__).parent / "bad_studies").glob("*.toml"))


def expected(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: ")
    return first.removeprefix("# expect: ")


def test_corpus_is_large():
    assert len(BAD) >= 20


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_study_exits_2_with_one_line(path, tmp_path, capsys):
    store = tmp_path / "store"
    code = main(["run", str(path), "--store", str(store)])
    err = capsys.readouterr().err
    assert code == 2
    lines = [ln for ln in err.strip().splitlines() if "runs code from the study's files:" not in ln]  # the start line
    assert len(lines) == 1, err
    assert str(path) in lines[0]
    assert expected(path).lower() in lines[0].lower(), lines[0]
    assert "Traceback" not in err
    assert not store.exists()


def test_bad_set_override_is_rejected_like_the_file(tmp_path, capsys):
    study = tmp_path / "ok.toml"
    study.write_text('[study]\nname = "ok"\n[data]\nname = "moons"\n')
    code = main(["run", str(study), "--store", str(tmp_path / "s"), "--set", "train.lr=-1"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "train.lr" in err and "greater than 0" in err
    code = main(["run", str(study), "--store", str(tmp_path / "s"), "--set", "train.epochz=1"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "train.epochz: unknown key" in err
    code = main(["run", str(study), "--store", str(tmp_path / "s"), "--set", "nonsense"])
    assert code == 2 and "KEY=VALUE" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("setting, said", [
    ("model.hiden=[4]", "model.hiden: unknown key; did you mean model.hidden? (allowed: kind, hidden, "),
    ("train.early_stopping.patiense=3", "train.early_stopping.patiense: unknown key; did you mean "
                                        "train.early_stopping.patience? (allowed: patience, min_delta, "),
    ("data.nmae=1", "data.nmae: unknown key; did you mean data.name or data.normalize? (allowed: name, "),
    ("model.zzz=1", "model.zzz: unknown key (allowed: kind, hidden, activation"),
    # the suggestion and the hint at one's own data come before the long list that the line's cap cuts
    ("data.name=fashon-mnist", "data.name: unknown dataset 'fashon-mnist'; did you mean fashion-mnist? (your own: "
                               'name = "file" with path, or loader; built in: breast-cancer, '),
    ("data.name=zzz", "data.name: unknown dataset 'zzz' (your own: "),
    ("model.kind=resnet", "model.kind: unknown model kind 'resnet'; did you mean resnet18? (allowed: pca, "),
    ("model.kind=autoencoder", "model.kind: unknown model kind 'autoencoder' (allowed: pca, ")])
def test_an_unknown_key_dataset_or_model_kind_names_the_closest_first(tmp_path, capsys, setting, said):
    study = tmp_path / "ok.toml"
    study.write_text('[study]\nname = "ok"\n[data]\nname = "moons"\n')
    assert main(["run", str(study), "--store", str(tmp_path / "s"), "--set", setting]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"nnstudy: error: {study}: {said}") and len(err.splitlines()) == 1, err
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("folder", ["short", "x" * 60])
def test_a_long_list_of_allowed_keys_is_cut_at_its_tail_and_counted(tmp_path, capsys, folder):
    """[data] has over 30 keys: the line keeps the suggestion whole, then as many keys as fit in the line's
    300 characters, and says how many more there are (it was cut mid-name, the count in characters)."""
    from nnstudy._text import LINE_LIMIT
    from nnstudy.spec._schema import DataConfig

    (tmp_path / folder).mkdir()
    study = tmp_path / folder / "ok.toml"
    study.write_text('[study]\nname = "ok"\n[data]\nname = "moons"\nnme = 1\n')
    assert main(["run", str(study), "--store", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip()
    head = f"nnstudy: error: {study}: data.nme: unknown key; did you mean data.name? (allowed: name, "
    assert err.startswith(head) and len(err) <= LINE_LIMIT, err
    kept = err.removeprefix(head[:-len("name, ")]).split(", ... (")[0].split(", ")
    more = int(re.fullmatch(r".*, \.\.\. \((\d+) more in the study-file reference\)\)", err).group(1))
    assert kept == list(DataConfig.model_fields)[:len(kept)] and len(kept) + more == len(DataConfig.model_fields)
    assert "characters left out" not in err


def test_missing_file_and_bad_option(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.toml")]) == 2
    assert "no such study file" in capsys.readouterr().err
    assert main(["run", "x.toml", "--workers", "zero"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


GRID = """
[study]
name = "grid"
[data]
name = "moons"
[train]
epochs = 3
[sweep]
"train.lr" = [0.1, 0.01]
"model.hidden" = [[8], [8, 8]]
[trials]
seeds = 3
"""


def test_expansion_grid_times_seeds(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text(GRID)
    study, _, _ = read_study(path)
    trials = expand(study)
    assert len(trials) == 2 * 2 * 3
    assert swept_keys(study) == ["train.lr", "model.hidden"]
    assert len({t.trial_id for t in trials}) == 12
    assert {(t.point["train.lr"], tuple(t.point["model.hidden"]), t.seed) for t in trials} == {
        (lr, h, s) for lr in (0.1, 0.01) for h in ((8,), (8, 8)) for s in range(3)}
    t = trials[0]
    assert t.config["train"]["lr"] == t.point["train.lr"] and t.config["train"]["epochs"] == 3
    assert t.config["model"]["activation"] == "relu"  # fully resolved: defaults filled in


def test_trial_ids_are_stable_and_depend_on_config_and_seed(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text(GRID)
    a = expand(read_study(path)[0])
    b = expand(read_study(path)[0])
    assert [t.trial_id for t in a] == [t.trial_id for t in b]
    c = expand(read_study(path, {"train.epochs": 4})[0])
    assert not {t.trial_id for t in a} & {t.trial_id for t in c}
    renamed = expand(read_study(path, {"study.description": "other words"})[0])
    assert [t.trial_id for t in renamed] == [t.trial_id for t in a]


def test_several_grids_union_without_duplicates(tmp_path):
    path = tmp_path / "u.toml"
    path.write_text("""
[study]
name = "u"
[data]
name = "moons"
[[sweep]]
"model.hidden" = [[16], [16, 16]]
[[sweep]]
"model.hidden" = [[16, 16], [32, 32]]
"model.dropout" = [0.0]
""")
    study, _, _ = read_study(path)
    trials = expand(study)
    assert [t.point["model.hidden"] for t in trials] == [[16], [16, 16], [32, 32]]
    assert all(t.point["model.dropout"] == 0.0 for t in trials)


def test_dict_source_and_explicit_seeds():
    study, _, label = read_study({"study": {"name": "d"}, "data": {"name": "iris"},
                                  "trials": {"seeds": [5, 7]}})
    assert label == "<dict>"
    assert [t.seed for t in expand(study)] == [5, 7]
    with pytest.raises(StudyError, match="train.optimizer"):
        read_study({"study": {"name": "d"}, "data": {"name": "iris"}, "train": {"optimizer": "x"}})


def test_set_value_parsing(tmp_path):
    from nnstudy.spec import parse_overrides

    assert parse_overrides(["train.epochs=1", "model.hidden=[4, 4]", "train.batch_size=full",
                            "data.name=iris", "train.lr=1e-3"], "x") == {
        "train.epochs": 1, "model.hidden": [4, 4], "train.batch_size": "full", "data.name": "iris",
        "train.lr": 0.001}


def test_a_swept_default_value_keeps_its_cell():
    """inpaint_side = "bottom" is the default, left out of the dump so that ids stay put; the trial's point (the
    results table's cell) still names it, and the ids are those of the study without the sweep."""
    from nnstudy.spec import expand, read_study

    base = {"study": {"name": "s"}, "data": {"name": "digits"}, "model": {"kind": "rbm"}, "train": {"engine": "classical"}}
    study, _, _ = read_study({**base, "sweep": {"model.inpaint_side": ["top", "bottom"]}})
    trials = expand(study)
    assert [t.point for t in trials] == [{"model.inpaint_side": "top"}, {"model.inpaint_side": "bottom"}]
    plain, _, _ = read_study(base)
    assert trials[1].trial_id == expand(plain)[0].trial_id


def test_an_optimizer_key_is_refused_only_when_no_trial_reads_it(tmp_path, capsys):
    """train.momentum with sgd alone changes nothing (refused, --set or file, nothing written); swept beside
    the optimizers, the momentum ones read it and the study is valid (the sgd rows leave its cell empty)."""
    study = tmp_path / "s.toml"
    study.write_text('[study]\nname = "s"\n[data]\nname = "moons"\n[train]\noptimizer = "sgd"\n')
    code = main(["run", str(study), "--store", str(tmp_path / "store"), "--set", "train.momentum=0.5"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "train.momentum changes nothing: no trial reads it" in err
    assert 'SGD with momentum is optimizer = "momentum"' in err
    assert not (tmp_path / "store").exists()
    from nnstudy.spec._unread import check_read

    s, _, label = read_study(str(study), {"train.optimizer": "adam", "train.beta1": 0.5})
    check_read(s, expand(s, label), label)  # adam reads it
    both = {"study": {"name": "both"}, "data": {"name": "moons"},
            "sweep": {"train.optimizer": ["sgd", "momentum"], "train.momentum": [0.5, 0.9]}}
    s, _, label = read_study(both)
    trials = expand(s, label)
    check_read(s, trials, label)  # no error: the momentum trials read it
    assert len(trials) == 4
    s, _, label = read_study({**both, "sweep": {"train.optimizer": ["sgd", "adam"], "train.momentum": [0.5, 0.9]}})
    with pytest.raises(StudyError, match=r"train.momentum changes nothing: no trial reads it \(train.optimizer "
                                         r"= sgd, adam;"):
        check_read(s, expand(s, label), label)


def test_a_sweep_that_repeats_configurations_through_an_unread_key_says_so():
    """optimizer x momentum: the sgd and adam configurations do not read momentum, so 2 of 6 repeat another;
    the same keys in [[sweep]] tables of their own repeat nothing and say nothing."""
    from nnstudy.spec._unread import repeated_note

    grid = {"study": {"name": "g"}, "data": {"name": "moons"},
            "sweep": {"train.optimizer": ["sgd", "momentum", "adam"], "train.momentum": [0.5, 0.9]}}
    s, _, label = read_study(grid)
    note = repeated_note(s, expand(s, label))
    assert note is not None and note.startswith("train.momentum: 2 of 6 configurations repeat another")
    tables = {**grid, "sweep": [{"train.optimizer": ["sgd", "adam"]},
                                {"train.optimizer": ["momentum"], "train.momentum": [0.5, 0.9]}]}
    s, _, label = read_study(tables)
    assert repeated_note(s, expand(s, label)) is None


def test_a_search_over_a_key_its_configurations_never_read_is_refused():
    """Searching train.momentum with optimizer sgd explores nothing; with the optimizer among the choices, or
    min_delta beside a searched patience, some configurations read it."""
    from nnstudy.api import prepare

    base = {"study": {"name": "s"}, "data": {"name": "moons"}, "train": {"optimizer": "sgd"},
            "search": {"trials": 4, "space": {"train.lr": {"low": 0.01, "high": 0.1},
                                              "train.momentum": {"low": 0.5, "high": 0.99}}}}
    with pytest.raises(StudyError, match=r"train.momentum changes nothing: no trial reads it \(train.optimizer = sgd"):
        prepare(base)
    prepare({**base, "search": {"trials": 4, "space": {"train.momentum": {"low": 0.5, "high": 0.99},
                                                       "train.optimizer": {"choices": ["sgd", "momentum"]}}}})
    stopping = {"train.early_stopping.min_delta": {"low": 0.0, "high": 0.1}}
    prepare({**base, "search": {"trials": 4, "space": {
        **stopping, "train.early_stopping.patience": {"low": 0, "high": 5, "int": True}}}})
    with pytest.raises(StudyError, match="min_delta changes nothing: early stopping is off"):
        prepare({**base, "search": {"trials": 4, "space": stopping}})


GENERATIVE_MODELS = {"ae": {"hidden": [16], "encoding_dim": 4}, "vae": {"hidden": [16], "latent_dim": 4},
                     "stacked_ae": {"hidden": [16], "encoding_dim": 4, "pretrain_epochs": 1},
                     "gan": {"hidden": [16, 16], "latent_dim": 4}}


@pytest.mark.parametrize("kind", sorted(GENERATIVE_MODELS))
def test_a_generative_kind_takes_the_loop_keys_its_loop_reads_and_refuses_the_others(kind):
    """The autoencoders' and GANs' own loops read epochs and batch_size (engines/_torch/_autoencoders.py,
    _gan.py: batch_plan), not l1, l2 or grad_noise; the autoencoders stop early (EpochLog), a GAN never does
    (its check asks for patience = 0)."""
    from nnstudy.api import prepare

    base = {"study": {"name": "g"}, "data": {"name": "digits", "normalize": "minmax"},
            "model": {"kind": kind, **GENERATIVE_MODELS[kind]}, "train": {"optimizer": "adam", "lr": 0.001}}
    prepare({**base, "train": {**base["train"], "epochs": 3, "batch_size": 32, "weight_decay": 0.01}})
    prepare({**base, "sweep": {"train.batch_size": [16, 64], "train.epochs": [1, 2]}})
    for key in ("l1", "l2", "grad_noise"):
        with pytest.raises(StudyError, match=rf"train.{key} changes nothing: model.kind = {kind} does not read it"):
            prepare({**base, "train": {**base["train"], key: 0.01}})
        with pytest.raises(StudyError, match=rf"train.{key} changes nothing"):
            prepare({**base, "search": {"trials": 2, "space": {f"train.{key}": {"low": 0.0, "high": 0.1}}}})
    stopping = {**base, "train": {**base["train"], "early_stopping": {"patience": 0, "restore_best": False}}}
    if kind == "gan":
        with pytest.raises(StudyError, match="train.early_stopping.patience changes nothing: model.kind = gan does "
                                             "not stop early"):
            prepare(stopping)
    else:
        prepare({**base, "train": {**base["train"], "early_stopping": {"patience": 3, "restore_best": False}}})
        with pytest.raises(StudyError, match="restore_best changes nothing: early stopping is off"):
            prepare(stopping)


def test_a_given_network_refuses_a_training_key_on_the_command_line(tmp_path, capsys):
    """kind = "given" is evaluated with its weights, never trained: --set train.epochs=5 is one line and exit 2
    with the store untouched (every key: test_a_given_network_refuses_the_train_keys_its_evaluation_does_not_read);
    the same network without it runs."""
    study = tmp_path / "g.toml"
    study.write_text('[study]\nname = "g"\n[data]\nname = "interval-sum"\ndim = 6\ninterval = [2, 4]\n'
                     'normalize = "none"\n[model]\nkind = "given"\n[[model.layers]]\nw = [[1, 1, 1, 1, 1, 1]]\n'
                     'b = [-1.5]\n'
                     '[train]\nengine = "numpy"\n')
    assert main(["run", str(study), "--store", str(tmp_path / "store"), "--set", "train.epochs=5"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "train.epochs changes nothing" in err and not (tmp_path / "store").exists()
    assert main(["run", str(study), "--store", str(tmp_path / "store"), "--quiet"]) == 0


def test_a_sweep_of_kinds_takes_a_penalty_that_one_of_them_reads():
    """l2 over an MLP and a VAE: the MLP's trials read it, so the study is valid; over the VAE alone it is not."""
    from nnstudy.api import prepare

    study = {"study": {"name": "g"}, "data": {"name": "digits", "normalize": "minmax"},
             "train": {"optimizer": "adam", "lr": 0.001, "l2": 0.001},
             "sweep": [{"model.kind": ["mlp"]}, {"model.kind": ["vae"], "model.latent_dim": [4]}]}
    prepare(study)
    with pytest.raises(StudyError, match=r"train.l2 changes nothing: model.kind = vae does not read it \(its own "
                                         r"training loop adds no penalty and no gradient noise\)"):
        prepare({**study, "sweep": [{"model.kind": ["vae"], "model.latent_dim": [4]}]})


def test_train_dtype_is_refused_for_the_classical_kinds_that_compute_in_their_own_precision(tmp_path, capsys):
    """No module of engines/_classical reads train.dtype (scikit-learn, XGBoost, MiniSom and the Boltzmann
    machines compute in their own precision): set by --set, in [train], swept or searched for a classical kind
    it is one line; beside an MLP, whose loop reads it, the study is valid."""
    from nnstudy.api import prepare

    study = tmp_path / "s.toml"
    study.write_text('[study]\nname = "s"\n[data]\nname = "iris"\n[model]\nkind = "random_forest"\n'
                     '[train]\nengine = "classical"\n')
    code = main(["run", str(study), "--store", str(tmp_path / "store"), "--set", "train.dtype=float64"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "train.dtype changes nothing: model.kind = random_forest does not read it" in err
    assert not (tmp_path / "store").exists()
    base = {"study": {"name": "c"}, "data": {"name": "digits", "train_size": 200},
            "model": {"kind": "rbm"}, "train": {"engine": "classical"}}
    for study in ({**base, "train": {**base["train"], "dtype": "float64"}},
                  {**base, "sweep": {"train.dtype": ["float32", "float64"]}},
                  {**base, "search": {"trials": 2, "space": {"train.dtype": {"choices": ["float32", "float64"]}}}}):
        with pytest.raises(StudyError, match="train.dtype changes nothing: model.kind = rbm does not read it"):
            prepare(study)
    prepare({"study": {"name": "m"}, "data": {"name": "iris"}, "train": {"dtype": "float64"},
             "sweep": [{"model.kind": ["mlp"]}, {"model.kind": ["xgboost"], "train.engine": ["classical"]}]})
    prepare({**base, "model": {"kind": "vae", "hidden": [16], "latent_dim": 4}, "train": {"dtype": "float64"},
             "data": {"name": "digits", "normalize": "minmax"}})  # the autoencoders' loop reads it


def test_checkpoint_every_is_refused_where_no_trial_keeps_a_checkpoint():
    """GANs and the classical engine keep no checkpoint (docs/checkpoints.md); the shared loops and the
    autoencoders' loop do, so a sweep with one of those is valid. (A sweep of checkpoint_every itself is an
    unknown key: it is no part of the trial id.)"""
    from nnstudy.api import prepare

    gan = {"study": {"name": "g"}, "data": {"name": "digits", "normalize": "minmax"},
           "model": {"kind": "gan", "hidden": [16, 16], "latent_dim": 4},
           "train": {"optimizer": "adam", "lr": 0.001, "checkpoint_every": 5}}
    with pytest.raises(StudyError, match="train.checkpoint_every changes nothing: model.kind = gan keeps no "
                                         "checkpoint"):
        prepare(gan)
    with pytest.raises(StudyError, match="train.checkpoint_every changes nothing: model.kind = xgboost keeps no"):
        prepare({"study": {"name": "x"}, "data": {"name": "iris"}, "model": {"kind": "xgboost"},
                 "train": {"engine": "classical"}}, {"train.checkpoint_every": 0})
    prepare({**gan, "sweep": [{"model.kind": ["gan"]}, {"model.kind": ["vae"], "model.hidden": [[16]]}]})
    prepare({**gan, "model": {"kind": "ae", "hidden": [16], "encoding_dim": 4}})
    prepare({"study": {"name": "m"}, "data": {"name": "iris"}, "train": {"checkpoint_every": 1}})


CNN = {"study": {"name": "c"}, "data": {"name": "digits", "train_size": 200},
       "model": {"kind": "cnn", "blocks": [{"channels": 4, "pool": "max"}], "hidden": []}}


def test_a_cnn_without_hidden_dense_layers_refuses_its_activation_and_keeps_its_dropout():
    """The CNN's model.activation goes after its hidden dense layers only (engines/_torch/_cnn.py
    _with_activations): with hidden = [] it is read by no trial, in [model], --set, a sweep or a search; its
    model.dropout precedes the output layer too, so it is read. Swept beside a hidden layer, it is valid."""
    from nnstudy.api import prepare

    refused = "model.activation changes nothing: no trial has a hidden layer"
    with pytest.raises(StudyError, match=refused):
        prepare({**CNN, "model": {**CNN["model"], "activation": "tanh"}})
    with pytest.raises(StudyError, match=refused):
        prepare(CNN, {"model.activation": "tanh"})
    with pytest.raises(StudyError, match=refused):
        prepare({**CNN, "sweep": {"model.activation": ["relu", "tanh"]}})
    with pytest.raises(StudyError, match=refused):
        prepare({**CNN, "search": {"trials": 2, "space": {"model.activation": {"choices": ["relu", "tanh"]}}}})
    prepare({**CNN, "model": {**CNN["model"], "dropout": 0.5}})
    prepare({**CNN, "model": {**CNN["model"], "activation": "tanh"}, "sweep": {"model.hidden": [[], [16]]}})
    prepare({**CNN, "model": {**CNN["model"], "hidden": [16], "activation": "tanh"}})


def test_an_autoencoder_without_hidden_layers_refuses_its_activation_unless_it_convolves():
    """An MLP autoencoder with hidden = [] is one linear layer each way (_generative_nets.mlp puts the activation
    between layers only); a conv one reads model.activation in its blocks, and the stacked one after every
    encoder layer."""
    from nnstudy.api import prepare

    base = {"study": {"name": "a"}, "data": {"name": "digits", "normalize": "minmax"}}
    for kind, model in (("ae", {"encoding_dim": 4}), ("vae", {"latent_dim": 4})):
        with pytest.raises(StudyError, match="model.activation changes nothing: no trial has a hidden layer"):
            prepare({**base, "model": {"kind": kind, "hidden": [], "activation": "tanh", **model}})
        prepare({**base, "model": {"kind": kind, "activation": "tanh", "architecture": "conv", "channels": [4],
                                   **model}})
    prepare({**base, "model": {"kind": "stacked_ae", "hidden": [], "encoding_dim": 4, "activation": "tanh"}})


DCGAN = {"study": {"name": "d"}, "data": {"name": "digits", "normalize": "minmax"},
         "model": {"kind": "gan", "architecture": "conv", "channels": [4], "latent_dim": 4},
         "train": {"optimizer": "adam", "lr": 0.001}}


@pytest.mark.parametrize("key, value", [("activation", "tanh"), ("hidden", [32])])
def test_a_dcgan_refuses_the_activation_and_hidden_its_fixed_layers_do_not_read(key, value):
    """A DCGAN (engines/_torch/_generative_nets.py GAN, architecture = "conv") builds relu / leaky relu blocks of
    model.channels: model.activation and model.hidden reach no layer, in [model], --set, a sweep or a search. Only
    a key the study sets counts (the defaults are present in every config); a sweep or search over the
    architecture that builds an MLP pair reads them."""
    from nnstudy.api import prepare

    refused = rf"model.{key} changes nothing: no trial reads it \(architecture = \"conv\""
    with pytest.raises(StudyError, match=refused):
        prepare({**DCGAN, "model": {**DCGAN["model"], key: value}})
    with pytest.raises(StudyError, match=refused):
        prepare(DCGAN, {f"model.{key}": value})
    with pytest.raises(StudyError, match=refused):
        prepare({**DCGAN, "sweep": {f"model.{key}": [value, [16]] if key == "hidden" else [value, "relu"]}})
    with pytest.raises(StudyError, match=refused):
        prepare({**DCGAN, "search": {"trials": 2, "space": {f"model.{key}": {"choices": [value]}}}})
    prepare(DCGAN)
    prepare({**DCGAN, "model": {**DCGAN["model"], key: value}, "sweep": {"model.architecture": ["mlp", "conv"]}})
    prepare({**DCGAN, "model": {**DCGAN["model"], key: value},
             "search": {"trials": 2, "space": {"model.architecture": {"choices": ["mlp", "conv"]}}}})


@pytest.mark.parametrize("kind, model", [("ae", {"encoding_dim": 4}), ("vae", {"latent_dim": 4})])
def test_a_conv_autoencoder_refuses_hidden_and_reads_its_activation(kind, model):
    """encoder_decoder builds a conv autoencoder from model.channels alone: its model.hidden is read by no trial
    (its activation is, in every block); swept beside the MLP architecture it is read."""
    from nnstudy.api import prepare

    conv = {"study": {"name": "a"}, "data": {"name": "digits", "normalize": "minmax"},
            "model": {"kind": kind, "architecture": "conv", "channels": [4], **model}}
    with pytest.raises(StudyError, match=r"model.hidden changes nothing: no trial reads it \(architecture = "
                                         r"\"conv\": its layers are the stride-2 blocks of model.channels\)"):
        prepare({**conv, "model": {**conv["model"], "hidden": [32]}})
    with pytest.raises(StudyError, match="model.hidden changes nothing"):
        prepare({**conv, "sweep": {"model.hidden": [[16], [32]]}})
    prepare(conv)
    prepare({**conv, "model": {**conv["model"], "activation": "tanh"}})
    prepare({**conv, "model": {**conv["model"], "hidden": [32]}, "sweep": {"model.architecture": ["conv", "mlp"]}})


GIVEN_ONE_LAYER = {"study": {"name": "g"}, "train": {"engine": "numpy"},
                   "data": {"name": "interval-sum", "dim": 3, "interval": [2, 3], "normalize": "none"},
                   "model": {"kind": "given", "layers": [{"w": [[1, 1, 1]], "b": [-1.5]}]}}


def test_a_given_network_of_one_layer_refuses_its_activation_and_sign_zero():
    """given_network puts model.activation (and sign_zero, its sign(0)) between layers only, none after the
    output: a network of one layer reads neither; with two layers (the kind's example) it reads both."""
    from nnstudy.api import prepare
    from nnstudy.kinds import get

    for model in ({"activation": "relu"}, {"activation": "sign"}, {"sign_zero": 1}):
        key = f"model.{next(iter(model))}"
        with pytest.raises(StudyError, match=rf"{key} changes nothing: no trial has a hidden layer \(model.layers "
                                             rf"holds one layer: a linear model\), and {key} acts on hidden"):
            prepare({**GIVEN_ONE_LAYER, "model": {**GIVEN_ONE_LAYER["model"], **model}})
    with pytest.raises(StudyError, match="model.activation changes nothing"):
        prepare({**GIVEN_ONE_LAYER, "sweep": {"model.activation": ["relu", "tanh"]}})
    prepare(GIVEN_ONE_LAYER)
    example = dict(get("given").example)
    prepare({"study": {"name": "e"}, **example, "model": {"kind": "given", **example["model"], "sign_zero": 1}})


def test_a_penalty_no_kind_of_a_sweep_reads_is_refused_in_each_kinds_words():
    """A sweep of a GAN and XGBoost with train.l2: the GAN's own loop adds no penalty, XGBoost's settings are
    [model] keys; the refusal says each, not one kind's words for both."""
    from nnstudy.api import prepare

    study = {"study": {"name": "k"}, "data": {"name": "digits", "normalize": "minmax"}, "train": {"l2": 0.001},
             "sweep": [{"model.kind": ["gan"], "model.hidden": [[16, 16]], "model.latent_dim": [4]},
                       {"model.kind": ["xgboost"], "train.engine": ["classical"]}]}
    with pytest.raises(StudyError, match=r"train.l2 changes nothing: model.kind = gan does not read it \(its own "
                                         r"training loop adds no penalty and no gradient noise\); model.kind = "
                                         r"xgboost does not read it \(its settings are \[model\] keys\); leave"):
        prepare(study)


GENERATIVE = {"ae": {"encoding_dim": 4}, "vae": {"latent_dim": 4}, "gan": {"latent_dim": 4}}


@pytest.mark.parametrize("kind", sorted(GENERATIVE))
def test_an_mlp_autoencoder_vae_or_gan_refuses_channels(kind, tmp_path, capsys):
    """encoder_decoder and GAN (engines/_torch/_generative_nets.py) build architecture = "mlp" (the default) from
    model.hidden alone: model.channels reaches no layer, in [model], --set, a sweep or a search, and the run
    exits 2 with one line and no store. With architecture = "conv", or swept beside it, channels is read, and
    a conv network with its own channels trains."""
    from nnstudy.api import prepare

    study = {"study": {"name": "c"}, "data": {"name": "digits", "normalize": "minmax", "train_size": 64},
             "model": {"kind": kind, "hidden": [16], **GENERATIVE[kind]},
             "train": {"optimizer": "adam", "lr": 0.001, "batch_size": 32, "epochs": 1}, "trials": {"seeds": 1}}
    refused = (r"model.channels changes nothing: no trial reads it \(architecture = \"mlp\": its layers are the "
               r"widths of model.hidden\); leave model.channels out")
    with pytest.raises(StudyError, match=refused):
        prepare({**study, "model": {**study["model"], "channels": [8]}})
    with pytest.raises(StudyError, match=refused):
        prepare(study, {"model.channels": [8]})
    with pytest.raises(StudyError, match=refused):
        prepare({**study, "sweep": {"model.channels": [[4], [8]]}})
    with pytest.raises(StudyError, match=refused):
        prepare({**study, "search": {"trials": 2, "space": {"model.channels": {"choices": [[4], [8]]}}}})
    from conftest import write_study

    store = tmp_path / "store"
    path = write_study(tmp_path, {**study, "model": {**study["model"], "channels": [8]}})
    assert main(["run", str(path), "--store", str(store)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{path}: model.channels changes nothing" in err[0] and not store.exists()
    prepare(study)
    prepare({**study, "model": {**study["model"], "channels": [8]}, "sweep": {"model.architecture": ["mlp", "conv"]}})
    prepare({**study, "model": {**study["model"], "channels": [8]},
             "search": {"trials": 2, "space": {"model.architecture": {"choices": ["mlp", "conv"]}}}})
    conv = {**study, "study": {"name": "conv"}, "model": {"kind": kind, "architecture": "conv", "channels": [4],
                                                          **GENERATIVE[kind]}}
    assert main(["run", str(write_study(tmp_path, conv)), "--store", str(store)]) == 0


GIVEN = {"study": {"name": "given"}, "train": {"engine": "numpy"}, "trials": {"seeds": 1},
         "data": {"name": "interval-sum", "dim": 6, "interval": [2, 4], "normalize": "none"},
         "model": {"kind": "given", "layers": [{"w": [[1] * 6, [1] * 6], "b": [-1.5, -4.5]},
                                               {"w": [[1, -1]], "b": [-0.5]}]}}  # the kind's example
EVALUATED = "a network with given weights is evaluated, not trained"


def test_seeds_of_a_given_network_say_they_give_the_same_numbers_unless_each_draws_its_split(tmp_path):
    """A network with given weights reads no seed: 3 seeds are the same trial three times (standard errors of 0),
    said at the start; with data.split_seed = "seed" each seed draws its own split and nothing is said."""
    from nnstudy.spec._unread import unseeded_note

    def note(**changes):
        s, _, label = read_study({**GIVEN, **changes})
        return unseeded_note(expand(s, label))

    assert note(trials={"seeds": 3}) == (
        'trials.seeds: model.kind = "given" reads no seed, so each configuration\'s 3 seeds give the same numbers '
        '(and standard errors of 0); set trials.seeds = 1, or data.split_seed = "seed" draws each seed\'s own split')
    assert note() is None  # one seed
    assert note(trials={"seeds": 3}, data={**GIVEN["data"], "split_seed": "seed"}) is None
    mlp = {"trials": {"seeds": 3}, "model": {"hidden": [4]}, "train": {"engine": "numpy", "epochs": 1}}
    assert note(**mlp) is None  # an MLP draws its weights from the seed
    out = io.StringIO()
    nnstudy.run({**GIVEN, "trials": {"seeds": 2}}, store=tmp_path / "runs", workers=1,
                console=Console(file=out, width=400))
    assert 'model.kind = "given" reads no seed, so each configuration\'s 2 seeds' in out.getvalue()
    s, _, label = read_study({"study": {"name": "sine"}, "data": {"name": "sine"}, "trials": {"seeds": 3},
                              "model": {"hidden": [8]}, "sweep": [{"model.kind": ["mlp"]},
                                                   {"model.kind": ["ols"], "train.engine": ["classical"]}]})
    assert unseeded_note(expand(s, label)) == (  # the MLP needs its seeds: no advice to drop them
        'trials.seeds: model.kind = "ols" reads no seed, so each configuration\'s 3 seeds give the same numbers (and '
        'standard errors of 0); data.split_seed = "seed" draws each seed\'s own split')


@pytest.mark.parametrize("key, value, says", [
    ("lr", 0.01, f"no trial reads it (model.kind = given has no optimizer: {EVALUATED}; read by gradient-descent "
                 "training)"),
    ("optimizer", "adam", f"no trial reads it (model.kind = given has no optimizer: {EVALUATED}; read by "
                          "gradient-descent training)"),
    ("momentum", 0.5, f"no trial reads it (model.kind = given has no optimizer: {EVALUATED}; read by momentum, "
                      "nesterov)"),
    ("weight_decay", 0.1, f"no trial reads it (model.kind = given has no optimizer: {EVALUATED}; read by sgd, "),
    ("schedule.kind", "step", f"no trial reads it (model.kind = given has no optimizer: {EVALUATED}; read by"),
    ("schedule.step_size", 2, f"no trial reads it (model.kind = given has no optimizer: {EVALUATED})"),
    *((name, value, f"model.kind = given does not read it ({EVALUATED})") for name, value in (
        ("epochs", 3), ("batch_size", 8), ("l1", 0.1), ("l2", 0.1), ("grad_noise", 0.1), ("dtype", "float64"),
        ("checkpoint_every", 2))),
    ("early_stopping.patience", 2, "model.kind = given does not stop early"),
])
def test_a_given_network_refuses_the_train_keys_its_evaluation_does_not_read(key, value, says):
    """evaluate_given (engines/_numpy/_train.py) builds the network from the [model] section and evaluates it once
    in float64: no optimizer, schedule, loop key or early stopping reaches it (train.steps, log_every_steps,
    precision, save_weights and the plateau schedule were refused already). train.engine = "numpy" it reads."""
    from nnstudy.api import prepare

    refused = f"train.{key} changes nothing: {says}"
    with pytest.raises(StudyError, match=re.escape(refused)):
        prepare(GIVEN, {f"train.{key}": value})
    if key != "checkpoint_every":  # no part of the trial id: not swept
        with pytest.raises(StudyError, match=re.escape(refused)):
            prepare({**GIVEN, "sweep": {f"train.{key}": [value]}})


def test_a_given_network_beside_a_trained_one_and_alone_runs(tmp_path):
    """A sweep of the given network and an MLP that reads train.lr and train.epochs is valid and runs (the given
    one evaluated once: epoch 0); the given network alone runs with train.engine, the one train key it reads."""
    import nnstudy
    from conftest import write_study

    both = {**GIVEN, "train": {"engine": "numpy", "lr": 0.05, "epochs": 2},
            "sweep": [{"model.kind": ["given"]}, {"model.kind": ["mlp"], "model.hidden": [[4]]}]}
    trials = nnstudy.run(both, store=tmp_path / "store", workers=1).trials()
    assert list(trials["status"]) == ["done", "done"] and list(trials["epochs_run"]) == [0, 2]
    assert main(["run", str(write_study(tmp_path, {**GIVEN, "study": {"name": "alone"}})), "--store",
                 str(tmp_path / "store")]) == 0


DIGITS_GEN = {"study": {"name": "u"}, "data": {"name": "digits", "normalize": "minmax"},
              "train": {"optimizer": "adam", "lr": 0.001}}


@pytest.mark.parametrize("study, key, unread", [
    ({"study": {"name": "u"}, "data": {"name": "iris"}, "sweep": [
        {"model.kind": ["mlp"]}, {"model.kind": ["xgboost"], "train.engine": ["classical"]}]}, "train.epochs",
     [False, True]),
    ({**DIGITS_GEN, "model": {"kind": "ae", "architecture": "conv", "channels": [4]},
      "sweep": {"model.kind": ["ae", "gan"]}}, "model.activation", [False, True]),
    ({**DIGITS_GEN, "model": {"kind": "gan"}, "sweep": {"model.architecture": ["mlp", "conv"]}}, "model.channels",
     [True, False]),
    ({**DIGITS_GEN, "model": {"kind": "gan"}, "sweep": {"model.architecture": ["mlp", "conv"]}}, "model.hidden",
     [False, True]),
    ({**GIVEN, "sweep": [{"model.kind": ["given"]}, {"model.kind": ["mlp"]}]}, "train.lr", [True, False]),
    ({**GIVEN, "sweep": [{"model.kind": ["given"]}, {"model.kind": ["mlp"]}]}, "train.dtype", [True, False]),
    ({"study": {"name": "u"}, "data": {"name": "iris"}, "sweep": {"train.early_stopping.patience": [0, 3]}},
     "train.early_stopping.min_delta", [True, False]),
    ({"study": {"name": "u"}, "data": {"name": "iris"}, "sweep": {"train.schedule.kind": ["none", "step"]}},
     "train.schedule.gamma", [True, False]),
    ({"study": {"name": "u"}, "data": {"name": "iris"}, "sweep": {"train.optimizer": ["sgd", "momentum"]}},
     "train.momentum", [True, False]),
])
def test_unread_tells_each_configuration_of_a_sweep_apart(study, key, unread):
    """spec/_unread.unread: per configuration what check_read refuses where no configuration reads it (the
    report leaves such a cell empty and the key out of the configuration's legend and label)."""
    from nnstudy.spec._unread import distinct, unread as unread_by

    study, _, label = read_study(study)
    assert [unread_by(t.config, key) for t in distinct(expand(study, label))] == unread


def test_a_sweep_that_repeats_configurations_through_an_unread_model_or_loop_key_says_so():
    """Not only the optimizer's keys: a DCGAN's activation swept beside a conv autoencoder's, an MLP GAN's channels
    beside a DCGAN's, epochs for XGBoost beside an MLP each leave configurations that repeat another."""
    from nnstudy.spec._unread import repeated_note

    for study, key, repeats in (
            ({**DIGITS_GEN, "model": {"kind": "ae", "architecture": "conv", "channels": [4]},
              "sweep": {"model.kind": ["ae", "gan"], "model.activation": ["relu", "tanh"]}}, "model.activation",
             "1 of 4"),
            ({**DIGITS_GEN, "model": {"kind": "gan"},
              "sweep": {"model.architecture": ["mlp", "conv"], "model.channels": [[4], [8]]}}, "model.channels",
             "1 of 4"),
            ({"study": {"name": "u"}, "data": {"name": "iris"}, "sweep": [
                {"model.kind": ["mlp"], "train.epochs": [1, 2]},
                {"model.kind": ["xgboost"], "train.engine": ["classical"], "train.epochs": [1, 2]}]}, "train.epochs",
             "1 of 4")):
        s, _, label = read_study(study)
        note = repeated_note(s, expand(s, label))
        assert note is not None and note.startswith(f"{key}: {repeats} configurations repeat another but for this "
                                                    f"key, which they do not read"), note
