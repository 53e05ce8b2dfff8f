"""SOMD 2025 software mention detection (Subtask I): files, label set, gazetteer baseline, submission.

The competition's data directory holds three plain-text files, one sentence a line::

    train_texts.txt     tokens separated by single spaces
    train_entities.txt  one BIO label per token, line for line and token for token
    test_texts.txt      tokens of the sentences to label

A submission is ``predictions.txt``: one line per test sentence, one label per token, single spaces.
The shared task's platform takes it zipped (``predictions.txt`` at the zip's root); it has no upload
client, so :func:`pack_predictions` writes the zip for the user to upload by hand.

Reading is strict: a line ending (``\\n`` or ``\\r\\n``) ends a sentence, blank lines at the end of a file
are tolerated, and everything else that is not "tokens separated by single spaces" is an error naming
the file, the line and the column. Nothing is guessed.
"""
from __future__ import annotations

import random
import zipfile
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError, ParameterError, SubmissionError
from .spec import Competition, SubmissionSpec

__all__ = [
    "ENTITY_TYPES",
    "LABELS",
    "SomdData",
    "read_texts",
    "read_labels",
    "read_somd",
    "sentence_table",
    "mentions",
    "highlight_html",
    "Gazetteer",
    "write_predictions",
    "check_predictions",
    "pack_predictions",
    "generate_corpus",
    "write_corpus",
    "write_demo",
]

ENTITY_TYPES: tuple[str, ...] = (
    "Application", "PlugIn", "ProgrammingEnvironment", "OperatingSystem", "SoftwareCoreference", "Version",
    "Developer", "URL", "Citation", "Abbreviation", "AlternativeName", "Extension", "License", "Release",
)
#: Every label of the task: ``O`` first, then ``B-``/``I-`` for each entity type.
LABELS: tuple[str, ...] = ("O",) + tuple(f"{p}-{t}" for t in ENTITY_TYPES for p in ("B", "I"))
_LABEL_SET = frozenset(LABELS)
TRAIN_TEXTS, TRAIN_ENTITIES, TEST_TEXTS, PREDICTIONS = (
    "train_texts.txt", "train_entities.txt", "test_texts.txt", "predictions.txt")


# ------------------------------------------------------------------------------------------ reading
def _read_lines(path: Path, error: type[Exception] = DataError) -> list[str]:
    """The lines of ``path`` (UTF-8) without line endings and without trailing blank lines."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise error(f"{path.name} line {line}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]
    while lines and lines[-1].strip() == "":
        lines.pop()
    if not lines:
        raise error(f"{path.name}: the file is empty; expected one sentence a line")
    return lines


def _split_line(line: str, name: str, number: int, what: str) -> tuple[list[str] | None, str | None]:
    """Split one line on single spaces: ``(items, None)`` or ``(None, error message)``."""
    if line == "":
        return None, f"{name} line {number}: empty line; expected {what} separated by single spaces"
    items = line.split(" ")
    if "" in items:
        col = (line.index("  ") + 2) if "  " in line else (1 if line.startswith(" ") else len(line))
        return None, (f"{name} line {number} column {col}: extra space; expected {what} separated by "
                      "single spaces")
    return items, None


def read_texts(path: str | Path) -> list[list[str]]:
    """The sentences of a ``*_texts.txt`` file, each a list of tokens.

    Raises ``DataError`` for a missing or empty file, a blank line inside the file, or a line with
    leading, trailing or doubled spaces (naming the line and column).
    """
    path = Path(path)
    sentences = []
    for number, line in enumerate(_read_lines(path), start=1):
        tokens, err = _split_line(line, path.name, number, "tokens")
        if err:
            raise DataError(err)
        sentences.append(tokens)
    return sentences


def read_labels(path: str | Path, sentences: Sequence[Sequence[str]], texts_name: str = TRAIN_TEXTS) -> list[list[str]]:
    """The BIO labels of an ``*_entities.txt`` file, checked line by line against ``sentences``.

    Raises ``DataError`` when the line counts differ, a line has more or fewer labels than its sentence
    has tokens (``train_entities.txt line 812: 23 labels for 22 tokens``), or a label is not one of
    :data:`LABELS` (naming line, label position and the allowed labels).
    """
    path = Path(path)
    lines = _read_lines(path)
    if len(lines) != len(sentences):
        raise DataError(f"{path.name}: {len(lines)} lines but {texts_name} has {len(sentences)} sentences; "
                        "expected one line of labels per sentence")
    labels = []
    for number, (line, tokens) in enumerate(zip(lines, sentences), start=1):
        items, err = _split_line(line, path.name, number, "labels")
        if err:
            raise DataError(err)
        if len(items) != len(tokens):
            raise DataError(f"{path.name} line {number}: {len(items)} labels for {len(tokens)} tokens")
        for position, label in enumerate(items, start=1):
            if label not in _LABEL_SET:
                raise DataError(f"{path.name} line {number} label {position}: unknown label {label!r}; "
                                f"expected O or B-/I- with one of {list(ENTITY_TYPES)}")
        labels.append(items)
    return labels


@dataclass
class SomdData:
    """The competition's files, parsed: training sentences with labels, and test sentences."""

    train_words: list[list[str]]
    train_labels: list[list[str]]
    test_words: list[list[str]]
    data_dir: Path


