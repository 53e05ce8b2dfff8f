"""The ``kit`` commands for teams and ensembles: the competition's folds to share, predictions made elsewhere, blends.
:mod:`kitlib.cli` adds their parsers (:func:`add_parsers`).

    kit folds NAME [--data-dir DIR] [--n-folds K] [--fold-seed S] [--smoke] [-p NAME VALUE ...] --out folds.csv
    kit import NAME --oof F --test F [--data-dir DIR] [--folds-from RUN] [--n-folds K] [--fold-seed S] [-m MSG]
    kit blend INPUT INPUT [...] [--method hill|weights|mean|rank|stack] [--max-steps N] [--bags N]
              [--bag-fraction F] [--stacker logistic|ridge|lightgbm] [--seed S] [-m MSG]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import ParameterError

__all__ = ["add_parsers", "cmd_blend", "cmd_folds", "cmd_import"]


def add_parsers(sub) -> None:
    """Add ``folds``, ``import`` and ``blend`` to the ``kit`` subcommands ``sub``."""
    p = sub.add_parser("folds", help="write a competition's fold assignment (key columns and fold), to share")
    p.add_argument("competition")
    p.add_argument("--data-dir", help="the competition's data folder (default: the notebook's: the demo set)")
    p.add_argument("--n-folds", type=int, help="folds (default: the notebook's own default)")
    p.add_argument("--fold-seed", type=int, help="how rows fall into folds (default: the notebook's own default)")
    p.add_argument("--smoke", action="store_true", help="the folds of the smoke subset (what a smoke run uses)")
    p.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"),
                   help="another notebook parameter the folds depend on (the images' dataset and val_fraction, the "
                        "clocks' n_train, SOMD's phase)")
    p.add_argument("--out", required=True, help="the CSV to write (key columns, then fold)")
    p.set_defaults(func=cmd_folds)

    p = sub.add_parser("import", help="predictions made elsewhere (CSV or parquet) as a run with a validated "
                                      "submission")
    p.add_argument("competition")
    p.add_argument("--oof", required=True, help="out-of-fold predictions: key columns, fold, prediction columns")
    p.add_argument("--test", required=True, help="test predictions: key columns, prediction columns")
    p.add_argument("--data-dir", help="the data folder they were made on (default: the --folds-from run's, else the "
                                      "competition's)")
    p.add_argument("--folds-from", metavar="RUN", help="take the rows and folds of this run's out-of-fold table (the "
                                                       "file then needs no fold column)")
    p.add_argument("--n-folds", type=int, help="the folds the fold column was made with (default: kit folds')")
    p.add_argument("--fold-seed", type=int, help="their fold_seed (default: kit folds')")
    p.add_argument("-m", "--message", default="", help="a note kept in the run's manifest")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("blend", help="blend the out-of-fold and test predictions of runs into a new run")
    p.add_argument("runs", nargs="+", metavar="INPUT", help="RUN, RUN:MODEL, RUN:* or a quoted glob of run ids "
                                                            "(two or more inputs, one competition)")
    p.add_argument("--method", help="hill, weights, mean, rank or stack (default: weights for 2-3 inputs, hill above)")
    p.add_argument("--max-steps", type=int, default=100, help="hill: most additions after the best input (100)")
    p.add_argument("--bags", type=int, default=1, help="hill: hills over random subsets of the inputs, averaged (1)")
    p.add_argument("--bag-fraction", type=float, default=0.5, help="hill: the share of inputs in each bag (0.5)")
    p.add_argument("--stacker", default="auto", help="stack: logistic, ridge or lightgbm (default: logistic for "
                                                     "classes, ridge for values)")
    p.add_argument("--seed", type=int, default=0, help="hill's bags, the random simplex points, the stacker (0)")
    p.add_argument("-m", "--message", default="", help="a note kept in the blend's manifest")
    p.set_defaults(func=cmd_blend)


def cmd_folds(args: argparse.Namespace) -> int:
    """``kit folds``: the competition's fold assignment as a CSV."""
    from .competitions import get_competition
    from .competitions.rows import fold_settings, rows_of
    from .parameters import coerce_parameters, notebook_parameters

    comp = get_competition(args.competition)
    rows = rows_of(comp)
    given = dict(args.param or [])
    params = coerce_parameters(given, notebook_parameters(comp.notebook_path)) if given else None
    settings = fold_settings(comp, args.n_folds, args.fold_seed, args.smoke, params)
    table = comp.folds(args.data_dir, settings.n_folds, settings.fold_seed, args.smoke, settings.params)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    counts = table["fold"].value_counts().sort_index()
    what = "a hold-out (fold 0; -1 only trains)" if not rows.n_folds else f"{settings.n_folds} folds"
    extra = "".join(f", {k} {v!r}" for k, v in settings.params.items())
    print(f"{out}: {len(table):,} rows of {comp.name}{' (smoke subset)' if args.smoke else ''}, {what}, fold_seed "
          f"{settings.fold_seed}{extra}; keys {[c for c in table.columns if c != 'fold']}")
    print("rows per fold: " + ", ".join(f"{k}: {v:,}" for k, v in counts.items()))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """``kit import``: predictions made elsewhere as a run."""
    from .imports import import_predictions
    from .run import read_manifest

    out = import_predictions(args.competition, args.oof, args.test, data_dir=args.data_dir, folds_from=args.folds_from,
                             n_folds=args.n_folds, fold_seed=args.fold_seed, message=args.message)
    manifest = read_manifest(out)
    cv = manifest["cv"]
    print(f"import run:  {out}")
    print(f"  {cv['metric']} {cv['score']:.4f} out of fold (computed by the kit), folds {cv['mean']:.4f} +- "
          f"{cv['std']:.4f} over {len(cv['folds'])} fold(s)")
    for warning in manifest.get("warnings") or []:
        print(f"warning: {warning}", file=sys.stderr)
    sub = manifest.get("submission")
    print(f"submission:  {sub['path']}  (sha256 {sub['sha256'][:12]})" if sub else "submission:  none written")
    return 0


