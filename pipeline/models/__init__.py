"""The adversarial model and its parts: losses, regularisers, conditioning, networks.

Importing this package loads nothing heavy: the params schema reads the
parts' settings from here, and only `pipeline.models.adversarial` (the model)
and `pipeline.models.build` (params -> model) load Keras.
"""
