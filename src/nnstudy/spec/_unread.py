"""Keys a study sets that none of its trials reads: refused in one line (``check_read``), since they would train
as if they were not there (``momentum = 0.5`` with ``optimizer = "sgd"`` is plain SGD; ``train.epochs`` for
XGBoost, whose rounds are model.n_estimators, changes nothing); and a sweep that trains a configuration again
because only such a key differs says so at the start (``repeated_note``), as do seeds that change nothing
(``unseeded_note``)."""

from __future__ import annotations

import copy
import json
from typing import Any, Callable, NamedTuple

from ._load import set_dotted
from ._unused import OPTIMIZER_KEYS, OPTIMIZER_TRAIN_KEYS, own_optimizer_keys, no_optimizer_kinds, unused


def distinct(trials: list) -> list:
    """One trial per configuration (the seeds of one configuration read the same keys): a configuration is its
    grid point (and [[sweep]] table), as expand made it."""
    return list({(json.dumps(t.point, sort_keys=True, default=str), t.label): t for t in trials}.values())


def check_read(study: Any, trials: list, label: str) -> None:
    """A train key that the study sets (in [train], by --set or in a sweep) and that no trial reads would train
    as if it were not there: ``momentum = 0.5`` with ``optimizer = "sgd"`` is plain SGD, ``lr`` for XGBoost (its
    rate is model.learning_rate) changes nothing. One line naming the key and who reads it, instead of trials
    that look as if it mattered. A search's space counts as set, its trials being what it can propose (the ends
    of the dimensions that decide who reads what: the optimizer, the schedule, patience, the hidden layers). A
    training function of the user's (train.function) may read any key: not checked."""
    from ..errors import StudyError

    if study.train.function:
        return
    space = study.search.space if study.search.active else {}
    if "model.kind" in space or "train.function" in space:
        return
    trials = _proposable(space, distinct(trials)) if space else distinct(trials)
    train = study.train
    given = {f"train.{name}" for name in train.model_fields_set} | {
        f"train.schedule.{name}" for name in train.schedule.model_fields_set} | {
        f"train.early_stopping.{name}" for name in train.early_stopping.model_fields_set} | {
        key for grid in study.grids() for key in grid} | set(space)
    given |= {f"model.{name}" for name in study.model.model_fields_set}
    _check_loop_keys(given, trials, label)
    _check_model_keys(given, trials, label)
    for key in sorted(given & set(OPTIMIZER_TRAIN_KEYS)):
        if any(not unused(_row(t.config), key, {}) for t in trials):
            continue
        trained_by, optimizers = _trained_by(trials)
        readers = ", ".join(OPTIMIZER_KEYS.get(key, ())) or "gradient-descent training"
        hint = 'SGD with momentum is optimizer = "momentum"; ' if key == "train.momentum" and optimizers else ""
        advice = f"use one of those or leave {key} out" if optimizers else f"leave {key} out"
        raise StudyError(f"{label}: {key} changes nothing: no trial reads it ({trained_by}; read by {readers}); "
                         f"{hint}{advice}")


DECIDING = ("train.optimizer", "train.schedule.kind", "train.early_stopping.patience", "model.hidden",
            "model.architecture")


def _proposable(space: dict, trials: list) -> list:
    """A search's base trials with each combination of the ends of its DECIDING dimensions (every choice of a
    categorical one): the configurations that decide which keys its trials read."""
    import itertools
    from types import SimpleNamespace

    deciding = [(key, space[key].ends()) for key in DECIDING if key in space]
    out = []
    for t in trials:
        for combo in itertools.product(*(ends for _, ends in deciding)):
            config = copy.deepcopy(t.config)
            for (key, _), value in zip(deciding, combo):
                set_dotted(config, key, value, "<search>", "search.space")
            out.append(SimpleNamespace(config=config, point=dict(zip((k for k, _ in deciding), combo)), label=None))
    return out


STOPPING = "train.early_stopping."
# what a kind's own loop may leave unread (Kind.reads), and how a refusal says so when not as for the others
LOOP_KEYS = ("epochs", "batch_size", "l1", "l2", "grad_noise", "dtype", "checkpoint_every")
NOT_READ = {"dtype": "does not read it (it computes in its own library's precision)",
            "checkpoint_every": "keeps no checkpoint (an interrupted trial starts again from epoch 1: "
                                "docs/checkpoints.md)"}
