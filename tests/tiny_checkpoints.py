"""Tiny random checkpoints of the encoder families the kit supports, built offline for tests.

Each family gets a model folder laid out as its published checkpoints are, with a tokenizer of the
family's kind trained on a few sentences (no downloads):

- ``bert``: WordPiece (``tokenizer.json``), ``BertModel``;
- ``roberta``: byte-level BPE (``tokenizer.json``, ``<s>``/``</s>``, no token types), ``RobertaModel``;
- ``deberta-v3``: a Unigram sentencepiece model, shipped as ``spm.model`` only (as microsoft/deberta-v3-*
  are), so loading it converts the sentencepiece model and needs ``sentencepiece`` and ``protobuf``;
- ``modernbert``: byte-level BPE with BERT's special tokens and no token types, ``ModernBertModel``;
- ``electra``: WordPiece, ``ElectraModel`` with an embedding size below the hidden size (its own layout).

The folders are built once per test session (:func:`tiny_checkpoints`) and hold the base encoder; the
kit loads them as ``"base"``, ``"token-classification"`` or ``"multiple-choice"`` with fresh heads. Import
the fixture into a test module: ``from tiny_checkpoints import FAMILIES, tiny_checkpoints  # noqa: F401``.

:func:`plant_code` writes the other kind of checkpoint: a file whose unpickling would run a command.
"""
from __future__ import annotations

from pathlib import Path

import pytest

FAMILIES = ("bert", "roberta", "deberta-v3", "modernbert", "electra")

# A few sentences in the registers the notebooks read: scholarly methods text (SOMD) and science questions.
SENTENCES = [
    "We analysed everything with GraphPadPrism 9.0.1 and plotted the results in R 4.1.2 .",
    "Reads were aligned with Bowtie2 2.3.5 and counted with featureCounts after trimming with Trimmomatic .",
    "Images were processed in ImageJ version 1.53 with the Fiji plugin and exported to Python 3.8 .",
    "Statistical tests were run in SPSS 25 , SAS 9.4 and Stata 16 ; figures were drawn with matplotlib .",
    "The software is available on GitHub under the MIT license and was written in Java and C++ .",
    "Which of the following statements best describes the process of photosynthesis in green plants ?",
    "What is the primary function of mitochondria in eukaryotic cells , according to the passage ?",
    "Newton's second law states that force equals mass times acceleration for a body of constant mass .",
    "The periodic table arranges chemical elements by atomic number , electron configuration and properties .",
    "A black hole is a region of spacetime where gravity is so strong that nothing can escape from it .",
    "Plate tectonics explains earthquakes , volcanoes and the drift of continents over millions of years .",
    "DNA carries genetic information ; RNA translates it into proteins with the help of ribosomes .",
    "None of the above . All of the above . It increases . It decreases . It stays the same .",
    "0 1 2 3 4 5 6 7 8 9 A B C D E a b c d e ( ) [ ] { } , . ; : ! ? ' \" - _ / % + = < > @ # & *",
]
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
ROBERTA_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
SIZE = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)


def _corpus(tmp: Path) -> Path:
    path = tmp / "corpus.txt"
    path.write_text("\n".join(SENTENCES * 3) + "\n")
    return path


def _wordpiece(tmp: Path, cls: str):
    """A BERT-style WordPiece tokenizer (lower case, [CLS] A [SEP] B [SEP], token types) as ``cls``."""
    from tokenizers import BertWordPieceTokenizer

    raw = BertWordPieceTokenizer(lowercase=True)
    raw.train([str(_corpus(tmp))], vocab_size=400, min_frequency=1, special_tokens=BERT_SPECIALS)
    raw.save(str(tmp / "wordpiece.json"))
    return cls(tokenizer_file=str(tmp / "wordpiece.json"), do_lower_case=True)


def _byte_bpe(tmp: Path, specials: list[str], template: tuple[str, str], **kwargs):
    """A byte-level BPE tokenizer with ``specials`` and RoBERTa's (``<s>``) or BERT's pair template; no
    prefix space, as roberta-base and ModernBERT ship theirs."""
    from tokenizers import ByteLevelBPETokenizer, processors
    from transformers import PreTrainedTokenizerFast

    raw = ByteLevelBPETokenizer(add_prefix_space=False)
    raw.train([str(_corpus(tmp))], vocab_size=400, min_frequency=1, special_tokens=specials)
    cls, sep = template
    raw.post_processor = processors.TemplateProcessing(
        single=f"{cls} $A {sep}", pair=f"{cls} $A {sep} {sep} $B {sep}" if cls == "<s>" else f"{cls} $A {sep} $B {sep}",
        special_tokens=[(cls, raw.token_to_id(cls)), (sep, raw.token_to_id(sep))])
    return PreTrainedTokenizerFast(tokenizer_object=raw._tokenizer, **kwargs)


def _sentencepiece(tmp: Path):
    """A DeBERTa-v3 tokenizer folder part: a Unigram ``spm.model`` trained with sentencepiece, nothing else."""
    import sentencepiece as spm

    spm.SentencePieceTrainer.train(
        input=str(_corpus(tmp)), model_prefix=str(tmp / "spm"), vocab_size=300, model_type="unigram",
        pad_id=0, unk_id=1, bos_id=2, eos_id=3, pad_piece="[PAD]", unk_piece="[UNK]", bos_piece="[CLS]",
        eos_piece="[SEP]", user_defined_symbols=["[MASK]"], hard_vocab_limit=False, character_coverage=1.0,
        minloglevel=2)
    return tmp / "spm.model"


