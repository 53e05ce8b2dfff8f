"""The SOMD time budget: the default ``kit run somd-ner`` on a generated Phase I-sized set, timed.

Issue 13's target: the default notebook on about 1,150 training sentences (203 test sentences, about 10%
without any entity, as Phase I) finishes in under 25 minutes on 2 cores. This writes such a set with the kit's
own generator (:func:`kitlib.competitions.somd_ner.write_corpus`, deterministic; test labels and relations too),
runs ``kit run somd-ner -p data_dir <set>`` (plus any ``-p`` given here) and prints:

- the wall time, and the CPU time of the run and its kernel (user + system, from ``getrusage``): on a shared
  machine the wall clock mostly measures the neighbours, so the load average before and after is printed too;
- the run's out-of-fold figures (SOMD score, entity F1 of the gazetteer, the model and their combination,
  relation F1 of the rule and the classifier);
- the submitted zip scored against the generated test labels and relations (figures on generated data).

Run: ``python bench/bench_somd_budget.py [--out DIR] [-p name value ...]``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="", help="folder for the generated set (default: a temporary folder)")
    parser.add_argument("--n-train", type=int, default=1150)
    parser.add_argument("--n-test", type=int, default=203)
    parser.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    args = parser.parse_args()

    from kitlib.competitions import somd_ner as somd
    from kitlib.competitions.somd_ner import scoring

    data_dir = Path(args.out or tempfile.mkdtemp(prefix="somd-phase1-"))
    somd.write_corpus(data_dir, args.n_train, args.n_test, seed=1, negative_share=0.1, with_test_labels=True)
    command = [sys.executable, "-m", "kitlib.cli", "run", "somd-ner", "-p", "data_dir", str(data_dir)]
    for name, value in args.p:
        command += ["-p", name, value]
    load_before = os.getloadavg()
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"{' '.join(command[2:])}\nexit {done.returncode}; wall {wall / 60:.1f} min; CPU (user + system) "
          f"{(usage.ru_utime + usage.ru_stime) / 60:.1f} min; load average before {load_before[0]:.1f}, "
          f"after {os.getloadavg()[0]:.1f} (2 cores: above 2 the neighbours take a share)")
    if done.returncode != 0:
        print(done.stderr[-3000:])
        raise SystemExit(done.returncode)
    from kitlib.runtime import runs_dir

    run_dir = max((p for p in runs_dir().glob("somd-ner-*") if (p / "manifest.json").is_file()),
                  key=lambda p: p.stat().st_mtime)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    m = manifest["metrics"]
    print(f"run {run_dir.name} (generated data): out of fold SOMD {m['val_somd_score']:.4f}, entity F1 "
          f"{m['val_entity_f1']:.4f} (gazetteer {m['val_entity_f1_gazetteer']:.4f}, "
          f"model {m['val_entity_f1_model']:.4f}, combination {m['val_entity_f1_combination']:.4f}, "
          f"weight {m['gazetteer_weight']:.2f}), relation F1 "
          f"{m['val_relation_f1']:.4f} (rule {m['val_relation_f1_rule']:.4f}, classifier "
          f"{m['val_relation_f1_classifier']:.4f}); training {m['train_minutes']:.1f} min")
    with zipfile.ZipFile(manifest["submission"]["path"]) as zf:
        pred_labels = [line.split() for line in zf.read("predictions.entities.txt").decode().splitlines()]
        pred_rel = [somd.relations.parse_relations_line(line, "p")[0]
                    for line in zf.read("predictions.relations.txt").decode().split("\n")[:-1]]
    words = somd.read_texts(data_dir / "test_texts.txt")
    true_labels = somd.read_labels(data_dir / "test_entities.txt", words, texts_name="test_texts.txt")
    true_rel = somd.read_relations(data_dir / "test_relations.txt", words)[0]
    s = scoring.somd_scores(true_labels, pred_labels, true_rel, pred_rel)
    print(f"test ({len(words)} generated sentences): SOMD {s['somd_micro']:.4f} micro / {s['somd_macro']:.4f} macro; "
          f"entity F1 {s['entity_f1_micro']:.4f}, relation F1 {s['relation_f1_micro']:.4f}")


if __name__ == "__main__":
    main()
