"""Attraction recommender: the tourism reference's interactions file, its submission check and its demo set.

The data is the reference's ``synthetic_user_interactions.csv``: ``userId`` (uuid), ``attractionId`` (a
name), ``interactionType`` (view/click/like/book) and ``timestamp``. The models, the split and the
ranking metrics are the reusable :mod:`kitlib.tasks.recsys`; this module holds what is this
competition's own::

    read_interactions(path) -> DataFrame          checked: columns, empty ids, timestamps (with lines)
    recsys.IdEncoder(INTERACTION_TYPES).fit_transform(frame) -> Interactions   (the funnel's type order)
    check_recommendations(path, data_dir)         the submission check ``kit submit`` calls
    oof_predictions(model, split, k)              the run's oof.parquet: each held-out attraction's rank
    final_predictions(recs, data, model)          the run's test_predictions.parquet: the final lists
    cv_summary(split, ndcg_at_10) -> dict         the run's ``cv``: one split, so one "fold" and std 0
    write_demo(out_dir)                           the demo set in the reference's format

Validation is one leave-last-out split (:func:`kitlib.tasks.recsys.split_interactions`), not K folds:
the issue allows it for ranked lists. Ranked lists are not blended, so ``COMPETITION.predictions`` is
None and ``kit blend`` refuses recommender runs.
"""
from __future__ import annotations

import io
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from .. import predictions
from ..data import read_csv
from ..errors import DataError, SubmissionError
from ..tasks.recsys.interactions import SHOW, Interactions, Split, name_lines
from ..tasks.recsys.ranking import held_out_ranks, score_pairs
from .spec import Competition, SubmissionSpec

FILE_NAME = "synthetic_user_interactions.csv"
COLUMNS = ("userId", "attractionId", "interactionType", "timestamp")
INTERACTION_TYPES = ("view", "click", "like", "book")  # the reference's, in funnel order


# ----------------------------------------------------------------------------------------- reading
def interactions_file(data_dir: str | Path) -> Path:
    """The interactions CSV in ``data_dir``: ``synthetic_user_interactions.csv``, else the only ``*.csv``.

    Raises ``DataError`` naming the folder and what it holds when there is no single candidate.
    """
    folder = Path(data_dir)
    if (folder / FILE_NAME).is_file():
        return folder / FILE_NAME
    csvs = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    if len(csvs) == 1:
        return csvs[0]
    held = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    raise DataError(f"{folder}: expected {FILE_NAME} (or a single .csv file) with columns {list(COLUMNS)}; "
                    f"the folder holds {held}")


def read_interactions(path: str | Path) -> pd.DataFrame:
    """Read and check an interactions CSV (a file, or a folder holding one, see :func:`interactions_file`).

    Returns a DataFrame with the columns of ``COLUMNS`` in that order (extra columns dropped; the frame
    :class:`kitlib.tasks.recsys.IdEncoder` encodes): the ids and the interaction type as stripped
    strings, ``timestamp`` as ``datetime64`` (timezone-aware stamps converted to UTC). Row order is
    kept. Raises ``DataError`` naming the file, the column and the lines (the header is line 1) for a
    missing file, missing columns, empty cells or unparseable timestamps, and for a file without
    interactions.
    """
    path = Path(path)
    if path.is_dir():
        path = interactions_file(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; expected the interactions CSV with columns {list(COLUMNS)}")
    frame = read_csv(path, dtype=str, keep_default_na=False)  # names the file: empty, binary, cut short
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}; expected {list(COLUMNS)}, "
                        f"found {list(frame.columns)}")
    if frame.empty:
        raise DataError(f"{path}: no interactions, only a header")
    frame = frame[list(COLUMNS)].apply(lambda col: col.str.strip())
    for column in COLUMNS:
        empty = (frame[column] == "").to_numpy()
        if empty.any():
            raise DataError(f"{path}: column {column!r} is empty on {name_lines(empty)}")
    stamps = pd.to_datetime(frame["timestamp"], errors="coerce", format="ISO8601", utc=True)
    bad = stamps.isna().to_numpy()
    if bad.any():
        first = frame["timestamp"].iloc[int(bad.argmax())]
        raise DataError(f"{path}: column 'timestamp' holds {first!r} on {name_lines(bad)}, which is not a "
                        "date-time; expected ISO 8601 such as 2024-03-01 14:22:10")
    frame["timestamp"] = stamps.dt.tz_localize(None).astype("datetime64[ns]")
    frame.attrs["source"] = str(path)
    return frame