OWN_LOOP = "does not read it (its own training loop adds no penalty and no gradient noise)"  # ae, vae, gan
EVALUATED = "a network with given weights is evaluated, not trained"  # given: engines/_numpy/_train.evaluate_given
# engine of the kind's own loop -> key -> how a refusal says why, before NOT_READ; else SETTINGS (the classical
# kinds: XGBoost's rounds are model.n_estimators). "optimizer": why a kind without one has none (_trained_by)
NOT_READ_BY_ENGINE = {"torch": {"l1": OWN_LOOP, "l2": OWN_LOOP, "grad_noise": OWN_LOOP},
                      "numpy": {**dict.fromkeys(LOOP_KEYS, f"does not read it ({EVALUATED})"), "optimizer": EVALUATED}}
SETTINGS = "does not read it (its settings are [model] keys)"
SCHEDULE_READERS = {"train.schedule.step_size": ("step",), "train.schedule.gamma": ("step", "plateau")}


def _check_loop_keys(given: set[str], trials: list, label: str) -> None:
    """Early stopping's keys where no trial stops early (its kind's loop never does, or patience is 0 everywhere:
    min_delta without patience), epochs, batch_size, a penalty, dtype or checkpoint_every that no trial's loop
    reads (XGBoost's rounds are model.n_estimators; a GAN keeps no checkpoint), and a schedule's step_size or gamma
    where no trial's schedule takes it."""
    from ..errors import StudyError
    from ..kinds import of

    for key in sorted(k for k in given if k.startswith(STOPPING)):
        if not any(of(t.config["model"]).early_stopping for t in trials):
            kinds = ", ".join(dict.fromkeys(t.config["model"]["kind"] for t in trials))
            raise StudyError(f"{label}: {key} changes nothing: model.kind = {kinds} does not stop early; leave "
                             f"train.early_stopping out")
        if key != STOPPING + "patience" and not any(t.config["train"]["early_stopping"]["patience"] for t in trials):
            raise StudyError(f"{label}: {key} changes nothing: early stopping is off (train.early_stopping.patience "
                             f"= 0); set patience to the epochs without improvement it waits, or leave {key} out")
    for name in LOOP_KEYS:
        if f"train.{name}" in given and all(unread(t.config, f"train.{name}") for t in trials):
            raise StudyError(f"{label}: train.{name} changes nothing: {_not_read_by(trials, name)}; leave "
                             f"train.{name} out")
    used = [t.config["train"]["schedule"]["kind"] for t in trials]
    for key, kinds in SCHEDULE_READERS.items():
        if key in given and all(unread(t.config, key) for t in trials):
            trained_by, optimizers = _trained_by(trials)
            if not optimizers:  # no schedule to set: XGBoost, a given network
                raise StudyError(f"{label}: {key} changes nothing: no trial reads it ({trained_by}); leave {key} out")
            raise StudyError(f'{label}: {key} changes nothing: no trial\'s schedule reads it (train.schedule.kind = '
                             f'{", ".join(dict.fromkeys(used))}; read by {" and ".join(kinds)}); set the schedule\'s '
                             f'kind, or leave {key} out')


def unread(config: dict[str, Any], key: str) -> bool:
    """Whether a trial of resolved ``config`` (its model and train sections) does not read ``key``: what
    check_read refuses where no trial reads it, for one configuration. Where some do, a configuration that does
    not has its cell left empty in the results table and the key left out of its legend and label (report)."""
    from ..kinds import of

    kind, train = of(config["model"]), config["train"]
    name = key.removeprefix("train.")
    if key.startswith(STOPPING):  # min_delta, restore_best, monitor wait on patience
        patience = train.get("early_stopping", {}).get("patience")
        return not kind.early_stopping or (key != STOPPING + "patience" and not patience)
    if key.startswith("train.") and name in LOOP_KEYS:
        return kind.reads is not None and name not in kind.reads
    if key in SCHEDULE_READERS:
        return train.get("schedule", {}).get("kind", "none") not in SCHEDULE_READERS[key]
    if key in MODEL_KEYS:
        return _unread_by(config["model"], key) is not None
    return unused(_row(config), key, {})


def _not_read_by(trials: list, name: str) -> str:
    """'model.kind = gan, vae does not read it (its own training loop ...); model.kind = xgboost does not read it
    (its settings are [model] keys)': the trials' kinds, grouped by how each says why."""
    from ..kinds import of

    kinds: dict[str, list[str]] = {}
    for t in trials:
        kind = of(t.config["model"])
        said = NOT_READ_BY_ENGINE.get(kind.engines[0], {}).get(name) or NOT_READ.get(name, SETTINGS)
        kinds.setdefault(said, []).append(kind.name)
    return "; ".join(f"model.kind = {', '.join(dict.fromkeys(names))} {said}" for said, names in kinds.items())


