"""Analyses of NAGs beyond selection.

- :mod:`.nag_map` — a 2-D map of NAGs coloured by dataset (:mod:`.nag_sample` draws the
  sample in Spark, :mod:`.nag_embedding` embeds it; needs ``pip install 'nag-spark[viz]'``);
- :mod:`.deactivation_run` — the paper's neuron deactivation analysis (options and checks in
  :mod:`.deactivation_options`, inputs in :mod:`.deactivation_inputs`, the model in
  :mod:`.causal_lm`).
"""
