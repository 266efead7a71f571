"""The shipped ONNX NER tagger through `wardgate.inference.TokenClassifier`, and its config handling."""

import json

import pytest

from tests.conftest import PII_MODEL
from wardgate.errors import ConfigError, InferenceError
from wardgate.inference import DynamicBatcher, TaggerConfig, TokenClassifier, read_model_config


@pytest.fixture(scope="module")
def tagger() -> TokenClassifier:
    model = TokenClassifier(PII_MODEL)
    model.load()
    return model


def entities(tagger: TokenClassifier, text: str) -> list[tuple[str, str]]:
    return [(span.entity, text[span.start : span.end]) for span in tagger.predict([text])[0]]


def test_shipped_config(tagger):
    config = tagger.config
    assert config.labels[0] == "O"
    assert {"B-PER", "I-PER", "B-LOC", "B-ORG"} <= set(config.labels)
    assert config.entities["PER"] == "PERSON"
    assert (config.max_length, config.stride) == (128, 32)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Please forward the contract to Maria Gonzalez before Friday.", ("PERSON", "Maria Gonzalez")),
        ("my name is kenji watanabe and i need help with my tax return", ("PERSON", "kenji watanabe")),
        ("Dear Krisztián Szöllösy, thank you for your order.", ("PERSON", "Krisztián Szöllösy")),
    ],
)
def test_finds_whole_names(tagger, text, expected):
    assert expected in entities(tagger, text)


def test_nothing_in_plain_text(tagger):
    assert entities(tagger, "How many days are in a leap year?") == []


def test_long_texts_are_windowed_and_spans_point_into_the_original(tagger):
    filler = "The quarterly report covers revenue, churn and hiring across all regions. " * 30
    text = filler + "Please forward it to Maria Gonzalez tomorrow. " + filler
    found = tagger.predict([text])[0]
    names = [text[span.start : span.end] for span in found if span.entity == "PERSON"]
    assert names == ["Maria Gonzalez"]


def test_results_do_not_depend_on_batch_company(tagger):
    texts = ["Ask Maria Gonzalez.", "How many days are in a leap year?", "Kenji Watanabe lives in Osaka."]
    alone = [[(s.entity, s.start, s.end) for s in tagger.predict([text])[0]] for text in texts]
    together = [[(s.entity, s.start, s.end) for s in spans] for spans in tagger.predict(texts)]
    assert alone == together


async def test_batcher_from_a_worker_thread_joins_the_loops_batches(tagger):
    import asyncio

    batcher = DynamicBatcher(tagger.predict, max_items=64, max_wait=0.02)
    batcher.bind()
    loop = asyncio.get_running_loop()
    texts = [f"Please call Maria Gonzalez about order {n}." for n in range(6)]
    results = await asyncio.gather(*(loop.run_in_executor(None, batcher.run_blocking, [text]) for text in texts))
    assert all(any(span.entity == "PERSON" for span in result[0]) for result in results)
    assert batcher.batches_run < len(texts)  # concurrent callers shared forward passes
    batcher.close()


def test_hugging_face_ner_config_is_mapped(tmp_path):
    (tmp_path / "config.json").write_text(
        json.dumps({"id2label": {"0": "O", "1": "B-PER", "2": "I-PER", "3": "B-MISC"}, "max_position_embeddings": 512})
    )
    config = read_model_config(tmp_path, TaggerConfig)
    assert config.labels == ["O", "B-PER", "I-PER", "B-MISC"]
    assert config.entities["PER"] == "PERSON"
    assert "MISC" not in config.entities


def test_missing_files_are_clear_errors(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"labels": ["O", "B-PER"]}))
    with pytest.raises(InferenceError, match=r"model\.onnx is missing"):
        TokenClassifier(tmp_path).load()
    (tmp_path / "config.json").write_text("{")
    with pytest.raises(ConfigError, match=r"cannot read config\.json"):
        TokenClassifier(tmp_path).load()
