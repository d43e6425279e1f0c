"""A file whose own code fails when imported."""

import torch

raise RuntimeError("this file is broken on purpose")
