"""The ``kit`` command.

    kit new NAME --data-dir DIR [--template tabular|text|image] [--text COL ...] [--images DIR] [--group COL]
            [--metric M] [--target COL ...] [--id COL] [--platform P] [--slug S] [--force]
                                                        a new competition from its files: spec + notebook
    kit run COMPETITION|NOTEBOOK [-p NAME VALUE ...] [-c COMPETITION]
                                                        execute the notebook with papermill, keep a run record
    kit params COMPETITION|NOTEBOOK                     list the notebook's parameters
    kit runs [COMPETITION] [--all] [--sweep ID]         the runs, best score first (--all: smoke, failed too)
    kit sweep COMPETITION|NOTEBOOK -p NAME V1,V2 ... [--jobs N | --scheduler tcp://HOST:PORT] [-m MSG]
                                                        one kit run per grid point, on a Dask cluster
    kit study [NAME] --storage URL                      an Optuna study's trials and its best
    kit folds COMPETITION [--data-dir DIR] [--n-folds K] [--fold-seed S] [--smoke] --out folds.csv
                                                        the competition's folds, to share with a team
    kit import COMPETITION --oof F --test F [--data-dir DIR] [--folds-from RUN] [-m MSG]
                                                        predictions made elsewhere as a run
    kit blend INPUT INPUT [...] [--method hill|weights|mean|rank|stack] [-m MSG]
                                                        runs, RUN:MODEL, RUN:* or globs blended into a new run
    kit submit FILE|RUN-ID [--competition C] [-m MSG] [--upload [--wait S]] [--data-dir DIR] [--force]
    kit submit --kernel [OWNER/]SLUG [--version N] [-c C] [-m MSG] [--wait S]   a kernel version to a code competition
    kit lb [COMPETITION] [--wait S]                     the platform's verdicts read back; CV against the leaderboard
    kit data download COMPETITION [--dest DIR]          fetch the files through the platform's client
    kit kernel COMPETITION [-p NAME VALUE ...] [--model DIR] [--dataset DIR ...] [--checkpoints RUN] [--out DIR]
               [--push [--submit [-m MSG] [--wait S]]]
    kit competitions                                    the built-in competitions and the project's own

Exit status: 0 on success, 1 when a run, validation or upload failed, 2 for bad usage.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from .cli_ensemble import add_parsers as add_ensemble_parsers
from .cli_submissions import add_parsers
from .errors import KitError, ParameterError, RunError


def _params(pairs: list[list[str]] | None) -> dict[str, str]:
    return {name: value for name, value in (pairs or [])}


def cmd_run(args) -> int:
    from .execute import execute
    from .run import read_manifest

    try:
        run_dir = execute(args.target, _params(args.param), progress=not args.quiet, competition=args.competition)
    except RunError as exc:
        print(f"kit run: {'INTERRUPTED' if exc.interrupted else 'FAILED'}\n{exc}", file=sys.stderr)
        if exc.run_dir is not None:
            print(f"run record: {exc.run_dir / 'manifest.json'}", file=sys.stderr)
        return 130 if exc.interrupted else 1
    manifest = read_manifest(run_dir)
    print(f"competition: {manifest.get('competition') or 'none (the notebook names none)'}")
    print(f"run folder:  {run_dir}")
    print(f"run record:  {run_dir / 'manifest.json'}")
    metrics = manifest.get("metrics") or {}
    for name, value in metrics.items():
        print(f"  {name} = {value:.4f}")
    sub = manifest.get("submission")
    print(f"submission:  {sub['path']}  (sha256 {sub['sha256'][:12]})" if sub else "submission:  none written")
    return 0


def cmd_params(args) -> int:
    from .execute import notebook_parameters, resolve_notebook

    _, notebook = resolve_notebook(args.target)
    for name, info in notebook_parameters(notebook).items():
        print(f"{name}: {info.get('inferred_type_name')} = {info.get('default')}  # {info.get('help', '')}")
    return 0


def cmd_runs(args) -> int:
    from .competitions import get_competition
    from .runs_table import format_runs, list_runs

    if args.competition:
        get_competition(args.competition)  # an unknown name is an error listing the known ones
    if args.sweep:
        from .run import runs_dir
        from .sweep import sweep_runs

        rows = [r for r in sweep_runs(args.sweep) if not args.competition or r.get("competition") == args.competition]
        if not rows:
            raise ParameterError(f"no runs of sweep {args.sweep!r} in {runs_dir()}")
        print(format_runs(rows))
        return 0
    print(format_runs(list_runs(args.competition, include_all=args.all)))
    return 0


def cmd_sweep(args) -> int:
    from .runs_table import format_runs
    from .sweep import sweep, sweep_runs

    def finished(point) -> None:
        values = " ".join(f"{k}={v}" for k, v in point.point.items())
        what = "ok" if point.ok else f"FAILED ({point.error})"
        print(f"point {point.index + 1}: {values}: {what}  [{point.seconds:.0f} s]", flush=True)

    where = args.scheduler or f"a local Dask cluster, {args.jobs} at a time"
    result = sweep(args.target, args.param or [], jobs=args.jobs, scheduler=args.scheduler, message=args.message,
                   competition=args.competition, on_point=finished, announce=lambda sweep_id, n: print(
                       f"sweep {sweep_id}: {n} point{'s' if n != 1 else ''} on {where}", flush=True))
    rows = sweep_runs(result.sweep_id)
    print(format_runs(rows) if rows else "no run folders were written")
    for point in result.points:
        if point.run_dir is None:
            print(f"point {point.index + 1} wrote no run folder: {point.error}")
    failed = len(result.failed)
    print(f"sweep {result.sweep_id}: {len(result.points) - failed} ok, {failed} failed, {result.seconds:.0f} s "
          f"(again: kit runs --sweep {result.sweep_id})")
    return 1 if failed else 0


def cmd_study(args) -> int:
    from .hpo import load_study, study_report

    print(study_report(load_study(args.name, args.storage), limit=args.limit))
    return 0


def cmd_competitions(args) -> int:
    from .competitions import COMPETITIONS

    broken = []
    for name in COMPETITIONS:
        try:
            comp = COMPETITIONS[name]
        except ParameterError as exc:  # the others are still listed
            broken.append(str(exc))
            continue
        where = f"  [{comp.source}]" if comp.source else ""
        print(f"{comp.name:26s} {comp.platform:8s} {comp.metric:18s} {comp.title}{where}")
    for message in broken:
        print(f"kit competitions: {message}", file=sys.stderr)
    return 2 if broken else 0


def cmd_new(args) -> int:
    from .scaffold import NewOptions, new_competition

    options = NewOptions(args.data_dir, template=args.template, metric=args.metric,
                         targets=tuple(args.target) if args.target else None, id=args.id, text=tuple(args.text or ()),
                         images=args.images, group=args.group, platform=args.platform, slug=args.slug,
                         train=args.train, test=args.test, sample=args.sample, force=args.force)
    spec, notebook, found = new_competition(args.name, options)
    for line in found.notes:
        print(line, file=sys.stderr if line.startswith("warning:") else sys.stdout)
    print(f"template:   {found.template}\nspec:       {spec}\nnotebook:   {notebook}")
    print(f"run it:     kit run {args.name} -p smoke true   (then without smoke; kit params {args.name} lists the "
          f"knobs)")
    return 0


def cmd_download(args) -> int:
    from . import platforms
    from .competitions import ROOT, get_competition

    comp = get_competition(args.competition)
    if comp.platform == "local":
        raise ParameterError(f"{comp.name} has no download client; put its files in a folder and pass -p data_dir DIR")
    dest = Path(args.dest) if args.dest else ROOT / "data" / comp.name
    out = platforms.download(comp.platform, comp.slug, dest, force=args.force)
    print(f"data_dir: {out}\nrun with: kit run {comp.name} -p data_dir {out}")
    return 0


def cmd_kernel(args) -> int:
    from . import kernel
    from .competitions import ROOT, get_competition
    from .execute import coerce_parameters, notebook_parameters

    if (args.submit or args.wait) and not args.push:
        raise ParameterError("--submit (and --wait) go with --push: the version Kaggle saves is the one submitted")
    comp = get_competition(args.competition)
    params = coerce_parameters(_params(args.param), notebook_parameters(comp.notebook_path))
    out = Path(args.out) if args.out else ROOT / "build" / "kernels" / comp.name
    with warnings.catch_warnings(record=True) as notes:  # printed once, as notes
        warnings.simplefilter("always")
        bundle = kernel.build_bundle(comp.name, params, out, username=args.username, model=args.model,
                                     datasets=args.dataset or (), checkpoints=args.checkpoints, force=args.force)
    print(f"kernel bundle: {bundle}")
    for att in json.loads((bundle / "bundle.json").read_text())["datasets"]:
        print(f"  attaches {att['ref']} ({att['role']}: {att['source']}) at {att['mount']}")
    for note in notes:
        print(f"note: {note.message}")
    if args.push:
        pushed = kernel.push_bundle(bundle)
        print(pushed)
        from .cli_submissions import after_push

        return after_push(args, comp.name, bundle, pushed)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kit", description="Competition notebook kit: run, record, submit.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("new", help="a new competition from its files: competitions/NAME.toml and notebooks/NAME.ipynb")
    p.add_argument("name", help="the competition's name (lowercase letters, digits, '-', '_')")
    p.add_argument("--data-dir", required=True, help="folder with the competition's files (Kaggle's layout)")
    p.add_argument("--metric", help="metric by name (default: one that fits the task, printed)")
    p.add_argument("--target", nargs="+", help="target column(s) (default: the sample's columns after the id)")
    p.add_argument("--id", help="id column (default: the sample's first column)")
    p.add_argument("--platform", default="kaggle", help="kaggle, aicrowd or local (no upload)")
    p.add_argument("--slug", help="the competition's slug on the platform (default: NAME)")
    p.add_argument("--template", choices=("tabular", "text", "image"),
                   help="notebook template (default: inferred: image with an images folder, text with a text column)")
    p.add_argument("--text", nargs="+", metavar="COL", help="text column(s) (text template; default: the string "
                   "columns that look like text)")
    p.add_argument("--images", metavar="DIR", help="the images folder inside --data-dir (image template; default: "
                   "looked for)")
    p.add_argument("--group", metavar="COL", help="a column whose rows always share a fold (e.g. an author)")
    p.add_argument("--train", default="train.csv", help="training file name")
    p.add_argument("--test", default="test.csv", help="test file name")
    p.add_argument("--sample", default="sample_submission.csv", help="sample submission file name")
    p.add_argument("--force", action="store_true", help="overwrite an existing spec and notebook")
    p.set_defaults(func=cmd_new)

    p = sub.add_parser("run", help="execute a competition's notebook (or any notebook) with papermill, keep a record")
    p.add_argument("target", help="competition name (see `kit competitions`) or a notebook path")
    p.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"),
                   help="override a notebook parameter (repeatable)")
    p.add_argument("-c", "--competition", help="the competition a notebook path belongs to (default: its metadata "
                                                "or file name; none is fine)")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-cell progress bar")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("params", help="list a notebook's parameters")
    p.add_argument("target")
    p.set_defaults(func=cmd_params)

    p = sub.add_parser("runs", help="table of runs, best score first")
    p.add_argument("competition", nargs="?")
    p.add_argument("--all", action="store_true", help="also smoke, failed, running and interrupted runs")
    p.add_argument("--sweep", metavar="ID", help="the runs of one sweep (any status)")
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("sweep", help="one kit run per point of a grid of parameter values, on a Dask cluster")
    p.add_argument("target", help="competition name or a notebook path")
    p.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUES"),
                   help="a knob and its comma-separated values (repeatable; the grid is every combination)")
    p.add_argument("--jobs", type=int, default=1, help="runs at a time on this machine (a local Dask cluster)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run the points on this Dask scheduler's workers")
    p.add_argument("-c", "--competition", help="the competition a notebook path belongs to")
    p.add_argument("-m", "--message", default="", help="a note kept in every point's manifest")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("study", help="an Optuna study's trials (best first) and its best trial")
    p.add_argument("name", nargs="?", help="study name (default: the only study in the storage)")
    p.add_argument("--storage", required=True, help="Optuna storage URL: sqlite:///PATH, journal:PATH, postgresql://...")
    p.add_argument("--limit", type=int, default=20, help="most trials listed (default 20)")
    p.set_defaults(func=cmd_study)

    add_ensemble_parsers(sub)  # folds, import, blend (kitlib.cli_ensemble)
    add_parsers(sub)  # submit, lb (kitlib.cli_submissions)

    p = sub.add_parser("competitions", help="list the built-in competitions and the project's own")
    p.set_defaults(func=cmd_competitions)

    data = sub.add_parser("data", help="competition data").add_subparsers(dest="data_command", required=True)
    p = data.add_parser("download", help="download a competition's files through the platform's client")
    p.add_argument("competition")
    p.add_argument("--dest", help="folder (default data/<competition>/)")
    p.add_argument("--force", action="store_true", help="download again even when files are there")
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("kernel", help="build (and push) a Kaggle notebook bundle for a code competition")
    p.add_argument("competition")
    p.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"),
                   help="bake a notebook parameter into the kernel (repeatable); -p device cuda turns on Kaggle's GPU")
    p.add_argument("--out", help="bundle folder (default build/kernels/<competition>/)")
    p.add_argument("--username", help="Kaggle user owning the kernel (default: from credentials)")
    p.add_argument("--model", help="a model folder to attach as a dataset and bake in as -p model")
    p.add_argument("--dataset", action="append", metavar="DIR", help="a folder to attach as a dataset (repeatable)")
    p.add_argument("--checkpoints", metavar="RUN", help="a training run (id or folder): attach its checkpoints and "
                   "predict with them in the kernel, training nothing")
    p.add_argument("--push", action="store_true", help="push through the kaggle client (recorded in the ledger)")
    p.add_argument("--submit", action="store_true", help="with --push: submit the pushed version to the code "
                   "competition (CreateCodeSubmission)")
    p.add_argument("-m", "--message", default="", help="with --submit: the submission's description")
    p.add_argument("--wait", type=float, metavar="SECONDS", help="with --submit: read its verdict until scored")
    p.add_argument("--force", action="store_true", help="write the bundle into a non-empty --out folder that holds no "
                   "bundle.json (files of the bundle's names are replaced; nothing else is deleted)")
    p.set_defaults(func=cmd_kernel)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``kit``; returns the exit status.

    Every command runs with SIGTERM and SIGHUP turned into what Ctrl-C raises (:func:`kitlib.stops.
    interrupted_by_signals`), so each ends its children and records its state on INT, TERM and HUP. What goes
    wrong is one line on stderr, masked: 2 for bad usage, 1 for a kit error or a file-system error (a full disk, a
    name too long), 130 when interrupted.
    """
    from .masking import mask
    from .stops import interrupted_by_signals

    args = build_parser().parse_args(argv)
    try:
        with interrupted_by_signals():
            return args.func(args)
    except ParameterError as exc:
        print(mask(f"kit {args.command}: {exc}"), file=sys.stderr)
        return 2
    except KitError as exc:
        print(mask(f"kit {args.command}: {exc}"), file=sys.stderr)
        return 1
    except OSError as exc:  # a full disk, a name over the file system's limit, a folder that cannot be made
        print(mask(f"kit {args.command}: {_os_error(exc)}"), file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:  # Ctrl-C (or SIGTERM, SIGHUP) anywhere else: one line, no traceback
        how = f" ({str(exc).removeprefix('signal ')})" if str(exc).startswith("signal") else ""
        print(f"kit {args.command}: interrupted{how}", file=sys.stderr)
        return 130


def _os_error(exc: OSError) -> str:
    """One line for a file-system error: what failed, on which file (its name shortened when very long)."""
    def short(name: object) -> str:
        text = str(name)
        return text if len(text) <= 120 else f"{text[:60]}...{text[-40:]} ({len(text)} characters)"

    where = f": {short(exc.filename)}" if exc.filename is not None else ""
    also = f" -> {short(exc.filename2)}" if exc.filename2 is not None else ""
    return f"{exc.strerror or type(exc).__name__}{where}{also}" if exc.strerror else f"{type(exc).__name__}: {exc}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
