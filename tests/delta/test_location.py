"""Table locations: one spelling per table, local or remote."""
from __future__ import annotations

from nag_spark.delta.location import Location


def test_locations():
    local = Location.parse("rel/dir")
    assert local.local and local.uri.endswith("/rel/dir") and local.spark_uri.startswith("file:///")
    assert Location.parse("file:///x/y").uri == "/x/y"
    remote = Location.parse("s3://bucket/t/")
    assert not remote.local and remote.uri == remote.spark_uri == "s3://bucket/t"
