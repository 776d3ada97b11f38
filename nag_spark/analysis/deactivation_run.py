"""The neuron deactivation analysis as a job: features + texts in, effect and MLflow run out.

Steps (driver only: the target is small, and the model runs a few forward passes):

1. check the options and resolve the target (``conf/targets.yaml`` or ``COL=VALUE``)
   (:mod:`.deactivation_options`), then check the features table: it must hold ``fwd_up``
   NAGs (deactivation zeroes ``up_proj`` rows, which are the ``fwd_up`` neurons) and name
   its model in ``nag.model``;
2. build the :class:`~nag_spark.kernels.profile.TargetProfile` from all target rows and take
   the most frequent neurons per layer, plus a seeded random control of the same counts;
3. take the target texts from the documents file the features were extracted from (joined
   on ``docid``; the first ``n_texts`` by docid, so a re-run measures the same texts)
   (:mod:`.deactivation_inputs`);
4. load the features' model with its LM head, checking its weights digest, L and N against
   the features' lineage (:mod:`.causal_lm`), and measure the loss with nothing, the NAG
   neurons, and the random neurons off;
5. log an MLflow run of kind ``deactivate`` (params, metrics, the neuron lists)
   (:mod:`nag_spark.tracking.deactivate_run`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..errors import TableError
from ..kernels.deactivation import deactivation_effect, random_neurons_like, top_target_neurons
from ..kernels.profile import TargetProfile
from ..logs import get_logger
from ..tables.features import FeaturesLineage
from ..tracking.deactivate_run import log_deactivate_run
from .causal_lm import LoadedModel, load_causal_lm, load_checked_model
from .deactivation_inputs import target_profile, target_texts
from .deactivation_options import NEURON_TYPE, DeactivateOptions, DeactivationPlan, plan_deactivation

log = get_logger(__name__)

# Tokens per text when neither the options nor the features say.
_DEFAULT_MAX_LENGTH = 120


@dataclass
class DeactivationResult:
    """The measured effect (see :func:`~nag_spark.kernels.deactivation.deactivation_effect`)."""

    target: str
    effect: dict
    neurons: dict
    random_neurons: dict
    docids: list
    model: str
    run_id: str | None = None
    timings: dict = field(default_factory=dict)


def _read_features(spark, path: str):
    from ..delta import read_snapshot, table_exists

    if not table_exists(path, spark):
        raise TableError(f"features table not found: no Delta table at {path}")
    return read_snapshot(spark, path)


def run_deactivation(spark, opts: DeactivateOptions) -> DeactivationResult:
    """Measure the effect of switching off the target's most NAG-frequent neurons.

    Parameters
    ----------
    spark : SparkSession
        Reads the features table and the documents.
    opts : DeactivateOptions

    Returns
    -------
    DeactivationResult

    Raises
    ------
    NagError
        Unknown target, missing table or documents, features of another neuron type or
        model, bad options: all before the model is loaded.

    Examples
    --------
    >>> res = run_deactivation(spark, DeactivateOptions(                 # doctest: +SKIP
    ...     target="hellaswag", features="features/targets", docs="targets.parquet"))
    >>> res.effect["nag_off_rel_change"] > res.effect["random_off_rel_change"]  # doctest: +SKIP
    True
    """
    t0 = time.perf_counter()
    plan = plan_deactivation(opts)
    features = _read_features(spark, opts.features)
    lineage = FeaturesLineage.from_properties(features.properties, plan.features)
    target_ids, profile = target_profile(plan, features.df, lineage)
    neurons = top_target_neurons(profile, per_layer=opts.per_layer, share=opts.share)
    control = random_neurons_like(neurons, profile.n_neurons, seed=opts.seed)
    docids, texts = target_texts(spark, plan, target_ids)
    timings = {"inputs": time.perf_counter() - t0}

    t = time.perf_counter()
    model = load_checked_model(spark, opts.model, opts.dtype, plan.device, lineage)
    timings["load_model"] = time.perf_counter() - t
    max_length = int(opts.max_length or lineage.max_length or _DEFAULT_MAX_LENGTH)
    t = time.perf_counter()
    effect = deactivation_effect(model.model, model.tokenizer, texts, neurons, control,
                                 max_length=max_length, batch_size=opts.batch_size)
    timings["measure"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    result = DeactivationResult(plan.target.name, effect, neurons, control, docids, model.name,
                                timings=timings)
    log.info("target %s: loss %.4f base, %.4f NAG neurons off, %.4f random neurons off "
             "(%d neurons, %.3f%%)", plan.target.name, effect["base_loss"], effect["nag_off_loss"],
             effect["random_off_loss"], effect["n_neurons_off"], 100 * effect["neuron_share"])
    if opts.track:
        result.run_id = log_deactivate_run(
            target=result.target, features=plan.features, features_version=features.version,
            params=run_params(plan, features.version, max_length, model, profile),
            effect=effect, timings=timings, neurons=neuron_listing(result, profile),
            experiment=opts.experiment, run_name=opts.run_name)
    return result


def run_params(plan: DeactivationPlan, version: int, max_length: int, model: LoadedModel,
               profile: TargetProfile) -> dict:
    """The MLflow parameters of a deactivation run."""
    opts = plan.options
    return {"target": plan.target.name, "target_filter": plan.target.describe(),
            "features_path": plan.features, "features_version": version,
            "docs_path": str(opts.docs), "n_texts": opts.n_texts, "max_length": max_length,
            "per_layer": opts.per_layer if opts.per_layer is not None else "",
            "share": opts.share if opts.share is not None else "",
            "seed": opts.seed, "model": model.name, "model_digest": model.digest,
            "dtype": model.dtype, "device": model.device, "neuron_type": NEURON_TYPE,
            "n_target_rows": profile.n_targets}


def neuron_listing(result: DeactivationResult, profile: TargetProfile) -> dict:
    """Both neuron lists per layer, with each NAG neuron's profile weight (``neurons.json``).

    >>> import numpy as np
    >>> p = TargetProfile.from_nags(np.array([[1, 0]]), 1, 2, 3)
    >>> r = DeactivationResult("t", {}, {0: np.array([0])}, {0: np.array([2])}, ["d"], "m")
    >>> neuron_listing(r, p)["layers"]
    {'0': {'nag': [0], 'nag_weight': [0.5], 'random': [2]}}
    """
    layers = {}
    for layer, idx in result.neurons.items():
        layers[str(layer)] = {
            "nag": [int(v) for v in idx],
            # The share of the layer's target NAG entries that name each neuron.
            "nag_weight": [float(profile.weights[layer, v]) for v in idx],
            "random": [int(v) for v in result.random_neurons[layer]],
        }
    return {"target": result.target, "model": result.model, "neuron_type": NEURON_TYPE,
            "n_neurons_per_layer": profile.n_neurons, "layers": layers, "docids": result.docids}


def format_effect(result: DeactivationResult) -> str:
    """A short plain-text table of the effect, for the job's output and notebooks."""
    e = result.effect
    lines = [
        f"target {result.target}: {e['n_texts']} texts, {e['n_predicted_tokens']} predicted "
        f"tokens; {e['n_neurons_off']} of {e['n_up_proj_neurons']} up_proj neurons off "
        f"({100 * e['neuron_share']:.3f}%) in {e['n_layers']} layers",
        f"{'condition':<20}{'loss':>10}{'change':>10}",
        f"{'all neurons on':<20}{e['base_loss']:>10.4f}{'':>10}",
        f"{'NAG neurons off':<20}{e['nag_off_loss']:>10.4f}{100 * e['nag_off_rel_change']:>+9.2f}%",
        f"{'random neurons off':<20}{e['random_off_loss']:>10.4f}"
        f"{100 * e['random_off_rel_change']:>+9.2f}%",
    ]
    return "\n".join(lines)


__all__ = ["DeactivateOptions", "DeactivationResult", "run_deactivation", "load_causal_lm",
           "format_effect", "neuron_listing", "run_params"]
