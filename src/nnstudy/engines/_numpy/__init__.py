"""The NumPy reference engine: layers, losses and optimizers written out, forward and backward."""
