"""A ranking's target profiles as files (``.npz`` and heatmap), made while the pool is scanned.

A heatmap of one profile (L layers x 20 labelled cells) takes about 1 s of the driver's
CPU, once per target, and the profiles are known before the scan starts, during which
the driver only waits on Spark. So :func:`profile_figures` draws them on one driver
thread from then on, and the run logs the files at its end
(:func:`~nag_spark.tracking.rank_run.record_rank_result`). Nothing else draws until the
files are collected: pyplot's figures are shared state, not safe across threads.
"""
from __future__ import annotations

import contextlib
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Iterator, Sequence

from .schema import target_key_parts


def draw_profiles(names: Sequence[str], profiles: Sequence, num_layers: int,
                  folder: Path) -> list[tuple[Path, Path]]:
    """``(profile .npz, heatmap .png)`` of each target, in target order, written to
    ``folder`` under the names the run logs them by (``profile``, ``profile_<target>``)."""
    from ..plots import plot_profile_heatmap

    files = []
    for i, (name, p, part) in enumerate(zip(names, profiles, target_key_parts(names))):
        npz = folder / ("profile.npz" if i == 0 else f"profile_{part}.npz")
        png = folder / ("profile_heatmap.png" if i == 0 else f"profile_heatmap_{part}.png")
        p.save(npz)
        plot_profile_heatmap(p.weights, png, title=f"Target profile of {name} ({num_layers} layers)")
        files.append((npz, png))
    return files


class ProfileFigures:
    """The files being made by :func:`profile_figures`."""

    def __init__(self, future: Future):
        self._future = future

    def files(self) -> list[tuple[Path, Path]]:
        """As :func:`draw_profiles` returns them, once drawn (its error, if it failed)."""
        return self._future.result()


@contextlib.contextmanager
def profile_figures(names: Sequence[str], profiles: Sequence,
                    num_layers: int) -> Iterator[ProfileFigures]:
    """Draw the profiles' files on a driver thread while the block runs; the files live
    until the block ends (it waits for the thread first, also when the block fails)."""
    with tempfile.TemporaryDirectory(prefix="nag-profiles-") as tmp, \
            ThreadPoolExecutor(1, thread_name_prefix="nag-profile-figures") as pool:
        yield ProfileFigures(pool.submit(draw_profiles, list(names), list(profiles), num_layers,
                                         Path(tmp)))
