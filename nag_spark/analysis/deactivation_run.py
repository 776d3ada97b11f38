"""The neuron deactivation analysis as a job: features + texts in, effect and MLflow run out.

Steps (driver only: the target is small, and the model runs a few forward passes):

1. resolve the target (``conf/targets.yaml`` or ``COL=VALUE``) and check the features
   table: it must hold ``fwd_up`` NAGs (deactivation zeroes ``up_proj`` rows, which are the
   ``fwd_up`` neurons) and name its model in ``nag.model``;
2. build the :class:`~nag_spark.kernels.profile.TargetProfile` from all target rows and take
   the most frequent neurons per layer, plus a seeded random control of the same counts;
3. take the target texts from the documents file the features were extracted from (joined
   on ``docid``; the first ``n_texts`` by docid, so a re-run measures the same texts);
4. load the features' model with its LM head, checking its weights digest, L and N against
   the features' lineage, and measure the loss with nothing, the NAG neurons, and the random
   neurons off;
5. log an MLflow run of kind ``deactivate`` (params, metrics, the neuron lists).
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field

from ..config import resolve_target
from ..delta.lineage import required_property
from ..errors import InputError, LineageMismatchError, TableError
from ..kernels.deactivation import (deactivation_effect, random_neurons_like,
                                    top_target_neurons)
from ..kernels.profile import TargetProfile
from ..logs import get_logger

log = get_logger(__name__)

NEURON_TYPE = "fwd_up"  # the only type whose neurons are rows of up_proj


@dataclass
class DeactivateOptions:
    """What :func:`run_deactivation` measures.

    Attributes
    ----------
    target : str
        A name from ``conf/targets.yaml`` or an inline ``COL=VALUE[|VALUE]`` filter.
    features : str
        Features Delta table holding the target rows (``fwd_up`` NAGs).
    docs : str
        The documents the features were extracted from (parquet, JSONL or Delta with
        ``docid`` and ``doc``, or ``fmt="final"``): the texts the loss is measured on.
    n_texts : int
        How many target texts (the first by docid among those in ``docs``).
    max_length : int, optional
        Tokens per text (default: the features' ``nag.max_length``).
    per_layer, share : optional
        Neurons off per layer, or as a share of each layer's neurons (default: the paper's
        0.12%); see :func:`~nag_spark.kernels.deactivation.top_target_neurons`.
    seed : int
        Seed of the random control.
    model : str, optional
        Where to load the model from when the features' ``nag.model`` is not loadable here
        (another path); its weights digest must still match the features'.
    dtype, device : str
        ``float32`` (default) / ``bfloat16`` / ``auto``; ``cpu`` (default), ``cuda`` or ``auto``.
    batch_size : int
        Texts per forward pass.
    fmt : {"web", "final"}
        Layout of ``docs``.
    targets_file : str, optional
        Target definitions (default ``conf/targets.yaml``).
    experiment, run_name : str, optional
        MLflow experiment and run name; ``track=False`` logs nothing.
    """

    target: str
    features: str
    docs: str
    n_texts: int = 64
    max_length: int | None = None
    per_layer: int | None = None
    share: float | None = None
    seed: int = 0
    model: str | None = None
    dtype: str = "float32"
    device: str = "cpu"
    batch_size: int = 8
    fmt: str = "web"
    targets_file: str | None = None
    experiment: str | None = None
    run_name: str | None = None
    track: bool = True


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


def _check_options(opts: DeactivateOptions) -> None:
    if opts.n_texts <= 0:
        raise InputError(f"--n-texts must be positive, got {opts.n_texts}")
    if opts.batch_size <= 0:
        raise InputError(f"--batch-size must be positive, got {opts.batch_size}")
    if opts.max_length is not None and opts.max_length < 2:
        raise InputError(f"--max-length must be at least 2, got {opts.max_length}")
    if opts.device not in ("cpu", "cuda", "auto") and not opts.device.startswith("cuda:"):
        raise InputError(f"--device must be cpu, cuda[:N] or auto, got {opts.device!r}")
    from ..spark.inputs import detect_input_kind

    # Fail on a missing documents path now, not after reading the features.
    try:
        detect_input_kind(os.fspath(opts.docs))
    except InputError as exc:
        raise InputError(f"documents (--docs): {exc}") from None


def _target_profile(opts: DeactivateOptions, spec, df, props: dict):
    """The target rows' docids and profile, after checking the table holds fwd_up NAGs."""
    from ..tables.features import decode_nags
    from ..spark.targets import collect_target_rows

    types = required_property(props, "nag.neuron_types", opts.features).split(",")
    if NEURON_TYPE not in types:
        raise LineageMismatchError(
            f"features table {opts.features} holds neuron types {','.join(types)!r}: neuron "
            "deactivation needs fwd_up features (the fwd_up neurons are the up_proj rows it "
            "zeroes); extract with --neuron-types fwd_up")
    num_layers = int(required_property(props, "nag.num_layers", opts.features))
    top_k = int(required_property(props, "nag.top_k", opts.features))
    n_neurons = int(required_property(props, f"nag.n_neurons.{NEURON_TYPE}", opts.features))
    for col in ("docid", NEURON_TYPE, spec.column):
        if col not in df.columns:
            raise InputError(f"features table {opts.features} has no column {col!r} "
                             f"(columns: {', '.join(df.columns)})")
    (table,) = collect_target_rows(df, [spec], ["docid", NEURON_TYPE], opts.features)
    nags = decode_nags(table.column(NEURON_TYPE), num_layers * top_k, NEURON_TYPE)
    profile = TargetProfile.from_nags(nags, num_layers, top_k, n_neurons)
    return table.column("docid").to_pylist(), profile


