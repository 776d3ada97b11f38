"""The direct scan with only candidate rows handed to Spark (``--scan direct``, no quality
blend).

A target's selection is a prefix of the pool in key order, about ``fraction / M`` of its
tokens. Spark's part of a ranking (caching every scored row, the pool checks, the first
histogram) cost more CPU than the scan itself, so here the Python workers keep what
needs every row and pass Spark only the rows a selection can reach:

1. **Sample.** The first row group of up to :data:`SAMPLE_GROUPS` evenly spaced scan tasks
   is scored. For each target the sample gives the grid bin ``B`` below which lie
   :data:`MARGIN` times its share of the tokens (plus 2% of the pool).
2. **Scan.** Every row is scored once. Each task keeps the pool's numbers (rows, tokens,
   null and negative counts, each target's token histogram on the grid with per-bin key
   bounds and per-dataset counts) and each docid's hash. It sends Spark the rows that lie
   in bins ``<= B`` of some target, then one summary row and its sorted hashes, one row per
   hash bucket.
3. **Reduce.** One Spark aggregation groups the summaries and the hash buckets and merges
   them in Python: the exact pool statistics, the exact histograms, and the number of
   distinct docids.
4. **Check.** Each target's exact histogram gives the bin where its budget is crossed. If
   that bin lies beyond ``B`` (the sample misjudged the pool), the scan runs again with the
   exact bins. So the candidate rows always hold every row up to each target's cutoff,
   ties included (equal keys share a bin).
5. **Select.** The exact selection (:func:`~nag_spark.spark.rank.selection.select_exact`)
   runs on the candidate rows with the exact histograms. It finds the same cutoff, ranks
   and token sums as over the whole pool, because every row it orders is there.

The grid is ``[0, 1]`` (distances lie there), cut into ``n_bins * GRID_FACTOR`` bins.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import Sequence

import numba
import numpy as np

from ...kernels.selection import BinStats, FirstHistogram, bin_index, crossing_bin, token_budget
from ...logs import get_logger
from ...session import session_conf
from .direct_scan import DirectScan, ScanTask, column_reader, scan_frame

log = get_logger(__package__)  # the ranking job's one logger (nag_spark.spark.rank)

GRID_FACTOR = 16
SAMPLE_GROUPS = 16
MARGIN = 1.5
# The candidate rows are cached without Spark's column compression: choosing each column's
# encoding (hash maps of every docid) was 40% of the scan stage's JVM CPU, and the cache
# is 12% larger without it (the docids do not compress). A 20M ranking, alternating in
# one process: 37.6-37.9 s and 24-28 JVM CPU s against 39.4-39.8 s and 30-32.
CACHE_COMPRESSED = "spark.sql.inMemoryColumnarStorage.compressed"
_PART, _BUCKET, _BLOB = "_nag_part", "_nag_bucket", "_nag_blob"
_ROW, _SUMMARY, _HASHES = 0, 1, 2


@dataclass(frozen=True, eq=False)
class PrefixScan:
    """The candidate rows, the exact numbers of the pool, and the persisted frame they
    come from (``frame.unpersist()`` when the selection is written)."""

    frame: object
    candidates: object
    stats: dict
    histograms: list
    scans: int  # 1, or 2 when the sample's bins were too low


def _filter_pool(table, exclude: Sequence[tuple[str, list]], target_docids):
    """``(table without the target rows, rows of it carrying a target docid)``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if exclude:
        hit = None
        for col, values in exclude:
            c = pc.is_in(table.column(col), value_set=pa.array(values, pa.string()))
            hit = c if hit is None else pc.or_(hit, c)
        table = table.filter(pc.invert(pc.fill_null(hit, False)))
    n_target_ids = 0
    if target_docids:
        n_target_ids = int(pc.sum(pc.is_in(table.column("docid"),
                                           value_set=pa.array(target_docids, pa.string()))).as_py() or 0)
    return table, n_target_ids


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _accumulate(bins, dists, tokens, codes, tok_out, cnt_out, lo_out, hi_out, ds_out):
    """One pass over a target's rows: per-bin tokens, rows, key bounds, rows per dataset."""
    for i in range(bins.shape[0]):
        b = bins[i]
        tok_out[b] += tokens[i]
        cnt_out[b] += 1
        d = dists[i]
        if d < lo_out[b]:
            lo_out[b] = d
        if d > hi_out[b]:
            hi_out[b] = d
        ds_out[codes[i], b] += 1


