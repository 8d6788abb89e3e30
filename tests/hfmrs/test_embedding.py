"""Encoders: the ONNX Runtime query encoder gives PyTorch's vectors, exports once, and falls back cleanly."""

import os

import numpy as np
import pytest

from hfmrs.embedding import BUNDLED_MINILM, OnnxEncoder, SentenceTransformerEncoder, load_encoder

pytestmark = pytest.mark.minilm
TEXTS = ["speech to text for meeting recordings", "a", "German speech recognition " * 60]  # short, tiny, truncated


@pytest.fixture(scope="module")
def graph_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx")


def test_onnx_encoder_gives_the_pytorch_vectors(graph_dir):
    onnx = load_encoder(BUNDLED_MINILM, device="cpu", runtime="onnx", cache_dir=graph_dir)
    torch_encoder = SentenceTransformerEncoder(BUNDLED_MINILM, device="cpu")
    assert isinstance(onnx, OnnxEncoder)
    assert onnx.name == torch_encoder.name and onnx.dim == torch_encoder.dim == 384
    got, want = onnx.encode(TEXTS), torch_encoder.encode(TEXTS)
    assert got.dtype == np.float32 and got.shape == want.shape
    assert np.all(np.sum(got * want, axis=1) > 0.9999)
    assert onnx.encode([]).shape == (0, 384)


def test_the_graph_is_exported_once_and_auto_picks_onnx_on_a_cpu(graph_dir):
    load_encoder(BUNDLED_MINILM, device="cpu", runtime="onnx", cache_dir=graph_dir)
    (graph,) = graph_dir.glob("*.onnx")
    stamp = os.stat(graph).st_mtime_ns
    again = load_encoder(BUNDLED_MINILM, device="cpu", runtime="auto", cache_dir=graph_dir)
    assert isinstance(again, OnnxEncoder) and os.stat(graph).st_mtime_ns == stamp
    assert isinstance(load_encoder(BUNDLED_MINILM, device="cpu", runtime="torch"), SentenceTransformerEncoder)


def test_unknown_runtime_and_unsupported_models(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="unknown encoder runtime 'tpu'"):
        load_encoder(BUNDLED_MINILM, runtime="tpu")
    import hfmrs.embedding as embedding

    def refuse(*_):
        raise ValueError("only mean-pooled sentence-transformers models are exported to ONNX")

    monkeypatch.setattr(embedding, "export_onnx", refuse)
    with pytest.raises(ValueError, match="only mean-pooled"):
        load_encoder(BUNDLED_MINILM, device="cpu", runtime="onnx", cache_dir=tmp_path)
    fallback = load_encoder(BUNDLED_MINILM, device="cpu", runtime="auto", cache_dir=tmp_path)
    assert isinstance(fallback, SentenceTransformerEncoder)  # auto: PyTorch computes the same vectors
