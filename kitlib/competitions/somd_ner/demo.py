"""SOMD demo corpus: deterministic synthetic sentences in the style of methods sections, in the task's format.

:func:`generate_corpus` renders templates with slots filled from the word lists of :mod:`.demo_lexicon` (same
arguments, same sentences on every machine); :func:`write_corpus` writes them as the competition's files and
:func:`write_demo` the embedded demo set (``data/demo/somd-ner/``), both writing only what is missing or
differs.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

from ...errors import ParameterError
from .demo_lexicon import (
    ABBREVIATED,
    ALIASES,
    APP_PARTS,
    APPS,
    AUTHORS,
    COREFS,
    DEVS,
    ENVS,
    EXTENSIONS,
    FILLERS,
    LICENSES,
    NAME_ENDINGS,
    OSES,
    PLACES,
    PLUGIN_PARTS,
    PLUGINS,
    PREFIXES,
    STATS,
    TOPICS,
)
from .files import PHASES
from .relations import format_relations

__all__ = ["DEMO_SIZE", "Corpus", "generate_somd", "generate_corpus", "write_corpus", "write_demo"]

# The templates: ``{SLOT}``s are filled from the word lists of :mod:`.demo_lexicon`; ``{SLOT^}`` marks an
# attribute that belongs to the software after it (the others belong to the nearest one before them).
_POSITIVE = [
    "Statistical analyses were performed using {APP} {VER} ( {DEV} , {PLACE} ) .",
    "Data were analysed with {APP} version {VER} {FILL} .",
    "All {TOPIC} were processed in {APP} and plotted with {APP} .",
    "We used {APP} ( version {VER} ) to quantify {TOPIC} .",
    "{TOPIC_C} were quantified using {APP} software ( {DEV} ) .",
    "Images were analysed in {APP} {CIT} {FILL} .",
    "{STAT_C} were fitted in {ENV} {VER} using the {PLUG} package {CIT} .",
    "Analyses were run in {ENV} ( {ENV_DEV} , {URL} ) with the packages {PLUG} and {PLUG} .",
    "We fitted {STAT} with the {PLUG} package ( version {VER} ) in {ENV} .",
    "The {PLUG} library for {ENV} was used for {STAT} .",
    "Custom scripts were written in {ENV} {VER} and are available at {URL} .",
    "The code is available at {URL} under the {LIC} license .",
    "{APP} is released under the {LIC} and can be downloaded from {URL} .",
    "Reads were aligned with {APP} {VER} {CIT} and counted with {APP} .",
    "All computations ran on a workstation with {OS} {OSVER} and {ENV} {VER} .",
    "The {COREF_HOST} was run on {OS} {OSVER} .",
    "{APP} {VER} was used ; the {COREF} was run with default settings .",
    "We used {APP} for {STAT} ; this {COREF} is freely available .",
    "Coding was done in {APP} {EXT} {VER} ( {DEV} ) .",
    "Regressions were estimated in {APP} / {EXT} {VER} ( {DEV} , {PLACE} ) .",
    "Data were analysed using the {ABBR_FULL} ( {ABBR} ) version {VER} .",
    "{APP} ( also known as {ALT} ) was used to process {TOPIC} .",
    "Models were implemented in {ENV} {REL} ( {DEV} ) using the {PLUG} toolbox .",
    "Figures were prepared in {ENV} {REL} and {APP} .",
    "We performed {STAT} in {APP} {VER} and {ENV} {VER} {FILL} .",
    "The {PLUG} ( {VER} ) and {PLUG} ( {VER} ) packages were used for {STAT} .",
    "{TOPIC_C} were entered into {APP} and analysed with {STAT} in {APP} .",
    "For {STAT} we relied on {PLUG} {CIT} .",
    "Sequences were aligned with {APP} {CIT} and trees were built in {APP} {VER} {CIT} .",
    "Transcripts were coded in {APP} {VER} ( {DEV} ) by two independent raters .",
    "The experiment was programmed in {APP} {VER} {CIT} running on {OS} {OSVER} .",
    "We developed {APP} , an open-source {COREF} written in {ENV} , available at {URL} .",
    "{APP} can be installed from {URL} and requires {ENV} {VER} or later .",
    "Spatial data were mapped in {APP} {VER} ( {DEV} ) {FILL} .",
    "Docking was carried out with {APP} {CIT} and results were visualised in {APP} .",
    "Statistical tests were computed with {ENV} using {PLUG} , {PLUG} and {PLUG} .",
    "Reference lists were managed with {APP} {VER} .",
    "The pipeline combines {APP} , {APP} and {PLUG} {FILL} .",
    "Version {VER^} of {APP} was used for {STAT} .",
    "We used {DEV^} {APP} {VER} for {STAT} .",
    "Under the {LIC^} license , {APP} can be used free of charge .",
    "The {PLUG} package for {ENV} was used to fit {STAT} , and {APP} {VER} to plot them .",
    "{TOPIC_C} were exported from {APP} ( {DEV} ) and analysed in {ENV} {VER} with {PLUG} .",
]
_NEGATIVE = [
    "{TOPIC_C} were compared between groups using {STAT} .",
    "Participants who excel at mental arithmetic were excluded {FILL} .",
    "Light was split by a glass prism before reaching the detector .",
    "The R 2 of the final model was 0.{N} and all variance inflation factors were below 3 .",
    "We used version 2 of the questionnaire , which includes {N} items on {TOPIC} .",
    "As shown previously [ {N} ] , {TOPIC} increase with age .",
    "Windows were closed during all measurements to keep the temperature stable .",
    "{STAT_C} showed a significant effect of treatment on {TOPIC} ( p < 0.0{N} ) .",
    "Samples were stored at -80 °C until analysis {FILL} .",
    "The star-shaped cells were counted in {N} fields of view per slide .",
    "{TOPIC_C} were recorded at baseline and after {N} weeks {FILL} .",
    "A python was observed near the study site on {N} occasions .",
    "The study was approved by the local ethics committee ( approval number {N} ) .",
    "Mean {TOPIC} did not differ between the {N} sites .",
    "Consistent with earlier reports ( {AUTHOR} et al. , 20{YY} ) , we found no effect of season .",
    "The slides were imaged at {N} x magnification {FILL} .",
    "Missing values were imputed by the group mean , and {STAT} were repeated {FILL} .",
    "The second release of the survey in 20{YY} added {N} questions .",
    "Each session lasted about {N} minutes and included {N} practice trials .",
    "Results are reported as mean ± standard deviation unless stated otherwise .",
]


def _made_up(rng: random.Random, parts: tuple[list[str], list[str]]) -> str:
    return rng.choice(parts[0]) + rng.choice(parts[1]) + rng.choice(NAME_ENDINGS)


def _pick(rng: random.Random, known: list[str], parts: tuple[list[str], list[str]], share_new: float) -> str:
    """A well-known name (Zipf-like: early names more often) or, with ``share_new``, a made-up one."""
    if rng.random() < share_new:
        return _made_up(rng, parts)
    return known[min(int(rng.paretovariate(1.0)) - 1, len(known) - 1) if rng.random() < 0.5 else
                 rng.randrange(len(known))]


def _version(rng: random.Random) -> str:
    a, b, c = rng.randint(1, 26), rng.randint(0, 12), rng.randint(0, 9)
    return rng.choice([f"{a}.{b}", f"{a}.{b}.{c}", f"v{a}.{b}", f"{a}", f"{a}.{b}.{c}", f"{a}.{b}"])


def _fill(slot: str, rng: random.Random, state: dict, share_new: float = 0.35) -> list[tuple[str, str | None]]:
    """Words for one template slot, each with the entity type of its span (None = outside)."""
    def span(text: str, typ: str | None) -> list[tuple[str, str | None]]:
        return [(w, typ) for w in text.split(" ")]

    if slot == "APP":
        name = _pick(rng, APPS, APP_PARTS, share_new)
        state["app"] = name
        return span(name, "Application")
    if slot == "PLUG":
        return span(_pick(rng, PLUGINS, PLUGIN_PARTS, share_new), "PlugIn")
    if slot == "ENV":
        return span(rng.choice(ENVS[:3]) if rng.random() < 0.6 else rng.choice(ENVS), "ProgrammingEnvironment")
    if slot == "VER":
        return span(_version(rng), "Version")
    if slot == "OSVER":
        return span(rng.choice(["7", "10", "11", "18.04", "20.04", "10.15", "8"]), "Version")
    if slot == "REL":
        return span(f"R20{rng.randint(10, 23)}{rng.choice('ab')}", "Release")
    if slot in ("DEV", "ENV_DEV"):
        return span(rng.choice(DEVS), "Developer")
    if slot == "OS":
        return span(rng.choice(OSES), "OperatingSystem")
    if slot == "URL":
        host = rng.choice(["https://github.com", "http://www.bioconductor.org", "https://gitlab.com",
                           "https://sourceforge.net/projects", "https://cran.r-project.org/package="])
        name = _made_up(rng, APP_PARTS).lower()
        url = f"{host}{name}" if host.endswith("=") else f"{host}/{rng.choice(AUTHORS).lower()}/{name}"
        return span(url if rng.random() < 0.7 else f"http://{name}.{rng.choice(['org', 'net', 'io'])}", "URL")
    if slot == "CIT":
        if rng.random() < 0.5:
            return [("[", None), (str(rng.randint(1, 80)), "Citation"), ("]", None)]
        cited = span(f"{rng.choice(AUTHORS)} et al. , 20{rng.randint(0, 23):02d}", "Citation")
        return [("(", None)] + cited + [(")", None)]
    if slot == "LIC":
        return span(rng.choice(LICENSES), "License")
    if slot == "EXT":
        return span(rng.choice(EXTENSIONS), "Extension")
    if slot in ("ABBR_FULL", "ABBR"):
        if slot == "ABBR_FULL":
            state["abbr"] = rng.choice(ABBREVIATED)
            return span(state["abbr"][0], "Application")
        return span(state["abbr"][1], "Abbreviation")
    if slot == "ALT":
        alias = dict(ALIASES).get(state.get("app", ""), _made_up(rng, APP_PARTS))
        return span(alias, "AlternativeName")
    if slot == "COREF":
        return span(rng.choice(COREFS), "SoftwareCoreference")
    if slot == "COREF_HOST":
        if rng.random() < 0.5:
            return [("analysis", None)]
        return span(rng.choice(COREFS), "SoftwareCoreference")
    if slot == "PLACE":
        return span(rng.choice(PLACES), None)
    if slot in ("TOPIC", "TOPIC_C"):
        t = rng.choice(TOPICS)
        return span(t[0].upper() + t[1:] if slot == "TOPIC_C" else t, None)
    if slot in ("STAT", "STAT_C"):
        t = rng.choice(STATS)
        return span(t[0].upper() + t[1:] if slot == "STAT_C" else t, None)
    if slot == "FILL":
        n = rng.choice([1, 1, 1, 2, 2, 2, 3, 4, 8])  # now and then a long sentence, longer than a short max_length
        words = [] if n == 0 else [","]
        for i in range(n):
            words += rng.choice(FILLERS).split(" ") + ([","] if i < n - 1 else [])
        return [(w, None) for w in words]
    if slot == "N":
        return [(str(rng.randint(2, 60)), None)]
    if slot == "YY":
        return [(f"{rng.randint(0, 23):02d}", None)]
    if slot == "AUTHOR":
        return [(rng.choice(AUTHORS), None)]
    raise ParameterError(f"Unknown template slot {slot!r}")  # pragma: no cover - templates are fixed


#: Template slots that are software (relation objects) and the relation each attribute slot has with one.
_SOFTWARE_SLOTS = ("APP", "PLUG", "ENV", "OS", "ABBR_FULL")
_ATTRIBUTE_SLOTS = {"VER": "Version_of", "OSVER": "Version_of", "DEV": "Developer_of", "ENV_DEV": "Developer_of",
                    "URL": "URL_of", "CIT": "Citation_of", "LIC": "License_of", "EXT": "Extension_of",
                    "REL": "Release_of", "ABBR": "Abbreviation_of", "ALT": "AlternativeName_of"}


def _relations(spans: list[tuple[str, int, bool]]) -> list[tuple[str, int, int]]:
    """The relations of a rendered sentence from its slot spans ``(slot, first entity token, links forward)``:
    an attribute is of the nearest software before it (after it for a ``{SLOT^}``), a plug-in of the
    programming environment nearest to it."""
    software = [(start, slot) for slot, start, _ in spans if slot in _SOFTWARE_SLOTS]
    out = []
    for slot, start, forward in spans:
        if slot in _ATTRIBUTE_SLOTS:
            targets = [s for s, _ in software if (s > start if forward else s < start)]
            if targets:
                out.append((_ATTRIBUTE_SLOTS[slot], start, min(targets) if forward else max(targets)))
        elif slot == "PLUG":
            envs = [s for s, name in software if name == "ENV"]
            if envs:
                out.append(("PlugIn_of", start, min(envs, key=lambda s: (abs(s - start), s))))
    return out


def _render(template: str, rng: random.Random, share_new: float = 0.35):
    """``(words, labels, relations)`` of one template."""
    words: list[str] = []
    labels: list[str] = []
    spans: list[tuple[str, int, bool]] = []
    state: dict = {}
    if "{FILL}" not in template and template.endswith(" .") and rng.random() < 0.5:
        template = template[:-2] + " {FILL} ."
    if rng.random() < 0.6:
        for slot in ("{TOPIC_C}", "{STAT_C}"):
            template = template.replace(slot, slot.replace("_C", ""), 1) if template.startswith(slot) else template
        first = template.split(" ", 1)[0]
        template = rng.choice(PREFIXES) + " " + (template[0].lower() + template[1:] if first.isalpha() else template)
    for piece in template.split(" "):
        slot = None
        if piece.startswith("{") and "}" in piece:
            slot, rest = piece[1:].split("}", 1)
            filled = _fill(slot.rstrip("^"), rng, state, share_new)
            if rest:  # "20{YY}"-style pieces glue onto the previous word
                filled = filled + [(rest, None)]
        elif "{" in piece:
            head, slot = piece.split("{", 1)
            slot = slot.rstrip("}")
            filled = [(head + w, t) for w, t in _fill(slot.rstrip("^"), rng, state, share_new)]
        else:
            filled = [(piece, None)]
        first = next((len(words) + i for i, (_, t) in enumerate(filled) if t is not None), None)
        if slot is not None and first is not None:
            spans.append((slot.rstrip("^"), first, slot.endswith("^")))
        prev = None
        for w, t in filled:
            words.append(w)
            labels.append("O" if t is None else (f"I-{t}" if prev == t else f"B-{t}"))
            prev = t
    return words, labels, _relations(spans)


@dataclass
class Corpus:
    """A generated SOMD set: training and test sentences, their BIO labels and relations."""

    train_words: list[list[str]]
    train_labels: list[list[str]]
    train_relations: list[list[tuple[str, int, int]]]
    test_words: list[list[str]]
    test_labels: list[list[str]]
    test_relations: list[list[tuple[str, int, int]]]


def generate_somd(n_train: int, n_test: int, seed: int = 0, negative_share: float = 0.4,
                  test_share_new: float = 0.35) -> Corpus:
    """Deterministic synthetic SOMD-style sentences with entities and relations (a :class:`Corpus`).

    ``negative_share`` of the sentences hold no entity (the real Phase I set: about 10%);
    ``test_share_new`` is the share of made-up software names in the test sentences (0.35 as in training; more
    for test sentences unlike the training ones, as in Phase II). The same arguments give the same sentences
    on every machine (Python's ``random.Random(seed)``).
    """
    rng = random.Random(seed)
    out: list[list] = [[], [], [], [], [], []]
    for split, n, share in ((0, n_train, 0.35), (3, n_test, test_share_new)):
        for _ in range(n):
            template = rng.choice(_NEGATIVE if rng.random() < negative_share else _POSITIVE)
            for part, value in zip(out[split:split + 3], _render(template, rng, share)):
                part.append(value)
    return Corpus(*out)


def generate_corpus(n_train: int, n_test: int, seed: int = 0, negative_share: float = 0.4):
    """:func:`generate_somd` without the relations: ``(train_words, train_labels, test_words, test_labels)``."""
    c = generate_somd(n_train, n_test, seed, negative_share)
    return c.train_words, c.train_labels, c.test_words, c.test_labels


def _write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` unless the file already holds exactly these bytes; True when written.

    The bytes go to a temporary file beside ``path`` that is then renamed over it, so a reader (another
    run calling :func:`write_demo` at the same time) never sees half a file.
    """
    if path.is_file() and path.read_bytes() == data:
        return False
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _phase2_style(texts: list[str], relations: list[str]) -> tuple[list[str], list[str]]:
    """What the Phase II files look like: some lines with double spaces between tokens, some relation
    entries joined by ``;`` without a space, and one malformed entry (a subject of two indices)."""
    texts = [line.replace(" ", "  ", 1) if i % 7 == 3 else line for i, line in enumerate(texts)]
    relations = [line.replace("; ", ";") if i % 5 == 1 else line for i, line in enumerate(relations)]
    first = next((i for i, line in enumerate(relations) if line.startswith("Version_of\t")), None)
    if first is not None:
        typ, subj, rest = relations[first].split("\t", 2)
        relations[first] = f"{typ}\t{subj},{int(subj) + 2}\t{rest}"
    return texts, relations


def write_corpus(out_dir: str | Path, n_train: int, n_test: int, seed: int = 0, with_test_labels: bool = False,
                 phase: str = "phase1", negative_share: float = 0.4, test_share_new: float = 0.35) -> Path:
    """Write a :func:`generate_somd` set in the competition's file format into ``out_dir``.

    ``phase="phase1"`` writes ``train_texts.txt``, ``train_entities.txt``, ``train_relations.txt`` and
    ``test_texts.txt``; ``"phase2"`` the Phase II names (``texts.txt``, ``entities.txt``, ``relations.txt``,
    ``test_texts.txt``) with some double spaces, ``;`` without a space and one malformed relation entry, as
    in the published files. With ``with_test_labels`` it also writes ``test_entities.txt`` and
    ``test_relations.txt`` (not part of the real task; handy for checking a model). Only files that are
    missing or whose bytes differ are written (each through a temporary file and a rename). Out: ``out_dir``.
    """
    if phase not in PHASES:
        raise ParameterError(f"Unknown phase {phase!r}; expected one of {list(PHASES)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    c = generate_somd(n_train, n_test, seed, negative_share, test_share_new)
    texts = [" ".join(r) for r in c.train_words]
    relations = [format_relations(r) for r in c.train_relations]
    if phase == "phase2":
        texts, relations = _phase2_style(texts, relations)
    names = PHASES[phase]
    files = {names[0]: texts, names[1]: [" ".join(r) for r in c.train_labels], names[2]: relations,
             names[3]: [" ".join(r) for r in c.test_words]}
    if with_test_labels:
        files["test_entities.txt"] = [" ".join(r) for r in c.test_labels]
        files["test_relations.txt"] = [format_relations(r) for r in c.test_relations]
    for name, rows in files.items():
        _write_if_changed(out_dir / name, "".join(r + "\n" for r in rows).encode("utf-8"))
    return out_dir


DEMO_SIZE = (480, 120)


def write_demo(out_dir: Path, seed: int = 0, variant: str = "phase1") -> Path:
    """Write the demo set (480 training and 120 test sentences) into ``out_dir``; returns ``out_dir``.

    ``data/demo/somd-ner/`` in the repository is exactly ``write_demo(..., seed=0)`` (a test keeps them
    equal), so a deleted demo folder comes back byte for byte. :meth:`Competition.resolve_data_dir` calls
    it on every run with that folder as target: files already up to date are not written again.
    ``variant="phase2"`` writes the Phase II-style files (:func:`write_corpus`) with test sentences that hold
    more software names unseen in training (0.7 instead of 0.35 made up), like Phase II's other sources.
    """
    if variant == "phase2":
        return write_corpus(out_dir, *DEMO_SIZE, seed=seed, phase="phase2", test_share_new=0.7)
    return write_corpus(out_dir, *DEMO_SIZE, seed=seed)
