"""Training functions for the bad-study corpus: one good, the others wrong on purpose."""

NOT_A_FUNCTION = 3


def train(config, seed, data, report):
    report(1, train_loss=1.0)


def two_args(config, seed):
    return {"test_accuracy": 1.0}
