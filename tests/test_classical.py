"""Classical engine: study-file rules, PCA against scikit-learn, the supervised kinds on real data."""

import numpy as np
import pandas as pd
import pytest
from classical_helpers import assert_per_class_table, figures, mlbench_cache, run  # noqa: F401  (fixture)
from sklearn.datasets import load_digits, load_iris
from sklearn.decomposition import PCA

from nnstudy.api import prepare
from nnstudy.data import load
from nnstudy.engines._classical._pca import own_pca, recon_rmse
from nnstudy.errors import StudyError
from nnstudy.spec._schema import DataConfig


def spec(model, engine="classical", data="iris", **train):
    return {"study": {"name": "x"}, "data": {"name": data}, "model": model, "train": {"engine": engine, **train}}


@pytest.mark.parametrize("study, message", [
    (spec({"kind": "som"}, engine="torch"), 'train.engine: model kind \'som\' is trained by the classical engine'),
    (spec({"kind": "mlp"}), "model.kind: 'mlp' is not a classical method"),
    (spec({"kind": "svr"}), "model.kind: 'svr' needs a regression dataset; iris is a classification dataset"),
    (spec({"kind": "som", "grid": [3]}), "model.grid"),
    (spec({"kind": "random_forest", "trees": 3}), "model.trees: unknown key"),
    (spec({"kind": "sklearn_mlp", "solver": "newton"}), "model.solver: 'newton' is not allowed"),
    ({**spec({"kind": "pca"}), "report": {"metrics": ["test_nmi"]}}, "report.metrics: 'test_nmi' is not a metric"),
])
def test_bad_combinations_are_one_line_errors(study, message):
    with pytest.raises(StudyError) as e:
        prepare(study)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_kinds_bring_their_metrics_and_defaults():
    assert prepare(spec({"kind": "som"}))[4] == ["test_nmi", "test_accuracy", "test_loss"]
    assert prepare(spec({"kind": "svr"}, data="sine"))[4] == ["test_mse", "val_mse", "train_time_s"]
    assert prepare({**spec({"kind": "svr"}, data="sine"), "report": {"metrics": ["test_mae"]}})[4] == ["test_mae"]


@pytest.mark.parametrize("x", [load_iris().data, load_digits().data[:400]])
def test_pca_reconstruction_is_exact_at_full_rank_and_matches_sklearn(x):
    mean, comps, var = own_pca(x)
    sk = PCA(svd_solver="full").fit(x)
    for k in range(len(comps) + 1):
        own = recon_rmse(x, mean, comps, k)
        theirs = recon_rmse(x, sk.mean_, sk.components_, k)
        assert abs(own - theirs) < 1e-10
    assert recon_rmse(x, mean, comps, len(comps)) < 1e-10
    assert recon_rmse(x, mean, comps, 0) == pytest.approx(np.sqrt(((x - x.mean(0)) ** 2).mean()))
    np.testing.assert_allclose(var, sk.explained_variance_, rtol=1e-9, atol=1e-12)


def test_pca_study_on_iris_curves_and_projection(tmp_path):
    s = run(tmp_path, "pca", {"name": "iris"}, {"kind": "pca", "components": 4}, sweep={"model.components": [1, 4]})
    res = pd.read_csv(s.report_dir / "results.csv").set_index("model.components")
    assert res.loc[4, "test_recon_rmse_mean"] < 1e-6 < res.loc[1, "test_recon_rmse_mean"]
    assert (res["sklearn_gap_mean"] < 1e-10).all()
    assert res.loc[1, "explained_variance_mean"] == pytest.approx(0.73, abs=0.05)  # standardized iris: PC1 ~ 73 %
    figs = figures(s)
    assert {"pca_curves.png", "pca_projection.png"} <= set(figs)
    assert not {"som_umatrix.png", "rbm_samples.png", "forecast.png"} & set(figs)


def test_sklearn_mlp_on_ionosphere_reaches_088(tmp_path, mlbench_cache):
    s = run(tmp_path, "ion", {"name": "ionosphere"}, {"kind": "sklearn_mlp", "hidden": [32], "solver": "lbfgs"},
            {"epochs": 200}, seeds=2)
    t = s.trials()
    assert (t["status"] == "done").all() and t["test_accuracy"].mean() >= 0.88