class _Summary:
    """One task's numbers of the pool (mergeable); ``grid`` bins per target."""

    def __init__(self, n_targets: int, grid: int):
        self.grid = grid
        self.n = dict(docs=0, tokens=0, null_ids=0, null_tokens=0, negative_tokens=0,
                      target_ids=0)
        self.tokens = np.zeros((n_targets, grid), np.int64)
        self.counts = np.zeros((n_targets, grid), np.int64)
        self.lo = np.full((n_targets, grid), np.inf)
        self.hi = np.full((n_targets, grid), -np.inf)
        self.datasets: dict[str, np.ndarray] = {}  # name -> (targets, grid) row counts
        self.dataset_tokens: dict[str, int] = {}
        self._by_code = np.zeros((0, n_targets, grid), np.int64)  # rows per dataset code
        self._names: list[str] = []

    def add(self, docid, dataset, tokens, dists, bins) -> None:
        import pyarrow.compute as pc

        tok = tokens.to_numpy(zero_copy_only=False)
        tok = np.nan_to_num(tok.astype(np.float64), nan=0.0).astype(np.int64)
        n = self.n
        n["docs"] += len(tok)
        n["tokens"] += int(tok.sum())
        n["null_ids"] += docid.null_count
        n["null_tokens"] += tokens.null_count
        n["negative_tokens"] += int((tok < 0).sum())
        encoded = pc.dictionary_encode(dataset.fill_null("<none>") if dataset.null_count else dataset)
        local = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        names = encoded.dictionary.to_pylist()
        for name in names:
            if name not in self._names:
                self._names.append(name)
                self._by_code = np.concatenate([self._by_code, np.zeros((1,) + self.counts.shape,
                                                                        np.int64)])
        codes = np.array([self._names.index(x) for x in names], np.int64)[local]
        tokens_by_code = np.bincount(codes, weights=tok, minlength=len(self._names))
        for code, name in enumerate(self._names):
            self.dataset_tokens[name] = self.dataset_tokens.get(name, 0) + int(tokens_by_code[code])
        for t, (d, b) in enumerate(zip(dists, bins)):
            _accumulate(b, d, tok, codes, self.tokens[t], self.counts[t], self.lo[t],
                        self.hi[t], self._by_code[:, t, :])

    def _fold_datasets(self) -> None:
        for code, name in enumerate(self._names):
            self.datasets[name] = self.datasets.get(name, 0) + self._by_code[code]
        self._by_code = np.zeros((0,) + self.counts.shape, np.int64)
        self._names = []

    def __getstate__(self):
        self._fold_datasets()
        # Sparse: a task touches a few hundred of the grid's 65536 bins, and each task's
        # summary travels through a shuffle (dense, 2 MB per target and dataset).
        seen = [np.flatnonzero(c) for c in self.counts]
        return {"grid": self.grid, "n": self.n, "dataset_tokens": self.dataset_tokens,
                "seen": seen,
                "bins": [(self.tokens[t][b], self.counts[t][b], self.lo[t][b], self.hi[t][b])
                         for t, b in enumerate(seen)],
                "datasets": {k: [v[t][b] for t, b in enumerate(seen)]
                             for k, v in self.datasets.items()}}

    def __setstate__(self, state):
        self.__init__(len(state["seen"]), state["grid"])
        self.n, self.dataset_tokens = state["n"], state["dataset_tokens"]
        for t, (b, (tok, cnt, lo, hi)) in enumerate(zip(state["seen"], state["bins"])):
            self.tokens[t][b], self.counts[t][b], self.lo[t][b], self.hi[t][b] = tok, cnt, lo, hi
        for name, per_target in state["datasets"].items():
            dense = self.datasets[name] = np.zeros_like(self.counts)
            for t, (b, c) in enumerate(zip(state["seen"], per_target)):
                dense[t][b] = c

    def merge(self, other: "_Summary") -> "_Summary":
        other._fold_datasets()
        for k, v in other.n.items():
            self.n[k] += v
        self.tokens += other.tokens
        self.counts += other.counts
        np.minimum(self.lo, other.lo, out=self.lo)
        np.maximum(self.hi, other.hi, out=self.hi)
        for name, c in other.datasets.items():
            self.datasets[name] = self.datasets.get(name, 0) + c
        for name, t in other.dataset_tokens.items():
            self.dataset_tokens[name] = self.dataset_tokens.get(name, 0) + t
        return self

    def histogram(self, t: int) -> FirstHistogram:
        self._fold_datasets()
        stats = BinStats(self.tokens[t].copy(), self.counts[t].copy(), self.lo[t].copy(),
                         self.hi[t].copy())
        return FirstHistogram(stats, 0.0, 1.0, self.grid,
                              {k: v[t] for k, v in sorted(self.datasets.items())},
                              dict(sorted(self.dataset_tokens.items())))