HIDDEN = "no trial has a hidden layer ({what}), and {key} acts on hidden layers only"
OTHER_LAYERS = "no trial reads it ({what})"
CONV_BLOCKS = 'architecture = "conv": its layers are the stride-2 blocks of model.channels'
MLP_LAYERS = 'architecture = "mlp": its layers are the widths of model.hidden'


def _no_hidden_layer(model: dict[str, Any]) -> bool:
    """Fully connected (an MLP, a CNN's dense head, an MLP autoencoder) without a hidden layer."""
    return not model.get("hidden") and model.get("architecture", "mlp") == "mlp"


def _conv(model: dict[str, Any]) -> bool:
    return model.get("architecture") == "conv"


def _mlp(model: dict[str, Any]) -> bool:
    """Fully connected layers (an autoencoder's, VAE's or GAN's default architecture)."""
    return model.get("architecture", "mlp") == "mlp"


def _one_layer(model: dict[str, Any]) -> bool:
    return len(model["layers"]) == 1


class Unread(NamedTuple):
    keys: tuple[str, ...]  # [model] keys
    when: Callable[[dict[str, Any]], bool]  # the resolved [model] section builds nothing that reads them
    says: str  # HIDDEN or OTHER_LAYERS
    what: str  # what the model is then


_AUTOENCODER = (Unread(("model.activation",), _no_hidden_layer, HIDDEN, "model.hidden = []: a linear encoder and "
                       "decoder"),  # a conv autoencoder's blocks read its activation
                Unread(("model.hidden",), _conv, OTHER_LAYERS, CONV_BLOCKS),
                Unread(("model.channels",), _mlp, OTHER_LAYERS, MLP_LAYERS))
# kind -> the [model] keys its network leaves unread in some configurations (engines/_torch/_generative_nets.py
# for the autoencoders and the GAN, engines/_numpy/_network.py given_network)
UNREAD_MODEL_KEYS = {
    "mlp": (Unread(("model.activation", "model.dropout", "model.norm"), _no_hidden_layer, HIDDEN,
                   "model.hidden = []: a linear model"),),
    "cnn": (Unread(("model.activation",), _no_hidden_layer, HIDDEN,  # its dropout precedes the output layer too
                   "model.hidden = []: a CNN whose convolutions feed the output layer"),),
    "ae": _AUTOENCODER,
    "vae": _AUTOENCODER,
    "gan": (Unread(("model.activation",), _conv, OTHER_LAYERS, 'architecture = "conv": a DCGAN\'s activations are '
                   "fixed, relu in the generator and leaky relu in the discriminator"),
            Unread(("model.hidden",), _conv, OTHER_LAYERS, CONV_BLOCKS),
            Unread(("model.channels",), _mlp, OTHER_LAYERS, MLP_LAYERS)),
    "given": (Unread(("model.activation", "model.sign_zero"), _one_layer, HIDDEN,
                     "model.layers holds one layer: a linear model"),),
}
MODEL_KEYS = {key for rules in UNREAD_MODEL_KEYS.values() for rule in rules for key in rule.keys}


def _check_model_keys(given: set[str], trials: list, label: str) -> None:
    """A [model] key that no trial's network reads: the activation, dropout or norm of an MLP without hidden
    layers (a linear model), a CNN's or an MLP autoencoder's activation likewise, a given network's activation
    with one layer, the hidden widths of a conv autoencoder and a DCGAN's activation and hidden widths, and the
    channels of an MLP autoencoder, VAE or GAN."""
    from ..errors import StudyError

    for key in sorted(given & MODEL_KEYS):
        rules = [_unread_by(t.config["model"], key) for t in trials]
        if trials and all(rules):
            raise StudyError(f"{label}: {key} changes nothing: {_why(rules, key)}; leave {key} out")


def _why(rules: list[Unread], key: str) -> str:
    """'no trial has a hidden layer (model.hidden = []: a linear model), and model.norm acts on hidden layers
    only', one clause per way of saying it."""
    whats: dict[str, list[str]] = {}
    for rule in rules:
        whats.setdefault(rule.says, []).append(rule.what)
    return "; ".join(says.format(what="; ".join(dict.fromkeys(w)), key=key) for says, w in whats.items())


def _unread_by(model: dict[str, Any], key: str) -> Unread | None:
    """The rule by which the model's network does not read ``key``; None when it reads it."""
    return next((rule for rule in UNREAD_MODEL_KEYS.get(model["kind"], ())
                 if key in rule.keys and rule.when(model)), None)