def _target_texts(spark, opts: DeactivateOptions, target_ids: list, spec) -> tuple[list, list]:
    from ..spark.inputs import read_documents

    docs = read_documents(spark, opts.docs, opts.fmt)
    # The docids were collected with the profile: no second scan of the features table.
    wanted = sorted({str(d) for d in target_ids if d is not None})
    ids = spark.createDataFrame([(d,) for d in wanted], "docid string")
    picked = (docs.df.join(ids, "docid", "inner").select("docid", "doc")
              .orderBy("docid").limit(int(opts.n_texts)).collect())
    if not picked:
        raise InputError(f"none of the target {spec.name!r} docids of {opts.features} is in "
                         f"the documents {opts.docs}: pass the file the features were "
                         "extracted from")
    if len(picked) < opts.n_texts:
        log.warning("only %d target texts found in %s (asked for %d)", len(picked), opts.docs,
                    opts.n_texts)
    return [r["docid"] for r in picked], [r["doc"] for r in picked]


def load_causal_lm(spec, dtype: str = "float32", device: str = "cpu", cache_dir=None):
    """Load ``spec`` with its LM head (the loss needs logits) and a tokenizer.

    Extraction loads the base model only (:func:`~nag_spark.models.load_backbone`); the
    weights are the same files (the local safetensors cache for GGUF models).

    Returns
    -------
    tuple
        ``(model, tokenizer)``, the model in eval mode with gradients off.
    """
    from ..models import load_backbone

    backbone = load_backbone(spec, dtype, device, cache_dir=cache_dir, with_lm_head=True)
    return backbone.model, backbone.tokenizer


