"""Model kinds for convolutional and attention classifiers (cnn, resnet18, vit): their [model] sections, registered in MODEL_KINDS."""