def _cv(cv: dict) -> str:
    return f"{cv['mean']:.4f} +- {cv['std']:.4f} (pooled {cv['score']:.4f})"


def cmd_blend(args: argparse.Namespace) -> int:
    """``kit blend``: inputs into a new run, each input's CV beside the blend's nested CV."""
    from .blend import blend
    from .ensemble import Settings
    from .run import read_manifest

    try:
        settings = Settings(max_steps=args.max_steps, bags=args.bags, bag_fraction=args.bag_fraction,
                            stacker=args.stacker, seed=args.seed)
    except ParameterError as exc:
        raise ParameterError(f"{exc} (--max-steps, --bags, --bag-fraction, --stacker)") from None
    out = blend(args.runs, method=args.method, message=args.message, settings=settings)
    manifest = read_manifest(out)
    cv, weights = manifest["cv"], manifest.get("weights") or {}
    print(f"blend run:   {out}  (method {manifest['method']})")
    for name, scores in manifest["input_scores"].items():
        weight = f"weight {weights[name]:.3f}, " if name in weights else ""
        print(f"  {name}: {weight}cv {_cv(scores['blend_cv'])}")
    if manifest.get("stacker"):
        stacker = manifest["stacker"]
        print(f"  stacker: {stacker['kind']} over {len(stacker['features'])} features")
    nested = "nested: chosen on the other folds" if cv.get("nested") else "nothing chosen: plain CV"
    print(f"  blend: {cv['metric']} {_cv(cv)} ({nested}); in-sample (optimistic) {cv['in_sample']:.4f}")
    sub = manifest.get("submission")
    print(f"submission:  {sub['path']}  (sha256 {sub['sha256'][:12]})" if sub else "submission:  none written")
    return 0
