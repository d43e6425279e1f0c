"""Model kinds for autoencoders and generative models (ae, stacked_ae, vae, gan): their [model] sections, registered in MODEL_KINDS."""
