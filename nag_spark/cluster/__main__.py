"""``python -m nag_spark.cluster up|down|status``: the local standalone cluster.

    python -m nag_spark.cluster up [--port 7077] [--webui-port 8080] [--workers 2] \
        [--cores 1] [--memory 2g] [--dir .cluster]      # prints the master URL
    python -m nag_spark.cluster down [--dir .cluster]
    python -m nag_spark.cluster status [--dir .cluster]

``make cluster-up`` / ``make cluster-down`` run these (``SPARK_MASTER_PORT``,
``SPARK_MASTER_WEBUI_PORT``, ``SPARK_WORKERS``, ``SPARK_WORKER_CORES``,
``SPARK_WORKER_MEMORY`` override the defaults).
"""
from __future__ import annotations

import argparse
import json
import sys

from ..cli import run_job
from .standalone import ClusterSpec, StandaloneCluster


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m nag_spark.cluster",
                                description="A Spark standalone cluster on 127.0.0.1.")
    p.add_argument("action", choices=["up", "down", "status"])
    p.add_argument("--dir", default=".cluster", help="state folder: PID files, logs, work dirs")
    p.add_argument("--port", type=int, default=7077, help="master port (default 7077)")
    p.add_argument("--webui-port", type=int, default=8080, help="master web UI port (default 8080)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--cores", type=int, default=1, help="cores each worker offers")
    p.add_argument("--memory", default="2g", help="memory each worker offers")
    p.add_argument("--host", default="127.0.0.1")
    return p.parse_args(argv)


def main_body(argv=None) -> int:
    args = parse_args(argv)
    if args.action == "up":
        cluster = StandaloneCluster(ClusterSpec(
            root=args.dir, port=args.port, webui_port=args.webui_port, workers=args.workers,
            worker_cores=args.cores, worker_memory=args.memory, host=args.host))
        url = cluster.start()
        print(f"Spark master: {url}  (web UI http://{args.host}:{args.webui_port}, "
              f"{args.workers} workers x {args.cores} cores, {args.memory}; state in {cluster.root})")
        print(url)
        return 0
    cluster = StandaloneCluster.from_root(args.dir)
    if args.action == "down":
        pids = cluster.stop()
        print(f"stopped {cluster.spec.master_url} ({len(pids)} processes: {' '.join(map(str, pids))})")
        return 0
    status = cluster.status()
    print(json.dumps({"master_url": cluster.spec.master_url, "running": status is not None,
                      "alive_workers": len(cluster.alive_workers())}))
    return 0 if status is not None else 1


def main(argv=None) -> int:
    return run_job(main_body, argv)


if __name__ == "__main__":
    sys.exit(main())
