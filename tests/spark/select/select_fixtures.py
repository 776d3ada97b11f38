"""A tiny hand-made corpus for the baseline selectors, and independent checks of a written
selection (read back with ``deltalake``, not Spark).

Four topics of short English sentences; the target rows are cooking examples. Pool
documents are 1-6 sentences of one topic, so lengths vary and the cooking documents are
the lexically and semantically close ones. Test modules import the helpers directly.
"""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pandas as pd

TOPICS = {
    "cooking": [
        "She chopped the onions and simmered them in butter until golden.",
        "Knead the dough, let it rise, then bake the bread in a hot oven.",
        "He whisked eggs with sugar and folded in the flour for the cake.",
        "The soup simmered for an hour with carrots, celery and fresh thyme.",
        "Season the roast chicken with salt, pepper and garlic before baking.",
        "Stir the risotto slowly, adding warm stock one ladle at a time.",
    ],
    "astronomy": [
        "The telescope revealed faint galaxies beyond the Milky Way.",
        "A comet passed close to the sun and grew a bright tail.",
        "Astronomers measured the orbit of the distant exoplanet.",
        "The nebula glowed red where young stars were forming.",
        "Jupiter's moons circle the giant planet every few days.",
        "The solar eclipse darkened the sky for three minutes.",
    ],
    "football": [
        "The striker scored twice in the second half of the match.",
        "The goalkeeper saved a penalty in the final minute.",
        "The coach changed the formation after the first goal.",
        "Fans sang in the stadium as the team lifted the cup.",
        "The referee showed a red card for a late tackle.",
        "The league table tightened after the weekend fixtures.",
    ],
    "finance": [
        "The central bank raised interest rates by a quarter point.",
        "Shares fell sharply after the quarterly earnings report.",
        "Investors moved money into government bonds this week.",
        "The company issued new stock to fund its expansion.",
        "Inflation slowed as energy prices eased last month.",
        "The bond market rallied on hopes of lower rates.",
    ],
}
# Cooking described without the target's words: the embedding baseline should still find it.
SEMANTIC_COOKING = [
    "A chef sauteed mushrooms in a skillet and drizzled olive oil over the pasta.",
    "Grandma prepared a stew of beans and tomatoes in a big pot for dinner.",
]


def make_docs(n_per_topic: int = 10, seed: int = 0) -> pd.DataFrame:
    """Pool documents: ``docid``, ``doc``, ``dataset`` (the topic), ``token_num`` (words)."""
    rng = random.Random(seed)
    rows = []
    for topic, sentences in TOPICS.items():
        for i in range(n_per_topic):
            k = rng.randint(1, 6)
            text = " ".join(rng.choice(sentences) for _ in range(k))
            rows.append((f"{topic}-{i:03d}", text, topic))
    for i, text in enumerate(SEMANTIC_COOKING):
        rows.append((f"semantic-{i:03d}", text, "cooking_paraphrase"))
    df = pd.DataFrame(rows, columns=["docid", "doc", "dataset"])
    df["token_num"] = df.doc.str.split().str.len().astype("int64")
    return df


def make_targets() -> pd.DataFrame:
    """Target rows: the cooking sentences, ``dataset = cooking_train``."""
    sents = TOPICS["cooking"]
    return pd.DataFrame({"docid": [f"t-{i}" for i in range(len(sents))], "doc": sents,
                         "dataset": "cooking_train", "token_num": [len(s.split()) for s in sents]})


def write_parquet(df: pd.DataFrame, path: Path, n_files: int = 1, seed: int = 0) -> str:
    """``df`` as one parquet file, or as a folder of ``n_files`` files in shuffled row order."""
    if n_files == 1:
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_parquet(path, index=False)
        return str(path)
    path.mkdir(parents=True, exist_ok=True)
    shuffled = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    for i, part in enumerate(np.array_split(shuffled, n_files)):
        part.to_parquet(path / f"part-{i:02d}.parquet", index=False)
    return str(path)


def read_selection(path) -> tuple[pd.DataFrame, dict]:
    """A selection table and its properties, read with delta-rs."""
    from deltalake import DeltaTable

    table = DeltaTable(str(path))
    return table.to_pandas().sort_values("rank").reset_index(drop=True), table.metadata().configuration


def check_budget_rule(sel: pd.DataFrame, ordered_pool: pd.DataFrame, fraction: float) -> None:
    """The selection is the longest ``(nag_distance, docid)`` prefix of ``ordered_pool`` (every
    pool row with its key) within ``floor(fraction × tokens)``, with exact ranks and sums."""
    pool = ordered_pool.sort_values(["nag_distance", "docid"]).reset_index(drop=True)
    budget = int(np.floor(fraction * pool.token_num.sum()))
    cum = pool.token_num.cumsum()
    n = max(1, int((cum <= budget).sum()))
    assert sel.docid.tolist() == pool.docid.iloc[:n].tolist()
    assert sel["rank"].tolist() == list(range(1, n + 1))
    assert sel.cum_tokens.tolist() == cum.iloc[:n].tolist()
    assert sel.token_num.sum() <= budget or n == 1
    if n < len(pool):
        assert cum.iloc[n] > budget  # the next document would not fit: the longest prefix