# ---------------------------------------------------------------------------------- submission check
def check_recommendations(path: Path, data_dir: Path) -> None:
    """Check a ``recommendations.csv`` against the interactions in ``data_dir``.

    Columns ``userId,rank,attractionId``; every user of the data present; each user's ranks exactly
    1..k once (k = the largest rank in the file, the same for all users); no attraction twice for a
    user; only attractions of the data; never one the user already interacted with; no unknown user.
    Raises ``SubmissionError`` naming the first offending rows (rows numbered from 1, header excluded).
    """
    path = Path(path)
    name = path.name
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, FileNotFoundError) as exc:
        raise SubmissionError(f"{name}: not a readable CSV file: {exc}") from None
    expected = ["userId", "rank", "attractionId"]
    if list(frame.columns) != expected:
        raise SubmissionError(f"{name}: columns {list(frame.columns)}; expected {expected}")
    if frame.empty:
        raise SubmissionError(f"{name}: no recommendations")
    if data_dir is None:
        raise SubmissionError(f"cannot check {name}: pass the competition's data dir (the interactions)")
    try:
        data = read_interactions(Path(data_dir))
    except DataError as exc:
        raise SubmissionError(f"cannot check {name} against {data_dir}: {exc}") from None

    def fail(mask: np.ndarray, what: str) -> None:
        if mask.any():
            raise SubmissionError(f"{name}: {what} in {name_lines(mask, first_line=1).replace('line', 'row')}")

    rank = pd.to_numeric(frame["rank"], errors="coerce").astype(np.float64)
    fail((~np.isfinite(rank) | (rank != rank.round()) | (rank < 1)).to_numpy(), "rank is not a positive integer")
    fail((rank > len(frame)).to_numpy(), f"rank is above {len(frame)} (the file's row count, so not 1..k)")
    frame = frame.assign(rank=rank.astype(np.int64))  # compared as numbers: "2.0" is rank 2
    k = int(frame["rank"].max())
    known_users = set(data["userId"])
    fail(~frame["userId"].isin(known_users).to_numpy(), "userId not in the interactions data")
    fail(~frame["attractionId"].isin(set(data["attractionId"])).to_numpy(), "attractionId not in the data")
    fail(frame.duplicated(["userId", "rank"], keep="first").to_numpy(), "a user's rank repeats")
    fail(frame.duplicated(["userId", "attractionId"], keep="first").to_numpy(),
         "an attraction is recommended twice to the same user")
    per_user = frame.groupby("userId", sort=False)["rank"].transform("size").to_numpy()
    fail(per_user != k, f"a user has {per_user[per_user != k][0] if (per_user != k).any() else k} rows, "
                        f"not k={k} (ranks 1..{k} once each)")
    absent = sorted(known_users - set(frame["userId"]))
    if absent:
        raise SubmissionError(f"{name}: {len(absent)} user(s) of the data have no recommendations, "
                              f"e.g. {absent[:SHOW]}")
    seen = set(zip(data["userId"], data["attractionId"]))
    fail(np.array([pair in seen for pair in zip(frame["userId"], frame["attractionId"])]),
         "an attraction the user already interacted with is recommended")