def read_somd(data_dir: str | Path) -> SomdData:
    """Read ``train_texts.txt``, ``train_entities.txt`` and ``test_texts.txt`` from ``data_dir``.

    Raises ``DataError`` (see :func:`read_texts`, :func:`read_labels`), naming the missing file.
    """
    data_dir = Path(data_dir)
    words = read_texts(data_dir / TRAIN_TEXTS)
    labels = read_labels(data_dir / TRAIN_ENTITIES, words)
    return SomdData(words, labels, read_texts(data_dir / TEST_TEXTS), data_dir)


def mentions(words: Sequence[str], labels: Sequence[str]) -> list[tuple[str, int, int, str]]:
    """The entities of one sentence as ``(type, first word, last word, text)`` (seqeval's reading of BIO:
    an ``I-X`` that does not continue an ``X`` starts a new entity)."""
    out, start, kind = [], None, None
    for i, label in enumerate([*labels, "O"]):
        prefix, _, typ = label.partition("-")
        continues = prefix == "I" and typ == kind
        if start is not None and not continues:
            out.append((kind, start, i - 1, " ".join(words[start:i])))
            start = kind = None
        if prefix in ("B", "I") and not continues:
            start, kind = i, typ
    return out


def sentence_table(words: Sequence[Sequence[str]], labels: Sequence[Sequence[str]] | None = None):
    """One row per sentence (pandas DataFrame): ``sentence`` index, ``document`` (= the sentence index:
    the files carry no document id), ``n_words``, ``n_entities`` and ``types`` (comma-separated)."""
    import pandas as pd

    rows = []
    for i, ws in enumerate(words):
        ents = mentions(ws, labels[i]) if labels is not None else []
        rows.append({"sentence": i, "document": i, "n_words": len(ws), "n_entities": len(ents),
                     "types": ",".join(sorted({e[0] for e in ents}))})
    return pd.DataFrame(rows)


_COLOURS = ("#ffd166", "#a0e7a0", "#9ecbff", "#f4a6c0", "#d5b8ff", "#ffb38a", "#b8f0f0", "#e0e0a0",
            "#c9c9ff", "#ffc9c9", "#c0e0c0", "#f0d0a0", "#d0d0d0", "#a0d0f0")


def highlight_html(words: Sequence[str], labels: Sequence[str]) -> str:
    """One sentence as HTML: each mention in a ``<mark>`` coloured by its type, the type in small
    capitals after it. Words are HTML-escaped."""
    import html

    spans = {start: (typ, end) for typ, start, end, _ in mentions(words, labels)}
    parts, i = [], 0
    while i < len(words):
        if i in spans:
            typ, end = spans[i]
            colour = _COLOURS[ENTITY_TYPES.index(typ) % len(_COLOURS)] if typ in ENTITY_TYPES else "#eeeeee"
            text = html.escape(" ".join(words[i:end + 1]))
            parts.append(f'<mark style="background:{colour}">{text} <sub>{html.escape(typ)}</sub></mark>')
            i = end + 1
        else:
            parts.append(html.escape(words[i]))
            i += 1
    return " ".join(parts)


