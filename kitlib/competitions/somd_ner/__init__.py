"""SOMD 2025 software mention detection and relation extraction: files, label set, baselines, submission.

The package re-exports the names of its modules, split by what they hold:

- :mod:`.files`: the file names of each phase (``train_texts.txt``... or ``texts.txt``...) and reading them
  checked (:func:`read_texts`, :func:`read_labels`, :func:`find_phase`);
- :mod:`.labels`: the label set (:data:`ENTITY_TYPES`, :data:`LABELS`) and the entities of a sentence
  (:func:`mentions`);
- :mod:`.dataset`: a data folder parsed (:func:`read_somd` -> :class:`SomdData`), :func:`sentence_table`;
- :mod:`.relations`: the relations file, candidate pairs and the rule baseline (:class:`RuleLinker`);
  :mod:`.relation_model` the relation classifier;
- :mod:`.gazetteer`: the :class:`Gazetteer` baseline; :mod:`.fold_models` the transformer fold model
  (:func:`transformer_fold` of a :class:`Tagger`, with :class:`RelationTraining`);
- :mod:`.scoring`: the SOMD score and the out-of-fold threshold and weight searches; :mod:`.choices` the choices a
  run makes with them (:func:`choose_entities`, :func:`choose_relations`), its metrics and test relations;
  :mod:`.figures` the notebook's plots and :func:`highlight_html`;
- :mod:`.prediction_tables`: the word-level prediction tables a run keeps and a blend reads;
- :mod:`.submission`: ``predictions.zip`` (:func:`submission_zip`), checked (:func:`check_submission`);
- :mod:`.demo` (with the word lists of :mod:`.demo_lexicon`): the synthetic demo corpus;
- :mod:`.competition`: ``COMPETITION``.

A submission is ``predictions.zip`` holding ``predictions.entities.txt`` (one line of labels per test
sentence) and ``predictions.relations.txt`` (one line of relations per test sentence) at its root; the
score is the mean of the entity F1 and the relation F1 (:func:`kitlib.metrics.somd_score`). The shared task's
platform has no upload client: ``kit submit`` validates and records the zip for the user to hand in.
"""
from __future__ import annotations

from . import relation_model, relations, scoring  # noqa: F401  (somd.relation_model, somd.relations, somd.scoring)
from .choices import EntityChoice, RelationChoice, choose_entities, choose_relations, link_test_relations, run_metrics
from .competition import COMPETITION
from .dataset import SomdData, read_somd, sentence_table
from .demo import DEMO_SIZE, Corpus, generate_corpus, generate_somd, write_corpus, write_demo
from .figures import TrainingOverview, describe_training, highlight_html, plot_entity_choices, plot_relation_choice
from .files import PHASES, TEST_TEXTS, TRAIN_ENTITIES, TRAIN_RELATIONS, TRAIN_TEXTS, find_phase, read_labels, read_texts
from .fold_models import RelationTraining, Tagger, transformer_fold
from .gazetteer import Gazetteer
from .labels import ENTITY_TYPES, LABELS, mentions
from .prediction_tables import (
                      PROBABILITIES,
                      cv_summary,
                      decode_frame,
                      fold_scores,
                      predictions_to_submission,
                      score_predictions,
                      sentence_labels,
                      sentence_probs,
                      word_frame,
)
from .relation_model import RELATION_RECIPE
from .relations import (
                      RELATION_TYPES,
                      RuleLinker,
                      candidate_pairs,
                      format_relations,
                      read_relations,
                      relation_type_pairs,
)
from .submission import (
                      ENTITIES_FILE,
                      RELATIONS_FILE,
                      SUBMISSION,
                      check_submission,
                      entities_text,
                      pack_predictions,
                      relations_text,
                      submission_zip,
                      write_predictions,
)

__all__ = [
    "ENTITY_TYPES", "LABELS", "SomdData", "read_texts", "read_labels", "read_somd", "sentence_table",
    "mentions", "highlight_html", "Gazetteer", "PHASES", "find_phase", "write_predictions", "entities_text",
    "relations_text", "submission_zip", "check_submission", "pack_predictions", "RELATION_TYPES",
    "read_relations", "format_relations", "candidate_pairs", "relation_type_pairs", "RuleLinker",
    "generate_corpus", "generate_somd", "write_corpus", "write_demo", "DEMO_SIZE", "PROBABILITIES",
    "word_frame", "sentence_probs", "sentence_labels", "decode_frame", "score_predictions", "fold_scores",
    "cv_summary", "predictions_to_submission", "Tagger", "RelationTraining", "RELATION_RECIPE", "transformer_fold",
    "COMPETITION", "TRAIN_TEXTS",
    "TRAIN_ENTITIES", "TRAIN_RELATIONS", "TEST_TEXTS", "SUBMISSION", "ENTITIES_FILE", "RELATIONS_FILE",
    "Corpus", "TrainingOverview", "describe_training", "EntityChoice", "RelationChoice", "choose_entities",
    "plot_entity_choices", "choose_relations", "plot_relation_choice", "run_metrics", "link_test_relations",
]
