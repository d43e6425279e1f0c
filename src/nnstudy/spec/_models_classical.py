"""Model kinds for classical and unsupervised methods (train.engine = "classical"): their [model] sections, registered in MODEL_KINDS."""
