"""Analyses of a model through its NAGs (the paper's neuron deactivation), run from jobs/."""
