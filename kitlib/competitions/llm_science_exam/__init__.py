"""Kaggle "LLM Science Exam": five-option science questions scored by MAP@3.

What only this competition needs; the notebook ``notebooks/llm-science-exam.ipynb`` stands on these and
on two task libraries. The package re-exports the names of its modules:

- :mod:`.questions`: :func:`write_demo` (the embedded demo set), :func:`read_questions` (validated ``train.csv`` /
  ``test.csv``), :func:`option_matrix`, :func:`answer_indices`;
- :mod:`.external`: :func:`read_extra_questions` (external training questions, repeats of official prompts
  dropped) and the notebook's step :func:`load_extra_train` (:class:`~.external.ExtraQuestions`);
- :mod:`.checkpoints`, kept models: :func:`resolve_checkpoints` finds the ``checkpoints/`` folder of a run (by id
  or folder), :func:`write_checkpoint_record`/:func:`read_checkpoint_record` keep beside the fold models what a
  run that only predicts needs (the settings that shape the predictions, the folds), :func:`models_record` what
  such a run's manifest says of them;
- :mod:`.answers`, scores -> answers: :func:`top_letters` turns a ``(n, 5)`` score matrix into ``"D A C"``
  strings and :func:`map3_metric` scores logits against answer indices (for ``kitlib.train.fit``); the
  prediction tables (the run folder's ``oof.parquet``/``test_predictions.parquet``, what ``kit blend`` reads):
  :func:`prediction_frame` (``id``, ``fold``, ``answer``, ``score_A..score_E``), :func:`score_predictions`
  (MAP@3 of such a table: the notebook's CV score and the blend's) and :func:`predictions_to_submission`;
  :func:`check_submission` (``kit submit``'s rule for the ``prediction`` column);
- :mod:`.contexts`, retrieval (:mod:`kitlib.tasks.retrieval`: ``chunk_corpus``, ``PassageRetriever``):
  :func:`add_context` puts the best chunks for a question (its prompt and options, :func:`question_queries`) in
  front of it, :func:`extra_context` gives external questions theirs, :func:`retrieve_contexts` does it for the
  notebook's tables (:class:`~.contexts.QuestionContexts`);
- :mod:`.zero_shot`, approach a: :func:`question_vectors` + :func:`option_scores` rank options by embedding
  similarity to the prompt (plus the retrieved context); :func:`embed_questions` embeds a table
  (:class:`~.zero_shot.QuestionEmbeddings`);
- :mod:`.contrastive`, approach b: ``contrastive.OptionScorer`` (a torch module, built on first access) maps
  prompt and option embeddings so that cross-entropy over the five similarities picks the right option;
  :func:`contrastive_fold` trains it per fold as its recipe says (``CONTRASTIVE_RECIPE`` by default;
  ``n_seeds`` seeds averaged, saved with ``checkpoints``) for
  ``kitlib.folds.cross_validate``, :func:`contrastive_checkpoint_fold` predicts again from the saved networks;
- approach c, cross-encoder: :mod:`kitlib.tasks.multiple_choice` (``cross_encoder_fold`` on
  ``load_multiple_choice_model``, ``MultipleChoiceDataset``, ``MultipleChoiceCollator``, ``predict_choices``)
  feeds ``AutoModelForMultipleChoice`` through ``kitlib.train.fit``; ``checkpoint_fold`` predicts again from the
  saved fold models;
- :mod:`.competition`: ``COMPETITION``.

torch and transformers are imported only by the functions that need them, so ``check_submission`` (run
by ``kit submit``) stays light.
"""
from __future__ import annotations

from .answers import (
                      SCORES,
                      check_submission,
                      map3_metric,
                      prediction_frame,
                      predictions_to_submission,
                      score_predictions,
                      top_letters,
)
from .checkpoints import (
                      CHECKPOINT_RECORD,
                      PREDICTION_PARAMS,
                      models_record,
                      read_checkpoint_record,
                      resolve_checkpoints,
                      write_checkpoint_record,
)
from .competition import COMPETITION
from .contexts import QuestionContexts, add_context, extra_context, question_queries, retrieve_contexts
from .contrastive import CONTRASTIVE_RECIPE, contrastive_checkpoint_fold, contrastive_fold
from .external import ExtraQuestions, load_extra_train, normalise_prompt, read_extra_questions
from .questions import LETTERS, NAME, answer_indices, committed_demo_dir, option_matrix, read_questions, write_demo
from .zero_shot import QuestionEmbeddings, embed_questions, option_scores, question_vectors

__all__ = [
    "NAME", "LETTERS", "COMPETITION", "committed_demo_dir", "write_demo", "read_questions", "option_matrix",
    "answer_indices", "top_letters", "map3_metric", "SCORES", "prediction_frame", "score_predictions",
    "predictions_to_submission", "check_submission", "question_queries", "add_context", "question_vectors",
    "option_scores", "CONTRASTIVE_RECIPE", "contrastive_fold", "contrastive_checkpoint_fold", "read_extra_questions",
    "normalise_prompt",
    "CHECKPOINT_RECORD", "resolve_checkpoints", "write_checkpoint_record", "read_checkpoint_record",
    "extra_context", "PREDICTION_PARAMS", "ExtraQuestions", "load_extra_train", "QuestionContexts",
    "retrieve_contexts", "QuestionEmbeddings", "embed_questions", "models_record",
]
