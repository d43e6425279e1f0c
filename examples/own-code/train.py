"""My own training loop: a multilayer perceptron in NumPy, from scratch (forward, backward, SGD).

nnstudy calls train(config, seed, data, report) once per trial and does the rest (the grid, the seeds,
the store, the statistics and the report). It reads the usual keys of the study file:

    model.hidden       widths of the hidden layers (ReLU), e.g. [64] or [64, 64]
    train.lr           SGD step size
    train.epochs       passes over the training set
    train.batch_size   examples per step
    train.args.init    my own setting: "he" (default) or "small" (N(0, 0.01^2) weights)
"""

import numpy as np


def train(config, seed, data, report):
    hidden, tc = config["model"]["hidden"], config["train"]
    lr, epochs, batch = tc["lr"], tc["epochs"], tc["batch_size"]
    init = tc["args"].get("init", "he")
    rng = np.random.default_rng(seed)

    n_classes = len(data.classes)
    x_train, y_train = data.x_train.astype(np.float64), data.y_train
    widths = [x_train.shape[1], *hidden, n_classes]
    weights = [rng.normal(0.0, np.sqrt(2.0 / n_in) if init == "he" else 0.01, (n_in, n_out))
               for n_in, n_out in zip(widths[:-1], widths[1:])]
    biases = [np.zeros(n_out) for n_out in widths[1:]]

    def forward(x):
        """The activations of every layer; the last one holds the class probabilities (softmax)."""
        acts = [x]
        for i, (w, b) in enumerate(zip(weights, biases)):
            z = acts[-1] @ w + b
            if i < len(weights) - 1:
                acts.append(np.maximum(z, 0.0))
            else:
                z = z - z.max(axis=1, keepdims=True)
                p = np.exp(z)
                acts.append(p / p.sum(axis=1, keepdims=True))
        return acts

    def evaluate(x, y):
        p = forward(x.astype(np.float64))[-1]
        loss = -np.mean(np.log(p[np.arange(len(y)), y] + 1e-12))
        return float(loss), float(np.mean(p.argmax(axis=1) == y))

    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x_train))
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            acts = forward(x_train[idx])
            delta = acts[-1].copy()  # d(cross-entropy)/d(logits) = p - onehot(y)
            delta[np.arange(len(idx)), y_train[idx]] -= 1.0
            delta /= len(idx)
            for i in range(len(weights) - 1, -1, -1):  # backward, layer by layer
                grad_w, grad_b = acts[i].T @ delta, delta.sum(axis=0)
                if i > 0:
                    delta = (delta @ weights[i].T) * (acts[i] > 0)  # through the ReLU
                weights[i] -= lr * grad_w
                biases[i] -= lr * grad_b
        train_loss, train_acc = evaluate(x_train, y_train)
        val_loss, val_acc = evaluate(data.x_val, data.y_val)
        report(epoch, train_loss=train_loss, train_accuracy=train_acc, val_loss=val_loss, val_accuracy=val_acc)

    test_loss, test_acc = evaluate(data.x_test, data.y_test)
    return {"test_loss": test_loss, "test_accuracy": test_acc}
