"""Build, fit and save a GAN: seeded, resumable, the same code on one device or several.

One module a job, each imported from where it is (this package imports
none of them, so that a caller loads only what it runs: the GPU check
trains without MLflow):

- `paths`: where a training reads and writes.
- `model`: a compiled model from its params (`build_model`).
- `plan`: the checks before training (`check_training_inputs`).
- `session`: the one training sequence (`run_training`, `fit_model`), with
  `Hooks` for what a caller adds.
- `tracked`: that sequence inside its MLflow run (`train_model`, the
  stage's entry point), and the device tags.
- `worker`: a multi-worker training's other workers.

Everything that differs between Keras backends is in `pipeline.backend`.
"""