def test_sklearn_mlp_adam_has_one_history_row_per_epoch(tmp_path):
    s = run(tmp_path, "adam", {"name": "iris"}, {"kind": "sklearn_mlp", "hidden": [16]},
            {"epochs": 5, "lr": 0.01, "batch_size": 16})
    h = s.history()
    loss = h[h["metric"] == "train_loss"].sort_values("epoch")["value"].to_numpy()
    assert len(loss) == 5 and loss[-1] < loss[0]
    assert "learning_curves.png" in figures(s)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_sklearn_mlp_epochs_are_sklearns_fit_with_as_many_iterations(tmp_path, solver):
    """Epoch by epoch (partial_fit) ends where MLPClassifier(max_iter=epochs).fit does: each epoch a new batch
    order from the one seed (an int random_state re-seeded every partial_fit: the same order every epoch)."""
    import warnings

    from sklearn.neural_network import MLPClassifier

    s = run(tmp_path, solver, {"name": "digits"}, {"kind": "sklearn_mlp", "hidden": [16], "solver": solver},
            {"epochs": 4, "lr": 0.01, "batch_size": 32})
    data = load(DataConfig(name="digits"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = MLPClassifier(hidden_layer_sizes=(16,), solver=solver, learning_rate_init=0.01, batch_size=32,
                            max_iter=4, n_iter_no_change=100, random_state=0).fit(data.x_train, data.y_train)
    t = s.trials().iloc[0]
    assert t["test_accuracy"] == (ref.predict(data.x_test) == data.y_test).mean()
    p_true = ref.predict_proba(data.x_test).astype(np.float64)[np.arange(len(data.y_test)), data.y_test]
    assert t["test_loss"] == pytest.approx(-np.log(p_true).mean(), rel=1e-12)


def test_lag_models_beat_persistence_on_elnino(tmp_path):
    data = {"name": "elnino", "lags": 12}
    svr = run(tmp_path, "svr", data, {"kind": "svr", "C": 0.4, "epsilon": 0.2}, sweep={"data.lags": [6, 12]})
    forest = run(tmp_path, "forest", data, {"kind": "random_forest", "max_depth": 10, "n_estimators": 30})
    raw = load(DataConfig(name="elnino", lags=12, normalize="none"))
    persistence = np.abs(raw.x_test[:, -1:] - raw.y_test).mean()  # next month = this month
    t = svr.trials()
    assert (t["test_mae"] < 0.7 * persistence).all()
    assert forest.trials()["test_mae"].iloc[0] < 0.7 * persistence
    assert t["test_mse"].to_numpy() == pytest.approx(t["test_rmse"].to_numpy() ** 2)
    figs = figures(forest)
    assert {"forecast.png", "feature_importance.png"} <= set(figs) and figs["forecast.png"][1] > 800
    assert "forecast.png" in figures(svr) and "metric_vs_data.lags.png" in figures(svr)


def test_ard_on_diabetes_keeps_glucose_and_prunes_inputs(tmp_path, mlbench_cache):
    import io

    s = run(tmp_path, "ard", {"name": "pima-diabetes"}, {"kind": "ard"})
    rel = next(a for a in s.snapshot().artifacts if a.name == "relevance.npz")
    coef = np.abs(np.load(io.BytesIO(rel.data))["coef"][0])
    assert coef.argmax() == 1 and (coef < 1e-6).sum() >= 1  # glucose matters most; some inputs pruned
    assert 0.7 <= s.trials()["test_accuracy"].iloc[0] <= 0.85
    assert "ard_relevance.png" in figures(s)


def test_xgboost_history_per_round_and_importances(tmp_path):
    s = run(tmp_path, "xgb", {"name": "iris"}, {"kind": "xgboost", "n_estimators": 20, "max_depth": 2})
    t = s.trials()
    assert t["epochs_run"].iloc[0] == 20 and t["test_accuracy"].iloc[0] >= 0.85
    h = s.history()
    val = h[h["metric"] == "val_loss"].sort_values("epoch")["value"].to_numpy()
    assert len(val) == 20 and val[-1] < val[0]
    assert {"feature_importance.png", "class_errors.png"} <= set(figures(s))
    assert_per_class_table(s)


def test_gradcheck_refuses_classical_methods(tmp_path):
    from nnstudy.gradcheck import run_gradcheck

    path = tmp_path / "som.toml"
    path.write_text('[study]\nname = "s"\n[data]\nname = "iris"\n[model]\nkind = "som"\n[train]\nengine = "classical"\n')
    with pytest.raises(StudyError, match="'som' is a classical method"):
        run_gradcheck(str(path), [], 8, 5)


def test_classifier_loss_is_sklearns_log_loss_also_where_a_probability_is_zero():
    """A forest of three trees gives many test digits probability 0 for their true class: log_loss clips it
    to float64's eps, not 1e-15 (which made test_loss 3-4 % lower than scikit-learn's)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import accuracy_score, log_loss

    from nnstudy.engines._classical._metrics import supervised_metrics

    data = load(DataConfig(name="digits"))
    model = RandomForestClassifier(n_estimators=3, random_state=0, n_jobs=1).fit(data.x_train, data.y_train)
    got = supervised_metrics(model, data)
    for split in ("train", "val", "test"):
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        proba = model.predict_proba(x)
        assert got[f"{split}_loss"] == pytest.approx(log_loss(y, proba, labels=model.classes_), rel=1e-12)
        assert got[f"{split}_accuracy"] == accuracy_score(y, model.predict(x))
    assert (model.predict_proba(data.x_test)[np.arange(len(data.y_test)), data.y_test] == 0).sum() >= 5
