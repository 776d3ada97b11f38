"""``python -m nag_spark.resources``: where the shipped cluster files are on this machine."""
from __future__ import annotations

import os
import stat

from . import discovery_script


def main() -> int:
    path = discovery_script()
    mode = path.stat().st_mode
    if not mode & stat.S_IXUSR and os.access(path, os.W_OK):
        # pip does not keep the executable bit of package files; Spark runs the script.
        path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    print(f"spark.executor.resource.gpu.discoveryScript={path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
