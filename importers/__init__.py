"""Tickets found by other tools (open_lth, torch.nn.utils.prune, per-layer arrays) as results folders.

``dn import FORMAT ...`` writes an ordinary results folder that `results.open_run`, `dn analyze`,
`dn report` and DnModel read like one made by `dn train` (docs/import.md). Nothing is unpickled.
"""
