"""A small, self-made sample for `make demo`: no download, no shared data needed.

Documents are assembled from templates with a seeded random generator, so the sample is the
same on every machine. There are two kinds of rows:

- targets: short commonsense continuations (``hellaswag_train``-like) and science questions
  with their answer (``arc_c_train``-like), the two targets the demo ranks against;
- pool: news, forum posts, recipes, code, science facts and everyday stories, the kinds of
  text a web pool mixes. The stories and science facts should rank closest to the targets.
"""
from __future__ import annotations

import random
from pathlib import Path

import pandas as pd

# (subject, pronoun, possessive): the stories read as plain English sentences.
_PEOPLE = [("A man", "He", "his"), ("A woman", "She", "her"), ("A boy", "He", "his"),
           ("A girl", "She", "her"), ("A chef", "She", "her"), ("A teacher", "He", "his"),
           ("An old man", "He", "his"), ("A young woman", "She", "her")]
_PLACES = ["in a kitchen", "on a beach", "in a gym", "in a garden", "at a park", "in a garage",
           "on a stage", "in a living room"]
_ACTIVITIES = [
    ("chops onions on a board", "then puts them into a hot pan and stirs."),
    ("ties {pos} running shoes", "then starts jogging slowly around the track."),
    ("holds a paint brush", "then paints the fence with long, even strokes."),
    ("picks up a guitar", "then tunes the strings and begins to play a song."),
    ("fills a bucket with water", "then washes the car with a large sponge."),
    ("lays a mat on the floor", "then stretches slowly and starts a yoga pose."),
    ("mixes flour and eggs in a bowl", "then pours the batter into a baking tin."),
    ("puts on a helmet", "then rides the bike down the hill carefully."),
]
_SCIENCE = [
    ("Which gas do plants take in from the air to make food?", "Carbon dioxide."),
    ("What force pulls objects toward the center of the Earth?", "Gravity."),
    ("Which part of the cell contains the genetic material?", "The nucleus."),
    ("What is the main source of energy for the water cycle?", "The Sun."),
    ("Which state of matter has a definite volume but no definite shape?", "Liquid."),
    ("What do we call animals that eat only plants?", "Herbivores."),
    ("Which organ pumps blood through the human body?", "The heart."),
    ("What kind of rock forms when lava cools?", "Igneous rock."),
    ("Which planet is closest to the Sun?", "Mercury."),
    ("What is the boiling point of water at sea level in Celsius?", "100 degrees."),
]
_NEWS = [
    "Shares of {co} rose {n} percent on {day} after the company reported higher quarterly "
    "profits and raised its forecast for the year, analysts said.",
    "The city council of {city} voted on {day} to expand the bus network, adding {n} new "
    "routes that officials say will cut commuting times.",
    "{co} announced on {day} that it will open a new factory near {city}, creating about "
    "{n}00 jobs over the next three years.",
]
_FORUM = [
    "Subject: {topic}\nHas anyone else had this problem? I tried restarting twice and it "
    "still does not work. Any advice would be appreciated, thanks.",
    "Subject: Re: {topic}\nI had the same issue last week. Updating the driver fixed it for "
    "me, but you may need to reboot after the install.",
]
_CODE = [
    "def {name}(values):\n    total = 0\n    for v in values:\n        total += v * {n}\n"
    "    return total\n",
    "# return the {name} of a list\ndef {name}(xs):\n    return sorted(xs)[len(xs) // {n}]\n",
]
_RECIPE = [
    "Preheat the oven to {n}0 degrees. Mix the butter and sugar until smooth, add two eggs, "
    "then fold in the flour. Bake for {n} minutes until golden.",
]
_FACTS = [
    "Plants use sunlight, water and carbon dioxide to make sugar in a process called "
    "photosynthesis. Oxygen is released as a by-product.",
    "The Earth orbits the Sun once every year, and its tilt causes the seasons. The Moon "
    "orbits the Earth about once a month.",
    "Water boils at 100 degrees Celsius at sea level and freezes at 0 degrees. Ice is less "
    "dense than liquid water, so it floats.",
    "Sound travels as a wave through air, water and solids. It moves faster in water than "
    "in air.",
]
_COMPANIES = ["Acme Corp", "Globex", "Initech", "Umbrella Ltd", "Stark Industries"]
_CITIES = ["Springfield", "Riverton", "Lakeside", "Hill Valley", "Fairview"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
_TOPICS = ["printer not found", "laptop overheating", "slow wifi", "screen flicker"]
_NAMES = ["scaled_sum", "median", "middle_value", "weighted_total"]


def _story(rng: random.Random) -> str:
    (who, pronoun, pos), where = rng.choice(_PEOPLE), rng.choice(_PLACES)
    act, cont = rng.choice(_ACTIVITIES)
    return f"{who} is {where}. {pronoun} {act.format(pos=pos)}, {cont}"


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        co=rng.choice(_COMPANIES), city=rng.choice(_CITIES), day=rng.choice(_DAYS),
        n=rng.randint(2, 9), topic=rng.choice(_TOPICS), name=rng.choice(_NAMES),
    )


def make_demo_frames(seed: int = 7, pool_size: int = 120) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(pool, targets)`` frames with ``docid, doc, dataset, token_num`` columns."""
    rng = random.Random(seed)
    targets = []
    for i in range(24):
        targets.append((f"hellaswag_train/{i}", _story(rng), "hellaswag_train"))
    for i, (q, a) in enumerate(_SCIENCE * 2):
        targets.append((f"arc_c_train/{i}", f"{q} {a}", "arc_c_train"))

    makers = {
        "news_demo": lambda: _fill(rng.choice(_NEWS), rng),
        "forum_demo": lambda: _fill(rng.choice(_FORUM), rng),
        "code_demo": lambda: _fill(rng.choice(_CODE), rng),
        "recipes_demo": lambda: _fill(rng.choice(_RECIPE), rng),
        "science_demo": lambda: rng.choice(_FACTS) + " " + rng.choice(_FACTS),
        "stories_demo": lambda: _story(rng) + " " + _story(rng),
    }
    pool, seen = [], set()
    names = sorted(makers)
    while len(pool) < pool_size:
        dataset = names[len(pool) % len(names)]
        doc = makers[dataset]()
        if doc in seen:  # keep texts unique, as a de-duplicated web pool would be
            doc = f"{doc} (Edition {len(pool)}.)"
        seen.add(doc)
        pool.append((f"{dataset}/{len(pool)}", doc, dataset))

    def frame(rows):
        df = pd.DataFrame(rows, columns=["docid", "doc", "dataset"])
        df["token_num"] = df["doc"].str.split().str.len().astype("int64")
        return df

    return frame(pool), frame(targets)


def write_demo_sample(folder: str | Path, seed: int = 7) -> tuple[Path, Path]:
    """Write ``pool.parquet`` and ``targets.parquet`` under ``folder``; return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pool, targets = make_demo_frames(seed)
    pool_path, targets_path = folder / "pool.parquet", folder / "targets.parquet"
    pool.to_parquet(pool_path, index=False)
    targets.to_parquet(targets_path, index=False)
    return pool_path, targets_path
