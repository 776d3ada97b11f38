"""Running nag-spark on a real Spark cluster.

- :mod:`.pack`: the Python environment shipped to executors (a packed venv, ``make package``);
- :mod:`.standalone`: a standalone master and workers on this machine (``make cluster-up``);
- :mod:`.submit`: ``nag-submit``, spark-submit with the venv's Spark found without activating it.

Nothing here is imported by the jobs: these are tools around them.
"""