def _load_model(spark, opts: DeactivateOptions, props: dict):
    import torch

    from ..models import model_cache_dir, model_digest, resolve_dtype, resolve_model_spec

    name = opts.model or required_property(props, "nag.model", opts.features)
    spec = resolve_model_spec(name)
    cache = model_cache_dir(dict(spark.sparkContext.getConf().getAll()))
    want = props.get("nag.model_digest")
    have = model_digest(spec, cache)
    if want and have != want:
        raise LineageMismatchError(
            f"model {name!r} has weights digest {have} but the features {opts.features} were "
            f"extracted with {props.get('nag.model')!r} ({want}): the neurons would not match")
    device = opts.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = resolve_dtype(opts.dtype, device)
    model, tok = load_causal_lm(spec, dtype, device, cache)
    cfg = model.config
    for key, value in (("nag.num_layers", cfg.num_hidden_layers),
                       (f"nag.n_neurons.{NEURON_TYPE}", cfg.intermediate_size)):
        if key in props and int(props[key]) != int(value):
            raise LineageMismatchError(f"model {name!r} has {key}={value} but the features "
                                       f"{opts.features} have {props[key]}")
    return name, have, model, tok, device, dtype


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
    from ..delta import read_snapshot, table_exists

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    _check_options(opts)
    spec = resolve_target(opts.target, opts.targets_file)
    if not table_exists(opts.features, spark):
        raise TableError(f"features table not found: no Delta table at {opts.features}")
    features = read_snapshot(spark, opts.features)
    props, version = features.properties, features.version
    target_ids, profile = _target_profile(opts, spec, features.df, props)
    neurons = top_target_neurons(profile, per_layer=opts.per_layer, share=opts.share)
    control = random_neurons_like(neurons, profile.n_neurons, seed=opts.seed)
    docids, texts = _target_texts(spark, opts, target_ids, spec)
    timings["inputs"] = time.perf_counter() - t0

    t = time.perf_counter()
    model_name, digest, model, tok, device, dtype = _load_model(spark, opts, props)
    timings["load_model"] = time.perf_counter() - t
    max_length = int(opts.max_length or props.get("nag.max_length", 120))
    t = time.perf_counter()
    effect = deactivation_effect(model, tok, texts, neurons, control, max_length=max_length,
                                 batch_size=opts.batch_size)
    timings["measure"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    result = DeactivationResult(spec.name, effect, neurons, control, docids, model_name,
                                timings=timings)
    log.info("target %s: loss %.4f base, %.4f NAG neurons off, %.4f random neurons off "
             "(%d neurons, %.3f%%)", spec.name, effect["base_loss"], effect["nag_off_loss"],
             effect["random_off_loss"], effect["n_neurons_off"], 100 * effect["neuron_share"])
    if opts.track:
        params = {"target": spec.name, "target_filter": spec.describe(),
                  "features_path": str(opts.features), "features_version": version,
                  "docs_path": str(opts.docs), "n_texts": opts.n_texts, "max_length": max_length,
                  "per_layer": opts.per_layer if opts.per_layer is not None else "",
                  "share": opts.share if opts.share is not None else "",
                  "seed": opts.seed, "model": model_name, "model_digest": digest,
                  "dtype": dtype, "device": device, "neuron_type": NEURON_TYPE,
                  "n_target_rows": profile.n_targets}
        result.run_id = _log_run(result, opts, params, profile, version)
    return result


def _neuron_listing(result: DeactivationResult, profile: TargetProfile) -> dict:
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


def _log_run(result: DeactivationResult, opts: DeactivateOptions, params: dict,
             profile: TargetProfile, version: int) -> str:
    import mlflow

    from ..tracking.runs import log_delta_table, start_run

    tags = {"nag.target": result.target, "nag.features_path": str(opts.features),
            "nag.features_version": str(version)}
    with start_run("deactivate", experiment=opts.experiment,
                   run_name=opts.run_name or f"deactivate-{result.target}", tags=tags) as run:
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.log_metrics({k: float(v) for k, v in result.effect.items()})
        mlflow.log_metrics({f"seconds_{k}": v for k, v in result.timings.items()})
        log_delta_table(str(opts.features), version, "target", name="target_features")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "neurons.json")
            with open(path, "w") as fh:
                json.dump(_neuron_listing(result, profile), fh, indent=1)
            mlflow.log_artifact(path, artifact_path="neurons")
        return run.info.run_id


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
           "format_effect"]