def _output_schema(table_schema, columns: Sequence[str], keys: Sequence[str]):
    from pyspark.sql.types import (BinaryType, DoubleType, IntegerType, StructField,
                                   StructType)

    return StructType([table_schema[c] for c in columns]
                      + [StructField(k, DoubleType(), True) for k in keys]
                      + [StructField(_PART, IntegerType(), False),
                         StructField(_BUCKET, IntegerType(), True),
                         StructField(_BLOB, BinaryType(), True)])


def _scan(spark, scan: DirectScan, make_scorer, feature_col: str, columns: Sequence[str],
          keys: Sequence[str], schema, limits: Sequence[int], grid: int, exclude, target_docids,
          hash_bits: int):
    """Step 2: candidate rows, one summary row and the hash buckets of each task."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_schema

    from ...kernels.docid_hash import docid_hashes

    arrow_out = to_arrow_schema(schema)
    conform = column_reader(arrow_out, list(columns))
    limits = np.asarray(limits, np.int64)
    n_data = len(columns) + len(keys)

    def make_task():
        distances, summary, hashes = make_scorer(), _Summary(len(keys), grid), []

        def on_piece(table):
            table, n_target_ids = _filter_pool(table, exclude, target_docids)
            summary.n["target_ids"] += n_target_ids
            if not len(table):
                return
            dists = distances(table.column(feature_col))
            bins = [bin_index(d, 0.0, 1.0, grid) for d in dists]
            cols = conform(table)
            named = dict(zip(columns, cols))
            dataset = named.get("dataset", pa.nulls(len(table), pa.string()))
            summary.add(named["docid"], dataset, named["token_num"], dists, bins)
            h = docid_hashes(named["docid"])
            hashes.append(h.drop_null().to_numpy().view(np.uint64))
            keep = np.zeros(len(table), bool)
            for b, limit in zip(bins, limits):
                keep |= b <= limit
            if keep.any():
                mask = pa.array(keep)
                out = [c.filter(mask) for c in cols] + [pa.array(d[keep]) for d in dists]
                n = int(keep.sum())
                out += [pa.array(np.full(n, _ROW, np.int32)), pa.nulls(n, pa.int32()),
                        pa.nulls(n, pa.binary())]
                yield pa.RecordBatch.from_arrays(out, schema=arrow_out)

        def on_end():
            rows = [(_SUMMARY, -1, pickle.dumps(summary, protocol=5))]
            if hashes:
                h = np.sort(np.concatenate(hashes))
                top = (h >> np.uint64(64 - hash_bits)).astype(np.int64) if hash_bits else \
                    np.zeros(len(h), np.int64)
                cuts = np.searchsorted(top, np.arange((1 << hash_bits) + 1))
                rows += [(_HASHES, b, h[cuts[b]:cuts[b + 1]].tobytes())
                         for b in range(1 << hash_bits) if cuts[b + 1] > cuts[b]]
            n = len(rows)
            out = [pa.nulls(n, f.type) for f in arrow_out][:n_data]
            out += [pa.array([r[0] for r in rows], pa.int32()),
                    pa.array([r[1] for r in rows], pa.int32()),
                    pa.array([r[2] for r in rows], pa.binary())]
            yield pa.RecordBatch.from_arrays(out, schema=arrow_out)

        return on_piece, on_end

    return scan_frame(spark, scan, feature_col, list(columns), schema, make_task)


def _reduced(bucket: int, distinct: int, summary: bytes | None):
    import pyarrow as pa

    return pa.table({"bucket": pa.array([bucket], pa.int32()),
                     "distinct": pa.array([distinct], pa.int64()),
                     "summary": pa.array([summary], pa.binary())})


def _reduce(frame, n_targets: int, grid: int) -> tuple[_Summary, int]:
    """Step 3: the merged summary and the number of distinct docid hashes."""
    import pyarrow as pa
    from pyspark.sql import functions as F

    def merge(table):
        bucket = table.column(_BUCKET)[0].as_py()
        blobs = table.column(_BLOB).to_pylist()
        if bucket < 0:
            total = _Summary(n_targets, grid)
            for blob in blobs:
                total.merge(pickle.loads(blob))
            return _reduced(bucket, 0, pickle.dumps(total, protocol=5))
        h = np.sort(np.concatenate([np.frombuffer(b, np.uint64) for b in blobs]))
        distinct = int(len(h) - np.count_nonzero(h[1:] == h[:-1])) if len(h) else 0
        return _reduced(bucket, distinct, None)

    rows = (frame.filter(F.col(_PART) != _ROW).select(_BUCKET, _BLOB).groupBy(_BUCKET)
            .applyInArrow(merge, "bucket int, distinct long, summary binary").collect())
    summary = next((pickle.loads(r["summary"]) for r in rows if r["bucket"] < 0), None)
    return summary or _Summary(n_targets, grid), sum(r["distinct"] for r in rows)


def _sample_limits(spark, scan: DirectScan, make_scorer, feature_col, columns,
                   n_targets: int, fraction: float, grid: int, exclude) -> list[int]:
    """Step 1: each target's last candidate bin, from a sample of row groups."""
    import pyarrow as pa
    from pyspark.sql.types import DoubleType, LongType, StructField, StructType

    want = min(1.0, fraction * MARGIN + 0.02)
    if want >= 1.0 or not scan.tasks:
        return [grid - 1] * n_targets
    # About 1% of the pool, 2 to SAMPLE_GROUPS row groups, evenly spread over the files.
    group_rows = max(1, scan.rows // max(1, sum(t.end - t.first for t in scan.tasks)))
    n = int(np.clip(np.ceil(0.01 * scan.rows / group_rows), 2, SAMPLE_GROUPS))
    picked = np.unique(np.linspace(0, len(scan.tasks) - 1, min(n, len(scan.tasks))).round().astype(int))
    tasks = [ScanTask(scan.tasks[i].path, scan.tasks[i].first, scan.tasks[i].first + 1, 0)
             for i in picked]
    schema = StructType([StructField("token_num", LongType(), True)]
                        + [StructField(f"d{i}", DoubleType(), False) for i in range(n_targets)])

    def make_task():
        distances = make_scorer()

        def on_piece(table):
            table, _ = _filter_pool(table, exclude, ())
            tok = table.column("token_num").cast(pa.int64())
            yield pa.RecordBatch.from_arrays(
                [tok.combine_chunks()] + [pa.array(d) for d in distances(table.column(feature_col))],
                schema=pa.schema([pa.field("token_num", pa.int64())]
                                 + [pa.field(f"d{i}", pa.float64(), False) for i in range(n_targets)]))
        return on_piece, lambda: iter(())

    sample = DirectScan(tasks, scan.schema, 0)
    got = scan_frame(spark, sample, feature_col, list(columns), schema, make_task).toArrow()
    tok = np.nan_to_num(got.column("token_num").to_numpy(zero_copy_only=False).astype(float))
    limits = []
    for i in range(n_targets):
        d = got.column(f"d{i}").to_numpy()
        if not len(d) or tok.sum() <= 0:
            limits.append(grid - 1)
            continue
        order = np.argsort(d, kind="stable")
        cum = np.cumsum(tok[order])
        at = min(int(np.searchsorted(cum, want * cum[-1])), len(d) - 1)
        limits.append(int(bin_index([d[order][at]], 0.0, 1.0, grid)[0]))
    return limits


def usable(plan, opts) -> bool:
    """Whether the prefix scan applies: no quality blend (its key needs the pool's bounds
    before any row is kept) and target filters on string columns (matched in Arrow)."""
    if opts.quality_col:
        return False
    types = {f.name: f.dataType.simpleString() for f in plan.pool_df.schema}
    return not plan.same_table or all(types.get(s.column) == "string" for s in plan.specs)


def prefix_scan(spark, scan: DirectScan, plan, opts, make_scorer, columns: Sequence[str],
                keys: Sequence[str], target_docids, storage_level: str) -> PrefixScan:
    """Steps 1-4 (see the module doc): the persisted candidate rows (``columns`` and
    ``keys``) and the pool's exact statistics (the keys of
    :func:`~nag_spark.spark.rank.pool.pool_stats`) and first histograms."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    grid = opts.n_bins * GRID_FACTOR
    exclude = [(s.column, [str(v) for v in s.values]) for s in plan.specs] if plan.same_table else []
    ids = list(target_docids) if plan.same_table else []
    schema = _output_schema(plan.pool_df.schema, columns, keys)
    hash_bits = max(0, int(np.ceil(np.log2(max(1, scan.rows / 4_000_000)))))
    limits = _sample_limits(spark, scan, make_scorer, opts.neuron_type, columns, len(keys),
                            plan.per_fraction, grid, exclude)
    for attempt in (1, 2):
        # The cache is built when _reduce first reads it, under this setting.
        with session_conf(spark, {CACHE_COMPRESSED: "false"}):
            frame = _scan(spark, scan, make_scorer, opts.neuron_type, columns, keys, schema,
                          limits, grid, exclude, ids, hash_bits)
            frame = frame.persist(getattr(StorageLevel, storage_level))
            summary, distinct = _reduce(frame, len(keys), grid)
        budget = token_budget(summary.n["tokens"], plan.per_fraction)
        needed = [crossing_bin(summary.tokens[t], budget) for t in range(len(keys))]
        needed = [grid - 1 if b is None else b for b in needed]
        if all(b <= lim for b, lim in zip(needed, limits)):
            break
        log.info("the sample put the candidates of a target below its cutoff (bins %s, needed "
                 "%s): scanning again with the exact bins", limits, needed)
        frame.unpersist()
        limits = needed
    stats = dict(summary.n, distinct_ids=distinct)
    for t, key in enumerate(keys):
        seen = summary.counts[t] > 0
        stats[f"{key}_lo"] = float(summary.lo[t][seen].min()) if seen.any() else 0.0
        stats[f"{key}_hi"] = float(summary.hi[t][seen].max()) if seen.any() else 0.0
    candidates = frame.filter(F.col(_PART) == _ROW).drop(_PART, _BUCKET, _BLOB)
    log.info("the pool's numbers came from the scan; rows handed to the selection: key bins "
             "up to %s of %d (%d scan%s of the pool)",
             ", ".join(f"{name} {b}" for name, b in zip(plan.names, limits)), grid, attempt,
             "s" if attempt > 1 else "")
    return PrefixScan(frame, candidates, stats, [summary.histogram(t) for t in range(len(keys))],
                      attempt)
