"""kitlib.pretrained: offline lookups and one (model, tokenizer, path) order."""
import pytest

from kitlib import pretrained
from kitlib.errors import ParameterError


def test_default_model_loads_offline_in_one_order():
    loaded = pretrained.load_pretrained(None, "base")
    model, tokenizer, path = loaded
    assert loaded.model is model and loaded.tokenizer is tokenizer and path == pretrained.default_model_path()
    assert not model.training and tokenizer("a b")["input_ids"][0] == tokenizer.cls_token_id


def test_token_classification_head_gets_the_labels():
    model, tokenizer, _ = pretrained.load_pretrained("", "token-classification", labels=["O", "B-X", "I-X"], seed=0,
                                                     fast_tokenizer=True)
    assert model.config.id2label == {0: "O", 1: "B-X", 2: "I-X"} and tokenizer.is_fast
    with pytest.raises(ParameterError, match="needs labels"):
        pretrained.load_pretrained(None, "token-classification")


def test_unknown_kind_and_missing_models_are_refused(tmp_path):
    with pytest.raises(ParameterError, match=r"Unknown model kind 'seq2seq'; expected one of \['base'"):
        pretrained.load_pretrained(None, "seq2seq")
    with pytest.raises(ParameterError, match="neither a local directory nor in the offline Hugging Face cache"):
        pretrained.resolve_model("someone/not-downloaded-model")
    with pytest.raises(ParameterError, match="has no config.json"):
        pretrained.resolve_model(tmp_path)