def build_checkpoint(family: str, out_dir: Path) -> Path:
    """Write a tiny random ``family`` encoder with its tokenizer to ``out_dir``; returns ``out_dir``."""
    import json
    import shutil

    import torch
    import transformers as tf

    out_dir.mkdir(parents=True, exist_ok=True)
    work = out_dir.parent / f".{out_dir.name}-build"
    work.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    if family == "bert":
        tokenizer = _wordpiece(work, tf.BertTokenizerFast)
        model = tf.BertModel(tf.BertConfig(vocab_size=len(tokenizer), max_position_embeddings=256, **SIZE))
    elif family == "electra":
        tokenizer = _wordpiece(work, tf.ElectraTokenizerFast)
        model = tf.ElectraModel(tf.ElectraConfig(vocab_size=len(tokenizer), embedding_size=16,
                                                 max_position_embeddings=256, **SIZE))
    elif family == "roberta":
        tokenizer = _byte_bpe(work, ROBERTA_SPECIALS, ("<s>", "</s>"), bos_token="<s>", eos_token="</s>",
                              sep_token="</s>", cls_token="<s>", unk_token="<unk>", pad_token="<pad>",
                              mask_token="<mask>", model_input_names=["input_ids", "attention_mask"])
        model = tf.RobertaModel(tf.RobertaConfig(vocab_size=len(tokenizer), max_position_embeddings=258, pad_token_id=1,
                                                 bos_token_id=0, eos_token_id=2, type_vocab_size=1, **SIZE))
    elif family == "modernbert":
        tokenizer = _byte_bpe(work, BERT_SPECIALS, ("[CLS]", "[SEP]"), cls_token="[CLS]", sep_token="[SEP]",
                              unk_token="[UNK]", pad_token="[PAD]", mask_token="[MASK]",
                              model_input_names=["input_ids", "attention_mask"])
        ids = {t: tokenizer.convert_tokens_to_ids(t) for t in BERT_SPECIALS}
        model = tf.ModernBertModel(tf.ModernBertConfig(
            vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=64, max_position_embeddings=256, global_attn_every_n_layers=2, local_attention=16,
            pad_token_id=ids["[PAD]"], cls_token_id=ids["[CLS]"], sep_token_id=ids["[SEP]"],
            bos_token_id=ids["[CLS]"], eos_token_id=ids["[SEP]"]))
    elif family == "deberta-v3":
        spm_model = _sentencepiece(work)
        shutil.copyfile(spm_model, out_dir / "spm.model")
        (out_dir / "tokenizer_config.json").write_text(json.dumps({
            "tokenizer_class": "DebertaV2Tokenizer", "do_lower_case": False, "split_by_punct": False,
            "bos_token": "[CLS]", "eos_token": "[SEP]", "unk_token": "[UNK]", "sep_token": "[SEP]",
            "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]", "vocab_type": "spm"}))
        tokenizer = tf.AutoTokenizer.from_pretrained(out_dir, local_files_only=True)
        config = tf.DebertaV2Config(vocab_size=len(tokenizer), max_position_embeddings=256, relative_attention=True,
                                    position_buckets=32, pos_att_type=["p2c", "c2p"], max_relative_positions=-1,
                                    position_biased_input=False, norm_rel_ebd="layer_norm", share_att_key=True,
                                    pad_token_id=0, **SIZE)
        model = tf.DebertaV2Model(config)
    else:
        raise ValueError(f"unknown family {family!r}; expected one of {list(FAMILIES)}")
    model.save_pretrained(out_dir)
    if family != "deberta-v3":  # DeBERTa-v3 ships its spm.model only: keep it that way
        tokenizer.save_pretrained(out_dir)
    if family == "roberta":  # as roberta-base names it (the generic fast class wrote the files)
        config_path = out_dir / "tokenizer_config.json"
        config = {**json.loads(config_path.read_text()), "tokenizer_class": "RobertaTokenizer"}
        config_path.write_text(json.dumps(config))
    shutil.rmtree(work, ignore_errors=True)
    return out_dir


class _RunsACommand:
    """Unpickled, it runs ``touch <marker>``: what a planted checkpoint could do with a real command."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        import os
        import shlex

        return os.system, (f"touch {shlex.quote(str(self.marker))}",)


def plant_code(path: Path, marker: Path) -> Path:
    """Write ``path`` with ``torch.save``: a checkpoint-like dict (a history, a weight) whose history holds an object
    that runs ``touch marker`` when unpickled (a loader that runs it leaves ``marker``); returns ``path``."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"history": [_RunsACommand(marker)], "weight": torch.zeros(2)}, path)
    return path


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory) -> dict[str, Path]:
    """``{family: model folder}`` for every family of :data:`FAMILIES`, built once per test session."""
    root = tmp_path_factory.mktemp("tiny-checkpoints")
    return {family: build_checkpoint(family, root / family) for family in FAMILIES}
