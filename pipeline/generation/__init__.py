"""The parts of `python -m pipeline.generate` (the command itself is `pipeline/generate.py`).

`models` (which generator a name, file or URI means; loading it; what it
takes and makes), `noise` (a noise generator's seeded latents and labels),
`translation` (an image-to-image generator's inputs: the user's images,
read and checked), `outputs` (the --out checks and the atomic PNG and .npz
writes). This file imports none of them: the command's argument checks must
not load numpy, TensorFlow or MLflow.
"""