# ------------------------------------------------------------------------------------ run tables
def oof_predictions(model, split: Split, k: int) -> pd.DataFrame:
    """The validation predictions of ``model`` (fitted on ``split.train``): one row per validation user,
    ``userId``, ``attractionId`` (the held-out one), ``fold`` 0, ``pred_rank`` (its rank among the
    attractions the user has not interacted with in training, 1 = first, the full ranking) and
    ``pred_in_top_k`` (1.0 when ``pred_rank <= k``, else 0.0)."""
    ranks = held_out_ranks(model, split)
    train = split.train
    keys = {"userId": train.user_ids[split.val_users], "attractionId": train.item_ids[split.val_items]}
    return predictions.frame(keys, np.c_[ranks, ranks <= k], ["pred_rank", "pred_in_top_k"],
                             fold=np.zeros(len(ranks), dtype=np.int64))


def final_predictions(recommendations: pd.DataFrame, data: Interactions, model=None) -> pd.DataFrame:
    """The final recommendations as a predictions table: ``userId``, ``rank``, ``attractionId`` and
    ``pred_score`` (``model``'s score of the pair; ``model`` was fitted on ``data``), or, without a
    model, the rank itself as ``pred_rank``."""
    keys = recommendations[["userId", "rank", "attractionId"]]
    if model is None:
        return predictions.frame(keys, keys["rank"].to_numpy(), ["pred_rank"])
    users = pd.Index(data.user_ids).get_indexer(keys["userId"])
    items = pd.Index(data.item_ids).get_indexer(keys["attractionId"])
    return predictions.frame(keys, score_pairs(model, users, items), ["pred_score"])


def cv_summary(split: Split, ndcg_at_10: float) -> dict:
    """The run's ``cv`` record: validation NDCG@10 of the chosen model on the one validation split
    (so ``folds`` holds that one value and ``std`` is 0.0), ``n_rows`` = validation users."""
    return {"metric": "val_ndcg_at_10", "mean": float(ndcg_at_10), "std": 0.0, "folds": [float(ndcg_at_10)],
            "n_rows": int(len(split.val_users))}


# ------------------------------------------------------------------------------------------- demo
_CATEGORIES = {  # theme: (kinds of attraction, name stems)
    "museums": ("Museum", "Gallery", "Archive", "Collection"),
    "beaches": ("Beach", "Cove", "Bay", "Lagoon"),
    "hiking": ("Trail", "Peak", "Ridge", "Gorge"),
    "food": ("Market", "Food Hall", "Bistro", "Winery"),
    "history": ("Castle", "Fort", "Abbey", "Ruins"),
    "nightlife": ("Jazz Club", "Rooftop Bar", "Night Market", "Theatre"),
    "family": ("Zoo", "Aquarium", "Theme Park", "Science Centre"),
    "gardens": ("Botanic Garden", "Park", "Rose Garden", "Arboretum"),
}
_PLACES = ("Old Harbour", "King's", "Riverside", "North Hill", "Saint Anne's", "Westgate", "Silver Lake",
           "Mill Street", "Lighthouse", "Cathedral", "Granite", "Sunset", "Elm Valley", "Pine Point", "Queen's",
           "Copper", "Eastbank", "Maple", "Harbourfront", "Stone Bridge")


