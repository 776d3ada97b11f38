"""The deactivation analysis' inputs: the target's profile and the texts it is measured on.

Both come from one scan each: the target rows of the features table (docids and NAGs,
collected together) and, joined on those docids, the documents file the features were
extracted from.
"""
from __future__ import annotations

from ..errors import InputError
from ..kernels.profile import TargetProfile
from ..logs import get_logger
from ..tables.features import FeaturesLineage
from ..tables.nag_codec import decode_nags
from .deactivation_options import NEURON_TYPE, DeactivationPlan

log = get_logger(__name__)

# Why a table of another neuron type cannot be used (said in the refusal).
_NEEDS_FWD_UP = ("neuron deactivation needs fwd_up features (the fwd_up neurons are the "
                 "up_proj rows it zeroes); extract with --neuron-types fwd_up")


def target_profile(plan: DeactivationPlan, df, lineage: FeaturesLineage) -> tuple[list, TargetProfile]:
    """The target rows' docids and profile, after checking the table holds fwd_up NAGs.

    Raises
    ------
    TableError
        The table lacks its lineage (neuron types, L, K, N of ``fwd_up``).
    LineageMismatchError
        The table holds no ``fwd_up`` NAGs.
    InputError
        A missing column, a target with no rows, a docid twice among them.
    """
    from ..spark.rank.profiles import check_unique_docids
    from ..spark.targets import collect_target_rows

    lineage.require("neuron_types")
    lineage.require_neuron_type(NEURON_TYPE, needed_for=_NEEDS_FWD_UP)
    num_layers, top_k = lineage.require("num_layers"), lineage.require("top_k")
    n_neurons = lineage.neurons(NEURON_TYPE)
    spec = plan.target
    for col in ("docid", NEURON_TYPE, spec.column):
        if col not in df.columns:
            raise InputError(f"features table {plan.features} has no column {col!r} "
                             f"(columns: {', '.join(df.columns)})")
    (table,) = collect_target_rows(df, [spec], ["docid", NEURON_TYPE], plan.features)
    # A docid twice would count its NAG twice in the profile (and its text twice).
    check_unique_docids(table, f"target {spec.name!r} of features table {plan.features}",
                        action="measured")
    nags = decode_nags(table.column(NEURON_TYPE), num_layers * top_k, NEURON_TYPE)
    profile = TargetProfile.from_nags(nags, num_layers, top_k, n_neurons)
    return table.column("docid").to_pylist(), profile


def target_texts(spark, plan: DeactivationPlan, target_ids: list) -> tuple[list, list]:
    """``(docids, texts)``: the first ``n_texts`` target documents by docid.

    Raises
    ------
    InputError
        None of the target docids is in the documents (the wrong file was passed).
    """
    from ..spark.inputs import read_documents

    opts = plan.options
    docs = read_documents(spark, opts.docs, opts.fmt)
    # The docids were collected with the profile: no second scan of the features table.
    wanted = sorted({str(d) for d in target_ids if d is not None})
    ids = spark.createDataFrame([(d,) for d in wanted], "docid string")
    picked = (docs.df.join(ids, "docid", "inner").select("docid", "doc")
              .orderBy("docid").limit(int(opts.n_texts)).collect())
    if not picked:
        raise InputError(f"none of the target {plan.target.name!r} docids of {opts.features} is in "
                         f"the documents {opts.docs}: pass the file the features were "
                         "extracted from")
    if len(picked) < opts.n_texts:
        log.warning("only %d target texts found in %s (asked for %d)", len(picked), opts.docs,
                    opts.n_texts)
    return [r["docid"] for r in picked], [r["doc"] for r in picked]