def _trained_by(trials: list) -> tuple[str, bool]:
    """'train.optimizer = sgd, adam', and what else trains the study's models (a kind without an optimizer, or
    with a solver of its own); whether some trial has a train.optimizer."""
    from ..kinds import of

    optimizers: list[str] = []
    kinds: list[str] = []
    for t in trials:
        kind = t.config["model"]["kind"]
        if kind in no_optimizer_kinds():
            why = NOT_READ_BY_ENGINE.get(of(t.config["model"]).engines[0], {}).get("optimizer")
            kinds.append(f"model.kind = {kind} has no optimizer: {why or 'its settings are [model] keys'}")
        elif own_optimizer_keys(kind) is not None:
            kinds.append(f"model.kind = {kind} has a solver of its own")
        else:
            optimizers.append(t.config["train"]["optimizer"])
    said = [f"train.optimizer = {', '.join(dict.fromkeys(optimizers))}"] if optimizers else []
    return "; ".join(said + list(dict.fromkeys(kinds))), bool(optimizers)


def _row(config: dict[str, Any]) -> dict[str, Any]:
    """A trial's config as ``unused`` reads a results-table row: dotted model keys and the optimizer."""
    return {"train.optimizer": config["train"]["optimizer"],
            **{f"model.{k}": v for k, v in config["model"].items()}}


def repeated_note(study: Any, trials: list) -> str | None:
    """'train.momentum: 2 of 6 configurations repeat another but for this key, ...' when a swept key leaves
    configurations that differ from another only in it, where they do not read it (``unread``: momentum for sgd,
    a DCGAN's activation beside a conv autoencoder's): they train the same thing again (trial ids keep every
    swept value, so they are trained, as before). None when there are none."""
    if study.search.active or study.train.function:  # a search proposes one configuration at a time
        return None
    swept = sorted({key for grid in study.grids() for key in grid})
    configs = [t.config for t in distinct(trials)]
    repeats = _repeats(configs, swept)
    if not repeats:
        return None
    keys = [key for key in swept if _repeats(configs, [key])] or swept
    one = len(keys) == 1
    return (f"{', '.join(keys)}: {repeats} of {len(configs)} configurations repeat another but for "
            f"{'this key' if one else 'these keys'}, which they do not read; they train anyway (sweep "
            f"{'it' if one else 'them'} in a [[sweep]] table of the configurations that read {'it' if one else 'them'} "
            f"to train each configuration once)")


def _repeats(configs: list[dict[str, Any]], keys: list[str]) -> int:
    """How many configurations equal an earlier one once each leaves out the ``keys`` it does not read."""
    seen: set[str] = set()
    for config in configs:
        plain = copy.deepcopy(config)
        for key in keys:
            if unread(config, key):
                set_dotted(plain, key, None, "<sweep>", "sweep")
        seen.add(json.dumps(plain, sort_keys=True, default=str))
    return len(configs) - len(seen)


def unseeded_note(trials: list) -> str | None:
    """'trials.seeds: model.kind = "given" reads no seed ...' when a configuration runs several seeds that give
    the same numbers: its kind draws nothing from the seed (``Kind.seeded``) and no split is drawn from it
    (data.split_seed = "seed" resolves to each trial's seed). They run anyway; their standard errors are 0."""
    from ..kinds import of

    groups: dict[str, tuple[str, set[int], set[str]]] = {}  # configuration -> kind, seeds, resolved configs
    only = True  # every configuration reads no seed (else the others need the seeds)
    for t in trials:
        if of(t.config["model"]).seeded:
            only = False
        else:
            kind, seeds, configs = groups.setdefault(json.dumps([t.point, t.label], sort_keys=True, default=str),
                                                     (t.config["model"]["kind"], set(), set()))
            seeds.add(t.seed)
            configs.add(json.dumps(t.config, sort_keys=True, default=str))  # a split drawn from the seed differs
    several: dict[str, int] = {}
    for kind, seeds, configs in groups.values():
        if len(seeds) > 1 and len(configs) == 1:
            several[kind] = max(several.get(kind, 0), len(seeds))
    if not several:
        return None
    kinds = ", ".join(f'model.kind = "{k}"' for k in several)
    return (f"trials.seeds: {kinds} reads no seed, so each configuration's {max(several.values())} seeds give the "
            f"same numbers (and standard errors of 0); {'set trials.seeds = 1, or ' if only else ''}"
            f"data.split_seed = \"seed\" draws each seed's own split")
