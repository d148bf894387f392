"""DnModel: a generative model of D_n (θ_LT) from a per-layer drift law and the pruning rule;
SoftThresholdDn: a two-parameter-per-layer soft threshold on |θ0| fitted from the masks alone."""

from dn_analysis.model.dn_model import DnModel as DnModel
from dn_analysis.model.soft_threshold import SoftThresholdDn as SoftThresholdDn
from dn_analysis.model.stats import read_training_stats as read_training_stats
from dn_analysis.model.stats import training_stats as training_stats
from dn_analysis.model.stats import write_training_stats as write_training_stats
