raise RuntimeError("this module fails while being imported")


def train(config, seed, data, report):
    return {"test_accuracy": 1.0}
