"""What the neuron deactivation analysis measures, and the checks made before any work."""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..config import TargetSpec, resolve_target
from ..errors import InputError
from ..models.device import check_device

NEURON_TYPE = "fwd_up"  # the only type whose neurons are rows of up_proj


@dataclass(frozen=True)
class DeactivateOptions:
    """What :func:`~nag_spark.analysis.deactivation_run.run_deactivation` measures.

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
        ``float32`` (default) / ``bfloat16`` / ``auto``; ``cpu`` (default), ``cuda[:N]`` or
        ``auto`` (see :mod:`nag_spark.models.device`).
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


@dataclass(frozen=True)
class DeactivationPlan:
    """Checked options: the resolved target and the validated device setting."""

    options: DeactivateOptions
    target: TargetSpec
    device: str

    @property
    def features(self) -> str:
        return str(self.options.features)


def plan_deactivation(opts: DeactivateOptions) -> DeactivationPlan:
    """Check ``opts`` before any table is read; the options are left as they are.

    Raises
    ------
    InputError
        A non-positive ``n_texts`` or ``batch_size``, ``max_length`` below 2, an unknown
        device, a documents path that does not exist.
    ConfigError
        An unknown target; an MLflow store this job cannot write (when tracking).
    """
    if opts.n_texts <= 0:
        raise InputError(f"--n-texts must be positive, got {opts.n_texts}")
    if opts.batch_size <= 0:
        raise InputError(f"--batch-size must be positive, got {opts.batch_size}")
    if opts.max_length is not None and opts.max_length < 2:
        raise InputError(f"--max-length must be at least 2, got {opts.max_length}")
    device = check_device(opts.device)
    from ..spark.inputs import detect_input_kind

    # Fail on a missing documents path now, not after reading the features.
    try:
        detect_input_kind(os.fspath(opts.docs))
    except InputError as exc:
        raise InputError(f"documents (--docs): {exc}") from None
    if opts.track:
        # The job's one output is its MLflow run, logged after the model work: make sure
        # the store takes it before that work starts.
        from ..tracking.runs import check_tracking_store

        check_tracking_store()
    return DeactivationPlan(opts, resolve_target(opts.target, opts.targets_file), device)
