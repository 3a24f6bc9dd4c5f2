"""Evaluation: the domain classifier and the metrics computed on its outputs.

`metrics` and `suite` need only numpy, scipy and scikit-learn; `classifier`,
`evaluator` and `evaluate` are the Keras parts. Import the module you need:
this file imports nothing, so a stage that trains the classifier does not
depend on the metrics' code (see tests/test_dependencies.py).
"""