def _demo_frame(seed: int, n_users: int, n_interactions: int, degenerate: bool, tail: float = 1.1,
                focus: float = 0.12, theme_skew: float = 2.0, noise: float = 0.1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    per_category = 15
    names, category = [], []
    for c, kinds in enumerate(_CATEGORIES.values()):
        places = rng.permutation(len(_PLACES))
        for j in range(per_category):
            names.append(f"{_PLACES[places[j]]} {kinds[j % len(kinds)]}")
            category.append(c)
    names, category = np.array(names, dtype=object), np.array(category)
    n_cat = len(_CATEGORIES)
    # item popularity: a long tail inside each theme, themes of unequal appeal
    within = 1.0 / (np.arange(per_category) + 1.0) ** tail
    appeal = rng.dirichlet(np.full(n_cat, theme_skew))
    item_pop = np.concatenate([within[rng.permutation(per_category)] for _ in range(n_cat)])
    # users: one or two favourite themes (a sparse Dirichlet), a small share of popular picks
    tastes = rng.dirichlet(focus * n_cat * appeal, size=n_users) * (1 - noise) + appeal * noise
    spare = max(n_interactions - 2 * n_users, 0)
    activity = rng.lognormal(0.0, 0.6, n_users)
    sizes = 2 + rng.multinomial(spare, activity / activity.sum())
    users, items, types, times = [], [], [], []
    start = np.datetime64("2024-01-01T00:00:00")
    funnel = np.array([1.0, 0.45, 0.3, 0.15])  # after a view: click, like, book, each given the previous step
    for u in range(n_users):
        user_ids = []
        t = start + np.timedelta64(int(rng.integers(0, 150 * 86400)), "s")
        picked: set[int] = set()
        while len(user_ids) < sizes[u]:
            c = rng.choice(n_cat, p=tastes[u])
            pool = np.flatnonzero(category == c)
            weights = item_pop[pool] * np.array([0.05 if i in picked else 1.0 for i in pool])
            item = int(rng.choice(pool, p=weights / weights.sum()))
            picked.add(item)
            depth = 1 + int(np.sum(np.cumprod(rng.random(3) < funnel[1:])))
            for step in range(min(depth, sizes[u] - len(user_ids))):
                t = t + np.timedelta64(int(rng.integers(60, 1800) if step else rng.integers(3600, 4 * 86400)), "s")
                hour = int((t - t.astype("datetime64[D]")) / np.timedelta64(1, "h"))
                if hour < 8:  # people browse by day
                    t = t + np.timedelta64(8 - hour, "h")
                user_ids.append(u)
                items.append(item)
                types.append(step)
                times.append(t)
        users.extend(user_ids)
    ids = np.array([str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n_users)], dtype=object)
    type_names = np.array(INTERACTION_TYPES, dtype=object)
    frame = pd.DataFrame({"userId": ids[users], "attractionId": names[items],
                          "interactionType": type_names[types] if not degenerate else "view",
                          "timestamp": pd.to_datetime(np.array(times)).strftime("%Y-%m-%d %H:%M:%S")})
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)


def write_demo(out_dir: Path, seed: int = 0, degenerate: bool = False, *, n_users: int = 600,
               n_interactions: int = 5000) -> Path:
    """Write ``synthetic_user_interactions.csv`` in the reference's format into ``out_dir``.

    ``n_users`` users (uuid ids) with one or two favourite themes among 8 (museums, beaches, ...) pick
    attractions (120 names) mostly from those themes, with a long tail of popularity inside each; each
    pick is a view that may deepen into click, like and book. About ``n_interactions`` rows, sorted by
    time. Same arguments, same bytes; the file is rewritten only when its bytes would change (written to a
    temporary file, then moved into place).
    ``degenerate=True`` writes the reference's trap: every ``interactionType`` is ``view``. Returns
    ``out_dir``.
    """
    out = Path(out_dir)
    frame = _demo_frame(seed, n_users, n_interactions, degenerate)
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    text = buffer.getvalue().encode()
    path = out / FILE_NAME
    if not (path.is_file() and path.read_bytes() == text):
        out.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(text)
        tmp.replace(path)  # a crash mid-write never leaves a truncated file that looks complete
    return out


COMPETITION = Competition(
    name="recommender",
    title="Attraction recommender (factorization machines, ranking metrics)",
    platform="local",
    slug="recommender",
    metric="val_ndcg_at_10",
    mode="max",
    submission=SubmissionSpec(
        file_name="recommendations.csv",
        columns=("userId", "rank", "attractionId"),
        check=check_recommendations,
    ),
    demo=write_demo,
    predictions=None,  # ranked lists are not blended: kit blend refuses recommender runs
    no_folds="it validates on one leave-last-out split (each user's latest interaction, held out by time), not on "
             "folds of rows, and its ranked lists are not blended or imported",
)
