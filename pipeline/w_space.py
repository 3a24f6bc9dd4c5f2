"""The names by which a saved generator shows it has a w space (StyleGAN's), and where.

`pipeline/models/networks/stylegan.py` names its layers so, and
`pipeline.truncation` finds them in a loaded file. A module of its own, with
no imports, so that neither side pulls the other's code in: the export stage
does not depend on the networks, nor the command line's argument checks on
Keras.
"""

MAPPING = "mapping"  # the nested model z (and label) -> w
W_TRUNCATION = "w_truncation"  # the frozen Dense after it: the identity but while truncating