# --------------------------------------------------------------------------------------- gazetteer
class Gazetteer:
    """The baseline: label every longest exact match of a mention seen in training.

    ``fit`` collects each labelled mention's words and the type it was given most often (ties: the
    type first seen); ``predict`` walks each sentence left to right and, at each word, labels the longest
    known mention starting there (``B-``/``I-``), else ``O``. ``lowercase`` matches case-insensitively.
    Learned attributes: ``mentions_`` (word tuple -> type), ``max_words_``.
    """

    def __init__(self, lowercase: bool = False):
        self.lowercase = lowercase

    def _key(self, words: Sequence[str]) -> tuple[str, ...]:
        return tuple(w.lower() for w in words) if self.lowercase else tuple(words)

    def fit(self, sentences: Sequence[Sequence[str]], labels: Sequence[Sequence[str]]) -> Gazetteer:
        """Learn the mentions of ``sentences`` labelled ``labels``; returns ``self``."""
        counts: dict[tuple[str, ...], Counter] = defaultdict(Counter)
        for words, labs in zip(sentences, labels):
            for typ, start, end, _ in mentions(words, labs):
                counts[self._key(words[start:end + 1])][typ] += 1
        self.mentions_ = {k: c.most_common(1)[0][0] for k, c in counts.items()}
        self.max_words_ = max((len(k) for k in self.mentions_), default=0)
        return self

    def predict(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """BIO labels for ``sentences`` (one label per word). Raises ``ParameterError`` before ``fit``."""
        if not hasattr(self, "mentions_"):
            raise ParameterError("Gazetteer.predict called before fit")
        out = []
        for words in sentences:
            keys = self._key(words)
            labs, i = ["O"] * len(words), 0
            while i < len(words):
                for n in range(min(self.max_words_, len(words) - i), 0, -1):
                    typ = self.mentions_.get(keys[i:i + n])
                    if typ is not None:
                        labs[i:i + n] = [f"B-{typ}"] + [f"I-{typ}"] * (n - 1)
                        i += n
                        break
                else:
                    i += 1
            out.append(labs)
        return out


# -------------------------------------------------------------------------------------- submission
def write_predictions(labels: Sequence[Sequence[str]], path: str | Path) -> Path:
    """Write ``predictions.txt``: one line per sentence, labels separated by single spaces, ``\\n`` ends."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(" ".join(labs) + "\n" for labs in labels), encoding="utf-8")
    return path


def check_predictions(path: Path, data_dir: Path | None, max_errors: int = 5) -> None:
    """Check a ``predictions.txt`` against ``data_dir/test_texts.txt``; return None when it is valid.

    Valid: one line per test sentence (blank lines at the end tolerated), as many labels as tokens on
    each line, labels separated by single spaces, every label one of :data:`LABELS`.
    Raises ``SubmissionError`` naming the first ``max_errors`` offending lines (or when ``data_dir`` is
    None); ``DataError`` when ``test_texts.txt`` itself cannot be read.
    """
    if data_dir is None:
        raise SubmissionError(f"cannot check {Path(path).name} without the competition's data folder "
                              f"(it needs {TEST_TEXTS}); pass --data-dir")
    path, data_dir = Path(path), Path(data_dir)
    sentences = read_texts(data_dir / TEST_TEXTS)
    lines = _read_lines(path, SubmissionError)
    problems: list[str] = []
    if len(lines) != len(sentences):
        problems.append(f"{path.name}: {len(lines)} lines but {TEST_TEXTS} has {len(sentences)} sentences; "
                        "expected one line of labels per sentence")
    for number, (line, tokens) in enumerate(zip(lines, sentences), start=1):
        if len(problems) >= max_errors:
            break
        items, err = _split_line(line, path.name, number, "labels")
        if err:
            problems.append(err)
        elif len(items) != len(tokens):
            problems.append(f"{path.name} line {number}: {len(items)} labels for {len(tokens)} tokens")
        else:
            bad = [(i, lab) for i, lab in enumerate(items, start=1) if lab not in _LABEL_SET]
            if bad:
                problems.append(f"{path.name} line {number} label {bad[0][0]}: unknown label {bad[0][1]!r}; "
                                f"expected O or B-/I- with one of {list(ENTITY_TYPES)}")
    if problems:
        raise SubmissionError("invalid predictions:\n  " + "\n  ".join(problems[:max_errors]))


def pack_predictions(path: str | Path, zip_path: str | Path | None = None) -> Path:
    """Zip ``predictions.txt`` for the shared task's platform (the file at the zip's root).

    ``zip_path`` defaults to ``path`` with ``.zip``. The archive's bytes depend only on the file's bytes
    (fixed timestamp), so the same predictions give the same zip. Out: the zip's path.
    Raises ``SubmissionError`` when ``path`` does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise SubmissionError(f"{path}: no such predictions file")
    zip_path = Path(zip_path) if zip_path is not None else path.with_suffix(".zip")
    info = zipfile.ZipInfo(PREDICTIONS, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.writestr(info, path.read_bytes())
    return zip_path


# ------------------------------------------------------------------------------------ demo corpus
# Sentences in the style of methods sections, written for this project. ``{SLOT}``s are filled from the
# lexicons below; each slot gives words and the entity type of the span (None for plain words). The
# lexicons mix well-known names (frequent) with made-up ones (rare), so a model must use context to find
# the names it has not seen, as on the real task; the negative sentences hold look-alikes ("excel",
# "prism", "R 2", "version 2 of the questionnaire", "[ 12 ]") that a word list mislabels.
_APPS = ["SPSS", "Stata", "ImageJ", "Fiji", "GraphPad Prism", "Microsoft Excel", "Excel", "NVivo", "Cytoscape",
         "FlowJo", "Geneious", "Imaris", "CellProfiler", "PyMOL", "MEGA", "Clustal Omega", "MAFFT", "Bowtie2",
         "HISAT2", "Cufflinks", "SAMtools", "BEAST", "RAxML", "MaxQuant", "Skyline", "Trimmomatic", "FastQC",
         "STAR", "Image Lab", "ZEN", "Mplus", "AMOS", "LIWC", "Praat", "E-Prime", "PsychoPy", "Qualtrics",
         "REDCap", "EndNote", "ArcGIS", "QGIS", "Gaussian", "GROMACS", "AutoDock Vina", "Chimera", "Prism"]
_APP_PARTS = (["Gen", "Bio", "Cell", "Seq", "Stat", "Morph", "Prot", "Neuro", "Geo", "Chem", "Flow", "Phylo",
               "Mass", "Net", "Clust", "Spectra", "Lipid", "Voxel", "Meta", "Trans"],
              ["Lab", "Kit", "Tools", "Suite", "Pro", "Map", "View", "Finder", "Miner", "Scope", "Quant",
               "Plot", "Track", "Align", "Sim", "Works", "Fold", "Sort"])
_PLUGINS = ["lme4", "ggplot2", "DESeq2", "edgeR", "limma", "survival", "vegan", "nlme", "Seurat", "scikit-learn",
            "NumPy", "pandas", "SciPy", "statsmodels", "Biopython", "TensorFlow", "Keras", "PyTorch",
            "metafor", "lavaan", "caret", "randomForest", "glmnet", "igraph", "NetworkX", "matplotlib",
            "Bioconductor", "MorphoJ", "TrackMate", "Bio-Formats"]
_PLUGIN_PARTS = (["py", "r", "sc", "bio", "geo", "deep", "fast", "meta", "multi", "phylo", "lm", "gg"],
                 ["seq", "stats", "fit", "tree", "plot", "clust", "omics", "net", "map", "mix", "boost", "bayes"])
_ENVS = ["R", "Python", "MATLAB", "Perl", "Julia", "Java", "C++", "SAS", "Mathematica", "Octave", "Ruby"]
_OSES = ["Windows", "Linux", "macOS", "Ubuntu", "CentOS", "Debian", "Mac OS X"]
_DEVS = ["IBM", "IBM Corp.", "StataCorp", "GraphPad Software", "Microsoft", "MathWorks", "The MathWorks Inc.",
         "SAS Institute", "QSR International", "Bitplane", "Carl Zeiss", "Bio-Rad", "Schrodinger", "Esri",
         "Tree Star", "R Core Team", "Python Software Foundation", "Adobe", "Thermo Fisher Scientific",
         "Leica Microsystems", "Biomatters", "Wolfram Research"]
_PLACES = ["Armonk , NY , USA", "College Station , TX , USA", "San Diego , CA , USA", "Natick , MA , USA",
           "Cary , NC , USA", "Redmond , WA , USA", "Zurich , Switzerland", "Jena , Germany",
           "Hercules , CA , USA", "Melbourne , Australia", "Vienna , Austria"]
_LICENSES = ["GPL", "GPLv3", "MIT", "BSD", "Apache License", "GNU General Public License", "LGPL",
             "Creative Commons"]
_EXTENSIONS = ["SE", "MP", "Pro", "Professional", "Premium", "Enterprise", "Desktop", "Server"]
_ABBREVIATED = [("Statistical Package for the Social Sciences", "SPSS"), ("Gene Set Enrichment Analysis", "GSEA"),
                ("Molecular Evolutionary Genetics Analysis", "MEGA"), ("Integrative Genomics Viewer", "IGV"),
                ("Basic Local Alignment Search Tool", "BLAST"), ("Genome Analysis Toolkit", "GATK"),
                ("Linguistic Inquiry and Word Count", "LIWC"), ("Geographic Information System", "GIS"),
                ("Database for Annotation , Visualization and Integrated Discovery", "DAVID")]
_ALIASES = [("Fiji", "ImageJ2"), ("Prism", "GraphPad"), ("SPSS", "PASW Statistics"), ("Excel", "MS Excel"),
            ("R", "GNU S"), ("QGIS", "Quantum GIS"), ("PyMOL", "Molecular Graphics System")]
_COREFS = ["software", "program", "tool", "package", "toolbox", "script", "application", "pipeline"]
_AUTHORS = ["Smith", "Schneider", "Langmead", "Love", "Bates", "Wickham", "Kim", "Ritchie", "Li", "Dobin",
            "Tamura", "Katoh", "Stamatakis", "Pedregosa", "Virtanen", "Cox", "Bolger", "Shannon", "Carpenter"]
_REPOS = ["lab", "tools", "analysis", "pipeline", "code", "scripts", "toolkit", "models"]
_TOPICS = ["cell counts", "reaction times", "survey responses", "gene expression", "protein abundance",
           "blood pressure", "species richness", "interview transcripts", "fluorescence intensity",
           "sequencing reads", "growth curves", "questionnaire scores", "tumour volumes", "soil samples",
           "mass spectra", "behavioural data", "patient records", "eye movements", "lesion sizes"]
_STATS = ["linear mixed models", "one-way ANOVA", "logistic regression", "the Mann-Whitney U test",
          "Cox regression", "principal component analysis", "hierarchical clustering", "paired t-tests",
          "structural equation models", "random forests", "Kaplan-Meier curves", "the chi-square test"]
_NAME_ENDINGS = ["", "", "", "", "2", "3D", "-X", "Plus", "R", "X", "-seq", "DB", "Lite", "NG"]
_PREFIXES = [
    "In the second experiment ,", "To test our main hypothesis ,", "For the validation cohort ,",
    "Following quality control of the raw data ,", "In line with the preregistered analysis plan ,",
    "Unless otherwise noted ,", "For both the discovery and the replication samples ,",
    "After the pilot study had been completed ,", "At each of the four time points ,",
]
_FILLERS = [
    "after excluding participants with missing data", "as described in the supplementary methods",
    "with a significance level of 0.05 for all comparisons", "following the protocol of the original study",
    "separately for each treatment group and time point", "after normalisation to the housekeeping genes",
    "blind to the experimental condition of each sample", "using the default parameters unless stated otherwise",
    "and all images were acquired with identical exposure settings across the three independent experiments",
    "where outliers beyond three standard deviations from the mean were removed before the analysis",
]
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
    return rng.choice(parts[0]) + rng.choice(parts[1]) + rng.choice(_NAME_ENDINGS)


def _pick(rng: random.Random, known: list[str], parts: tuple[list[str], list[str]], share_new: float) -> str:
    """A well-known name (Zipf-like: early names more often) or, with ``share_new``, a made-up one."""
    if rng.random() < share_new:
        return _made_up(rng, parts)
    return known[min(int(rng.paretovariate(1.0)) - 1, len(known) - 1) if rng.random() < 0.5 else
                 rng.randrange(len(known))]


def _version(rng: random.Random) -> str:
    a, b, c = rng.randint(1, 26), rng.randint(0, 12), rng.randint(0, 9)
    return rng.choice([f"{a}.{b}", f"{a}.{b}.{c}", f"v{a}.{b}", f"{a}", f"{a}.{b}.{c}", f"{a}.{b}"])


def _fill(slot: str, rng: random.Random, state: dict) -> list[tuple[str, str | None]]:
    """Words for one template slot, each with the entity type of its span (None = outside)."""
    def span(text: str, typ: str | None) -> list[tuple[str, str | None]]:
        return [(w, typ) for w in text.split(" ")]

    if slot == "APP":
        name = _pick(rng, _APPS, _APP_PARTS, 0.35)
        state["app"] = name
        return span(name, "Application")
    if slot == "PLUG":
        return span(_pick(rng, _PLUGINS, _PLUGIN_PARTS, 0.35), "PlugIn")
    if slot == "ENV":
        return span(rng.choice(_ENVS[:3]) if rng.random() < 0.6 else rng.choice(_ENVS), "ProgrammingEnvironment")
    if slot == "VER":
        return span(_version(rng), "Version")
    if slot == "OSVER":
        return span(rng.choice(["7", "10", "11", "18.04", "20.04", "10.15", "8"]), "Version")
    if slot == "REL":
        return span(f"R20{rng.randint(10, 23)}{rng.choice('ab')}", "Release")
    if slot in ("DEV", "ENV_DEV"):
        return span(rng.choice(_DEVS), "Developer")
    if slot == "OS":
        return span(rng.choice(_OSES), "OperatingSystem")
    if slot == "URL":
        host = rng.choice(["https://github.com", "http://www.bioconductor.org", "https://gitlab.com",
                           "https://sourceforge.net/projects", "https://cran.r-project.org/package="])
        name = _made_up(rng, _APP_PARTS).lower()
        url = f"{host}{name}" if host.endswith("=") else f"{host}/{rng.choice(_AUTHORS).lower()}/{name}"
        return span(url if rng.random() < 0.7 else f"http://{name}.{rng.choice(['org', 'net', 'io'])}", "URL")
    if slot == "CIT":
        if rng.random() < 0.5:
            return [("[", None), (str(rng.randint(1, 80)), "Citation"), ("]", None)]
        return [("(", None)] + span(f"{rng.choice(_AUTHORS)} et al. , 20{rng.randint(0, 23):02d}", "Citation") + [(")", None)]
    if slot == "LIC":
        return span(rng.choice(_LICENSES), "License")
    if slot == "EXT":
        return span(rng.choice(_EXTENSIONS), "Extension")
    if slot in ("ABBR_FULL", "ABBR"):
        if slot == "ABBR_FULL":
            state["abbr"] = rng.choice(_ABBREVIATED)
            return span(state["abbr"][0], "Application")
        return span(state["abbr"][1], "Abbreviation")
    if slot == "ALT":
        alias = dict(_ALIASES).get(state.get("app", ""), _made_up(rng, _APP_PARTS))
        return span(alias, "AlternativeName")
    if slot == "COREF":
        return span(rng.choice(_COREFS), "SoftwareCoreference")
    if slot == "COREF_HOST":
        return [(w, None) for w in ["analysis"]] if rng.random() < 0.5 else span(rng.choice(_COREFS), "SoftwareCoreference")
    if slot == "PLACE":
        return span(rng.choice(_PLACES), None)
    if slot in ("TOPIC", "TOPIC_C"):
        t = rng.choice(_TOPICS)
        return span(t[0].upper() + t[1:] if slot == "TOPIC_C" else t, None)
    if slot in ("STAT", "STAT_C"):
        t = rng.choice(_STATS)
        return span(t[0].upper() + t[1:] if slot == "STAT_C" else t, None)
    if slot == "FILL":
        n = rng.choice([1, 1, 1, 2, 2, 2, 3, 4, 8])  # now and then a long sentence, longer than a short max_length
        words = [] if n == 0 else [","]
        for i in range(n):
            words += rng.choice(_FILLERS).split(" ") + ([","] if i < n - 1 else [])
        return [(w, None) for w in words]
    if slot == "N":
        return [(str(rng.randint(2, 60)), None)]
    if slot == "YY":
        return [(f"{rng.randint(0, 23):02d}", None)]
    if slot == "AUTHOR":
        return [(rng.choice(_AUTHORS), None)]
    raise ParameterError(f"Unknown template slot {slot!r}")  # pragma: no cover - templates are fixed


def _render(template: str, rng: random.Random) -> tuple[list[str], list[str]]:
    words: list[str] = []
    labels: list[str] = []
    state: dict = {}
    if "{FILL}" not in template and template.endswith(" .") and rng.random() < 0.5:
        template = template[:-2] + " {FILL} ."
    if rng.random() < 0.6:
        for slot in ("{TOPIC_C}", "{STAT_C}"):
            template = template.replace(slot, slot.replace("_C", ""), 1) if template.startswith(slot) else template
        first = template.split(" ", 1)[0]
        template = rng.choice(_PREFIXES) + " " + (template[0].lower() + template[1:] if first.isalpha() else template)
    for piece in template.split(" "):
        if piece.startswith("{") and "}" in piece:
            slot, rest = piece[1:].split("}", 1)
            filled = _fill(slot, rng, state)
            if rest:  # "20{YY}"-style pieces glue onto the previous word
                filled = filled + [(rest, None)]
        elif "{" in piece:
            head, slot = piece.split("{", 1)
            filled = [(head + w, t) for w, t in _fill(slot.rstrip("}"), rng, state)]
        else:
            filled = [(piece, None)]
        prev = None
        for w, t in filled:
            words.append(w)
            labels.append("O" if t is None else (f"I-{t}" if prev == t else f"B-{t}"))
            prev = t
    return words, labels


def generate_corpus(n_train: int, n_test: int, seed: int = 0, negative_share: float = 0.4):
    """Deterministic synthetic SOMD-style sentences: ``(train_words, train_labels, test_words, test_labels)``.

    ``negative_share`` of the sentences hold no entity. The same arguments give the same sentences on
    every machine (Python's ``random.Random(seed)``). Used for the demo set and for timing runs at the
    real task's size (about 3,500 training sentences, 100,000 words, 600 test sentences).
    """
    rng = random.Random(seed)
    out: list[list[list[str]]] = [[], [], [], []]
    for split, n in ((0, n_train), (2, n_test)):
        for _ in range(n):
            template = rng.choice(_NEGATIVE if rng.random() < negative_share else _POSITIVE)
            words, labels = _render(template, rng)
            out[split].append(words)
            out[split + 1].append(labels)
    return out[0], out[1], out[2], out[3]


def write_corpus(out_dir: str | Path, n_train: int, n_test: int, seed: int = 0, with_test_labels: bool = False) -> Path:
    """Write a :func:`generate_corpus` set in the competition's file format into ``out_dir``.

    With ``with_test_labels`` it also writes ``test_entities.txt`` (not part of the real task; handy for
    checking a model). Out: ``out_dir``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tw, tl, sw, sl = generate_corpus(n_train, n_test, seed)
    files = {TRAIN_TEXTS: tw, TRAIN_ENTITIES: tl, TEST_TEXTS: sw}
    if with_test_labels:
        files["test_entities.txt"] = sl
    for name, rows in files.items():
        text = "".join(" ".join(r) + "\n" for r in rows).encode("utf-8")
        target = out_dir / name
        if not target.is_file() or target.read_bytes() != text:  # leave identical files untouched
            target.write_bytes(text)
    return out_dir


DEMO_SIZE = (480, 120)


def write_demo(out_dir: Path, seed: int = 0) -> None:
    """Write the demo set (480 training and 120 test sentences) into ``out_dir``.

    ``data/demo/somd-ner/`` in the repository is exactly ``write_demo(..., seed=0)`` (a test keeps them
    equal), so a deleted demo folder comes back byte for byte.
    """
    write_corpus(out_dir, *DEMO_SIZE, seed=seed)


COMPETITION = Competition(
    name="somd-ner",
    title="SOMD 2025 software mention detection (BIO token classification, entity F1)",
    platform="local",
    slug="somd-2025",
    metric="val_entity_f1",
    mode="max",
    submission=SubmissionSpec(file_name="predictions.txt", check=check_predictions, pack=pack_predictions),
    demo=write_demo,
)
