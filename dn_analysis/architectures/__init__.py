"""Is D_n the same across architectures? A prediction from shapes and init, measured on runs.

``predict`` gives D_n of the pure magnitude threshold (DnModel's no-noise limit) from layers.json,
the init and the pruning settings; ``architecture_rows`` holds it against runs' tickets beside
DnModel and the trial-to-trial noise floor (`dn analyze architectures`, docs/architectures.md).
"""

from dn_analysis.architectures.predict import Prediction, layer_rates, predict, pruning_scope
from dn_analysis.architectures.rows import analyze, architecture_rows, pair_rows

__all__ = ["Prediction", "analyze", "architecture_rows", "layer_rates", "pair_rows", "predict", "pruning_scope"]
