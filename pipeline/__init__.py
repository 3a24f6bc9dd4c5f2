"""The GAN pipeline library: params, data, networks, models, training, evaluation, export."""
