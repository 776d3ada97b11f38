"""Table contracts: what each Delta table nag-spark writes holds, owned in one place.

- :mod:`.features` — the features table (extraction writes it; ranking, visualisation and
  the deactivation analysis read it): its lineage properties and its schema.
- :mod:`.nag_codec` — how its NAG columns are stored: bit-packed ``binary`` rows (older
  tables: ``array<short|int>``), encoded by extraction, decoded by every reader.
- :mod:`.selection` — the selection table (ranking writes it; comparison reads it).

Every reader and writer goes through these modules; no other module spells a ``nag.*``
table property.
"""
from .features import FEATURE_COLUMNS, FeaturesLineage, features_schema
from .nag_codec import decode_nags, encode_nags, index_type
from .selection import SELECTION_COLUMNS, SelectionProperties

__all__ = ["FEATURE_COLUMNS", "FeaturesLineage", "decode_nags", "encode_nags",
           "features_schema", "index_type", "SELECTION_COLUMNS", "SelectionProperties"]
