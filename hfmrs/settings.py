"""Every setting HFMRS reads, declared once (``HFMRS_`` environment variables, or a ``.env`` file).

``QDRANT_URL`` and ``QDRANT_API_KEY`` are also read without the prefix, as Qdrant's own tools spell them.
A test (tests/hfmrs/test_settings.py) fails when a setting is missing from the README's settings table.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_DATA = PROJECT_ROOT / "data"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HFMRS_", env_file=".env", extra="ignore")

    home: Path = Field(Path(".hfmrs"), description="Where builds, caches and the embedded Qdrant live.")
    snapshot_dir: Path = Field(BUNDLED_DATA / "snapshots", description="Snapshot files the catalog is built from.")
    snapshot_exclude: str = Field(
        "",
        description="Snapshot files to leave out, as comma-separated file-name globs; e.g. "
        "'hf-models-2026-06-*' builds without the NPDL-1.0 snapshot (see data/README.md).",
    )
    sizes_dir: Path | None = Field(
        BUNDLED_DATA / "sizes",
        description="Listed sizes, context lengths, leaderboard scores and the family size table; "
        "files missing here are skipped.",
    )
    lineage_dir: Path = Field(
        BUNDLED_DATA / "lineage", description="Lineage files (evaluation ground truth, GNN edges)."
    )
    vector_cache: Path = Field(
        BUNDLED_DATA / "vectors", description="Prebuilt vectors shipped with the bundled catalog (read-only)."
    )
    qdrant_url: str | None = Field(
        None,
        description="Qdrant server or cluster URL; unset = embedded Qdrant Edge under HFMRS_HOME.",
        validation_alias=AliasChoices("HFMRS_QDRANT_URL", "QDRANT_URL"),
    )
    qdrant_api_key: str | None = Field(
        None,
        description="API key for the Qdrant server.",
        validation_alias=AliasChoices("HFMRS_QDRANT_API_KEY", "QDRANT_API_KEY"),
    )
    collection: str = Field("hfmrs-models", description="Qdrant collection alias the services read.")
    shard_number: int = Field(1, ge=1, description="Shards per collection on a Qdrant server or cluster.")
    replication_factor: int = Field(1, ge=1, description="Replicas of each shard on a Qdrant cluster.")
    encoder: str = Field(
        "all-MiniLM-L6-v2",
        description="Sentence-transformers model: 'all-MiniLM-L6-v2' (bundled, offline) or a local path/name.",
    )
    encoder_device: str = Field("auto", description="'auto' (CUDA when present), 'cpu', 'cuda' or 'cuda:N'.")
    encoder_batch_size: int = Field(128, ge=1, description="Texts per encoder batch.")
    encoder_max_seq_length: int = Field(128, ge=8, description="Tokens the encoder reads per text.")
    mcp: bool = Field(
        False, description="Serve the MCP tools (for AI assistants) over streamable HTTP at /mcp on the recommender."
    )
    encoder_runtime: Literal["auto", "onnx", "torch"] = Field(
        "auto",
        description="What runs the encoder for queries (the embedder service, `hfmrs search`): 'auto' = ONNX Runtime "
        "on CPU (the same vectors, ~4x faster per short text), PyTorch on GPU; 'onnx' or 'torch' to force one.",
    )
    text_quantization: Literal["none", "int8"] = Field(
        "none",
        description="'int8': builds keep an int8 copy of the `text` vectors in RAM and rescore on the originals "
        "(~3x faster queries at 1M, recall@10 0.999); 'none' searches float32 only.",
    )
    jaccard_candidates: int = Field(1000, ge=10, description="Sparse-vector candidates rescored by exact Jaccard.")
    default_method: str = Field(
        "fused",
        description="Method used when a request names none (fused: best on the team's practitioner-judged set).",
    )
    keep_builds: int = Field(2, ge=1, description="Completed builds kept on disk (the serving one included).")
    host: str = Field("127.0.0.1", description="Interface the services listen on.")
    recommender_port: int = Field(8000, description="Port of the recommender (public API).")
    embedder_port: int = Field(8001, description="Port of the embedder service.")
    ingest_port: int = Field(8002, description="Port of the ingest service.")
    ui_port: int = Field(7860, description="Port of the Gradio UI.")
    recommender_url: str | None = Field(
        None, description="Recommender base URL the UI calls; unset = http://HFMRS_HOST:HFMRS_RECOMMENDER_PORT."
    )
    embedder_url: str | None = Field(
        None, description="Embedder base URL other services call; unset = http://HFMRS_HOST:HFMRS_EMBEDDER_PORT."
    )
    admin_token: str | None = Field(None, description="Token for admin endpoints; unset = admin endpoints off.")
    rate_limit: float = Field(
        0.0, ge=0, description="Requests per second per client address on the public API (bursts of twice it); 0 = off."
    )
    workers: int = Field(
        1,
        ge=1,
        le=32,
        description="Recommender processes sharing its port (`hfmrs serve recommender`, `hfmrs up`). With Qdrant "
        "Edge, each one past the first serves its own copy of the build's shard (disk and memory: one shard each).",
    )
    response_cache_mb: int = Field(
        64,
        ge=0,
        description="Memory per recommender process for answers to `similar` requests already made (per build, "
        "least recently used dropped first); 0 = off.",
    )
    suggest_per_minute: int = Field(
        60,
        ge=0,
        description='"Did you mean" searches per client address per minute; beyond, unknown ids get a 404 without '
        "suggestions (cheap). 0 = no limit.",
    )
    hf_endpoint: str = Field(
        "https://huggingface.co",
        description="Hub API base URL for live ingest (HF_ENDPOINT is honoured when this is unset).",
    )

    # -- Live Hub ingest (issue 6): crawls land in HFMRS_HOME/crawls/, finished ones become dated snapshots here.
    live_snapshot_dir: Path | None = Field(
        None, description="Dated snapshots written by `hfmrs ingest`; unset = HFMRS_HOME/snapshots."
    )
    ingest_limit: int = Field(10_000, ge=1, description="Models `hfmrs ingest` and `hfmrs refresh` take from the top.")
    ingest_per_task: int = Field(0, ge=0, description="Extra top models crawled per pipeline tag (0 = none).")

    # -- Training and trained methods (issue 7): k-means clusters, GNN vectors, hybrid fusion, diversity.
    train_seed: int = Field(7, description="Seed of k-means, the GNN and the hybrid tuning sample (reproducible).")
    kmeans_k_min: int = Field(8, ge=2, description="Smallest K the k-means sweep tries.")
    kmeans_k_max: int = Field(96, ge=2, description="Largest K the k-means sweep tries (capped at models - 1).")
    kmeans_k_step: int = Field(8, ge=1, description="Step between the Ks the k-means sweep tries.")
    kmeans_sample: int = Field(3000, ge=10, description="Points sampled for the silhouette score of each K.")
    gnn_epochs: int = Field(60, ge=1, description="Full-batch training epochs of the GNN (link prediction).")
    gnn_hidden_dim: int = Field(128, ge=4, description="Hidden width of the GNN (its output is the 128-d `gnn`).")
    gnn_lr: float = Field(0.01, gt=0, description="Adam learning rate of the GNN.")
    gnn_knn: int = Field(10, ge=1, description="kNN similarity edges per model in the GNN's graph (on `text`).")
    gnn_negatives: int = Field(1, ge=1, description="Negative samples per positive edge in GNN training.")
    hybrid_weights: tuple[float, float, float] | None = Field(
        None, description="RRF weights for text, gnn, bm25 as JSON, e.g. [1,2,1]; unset = tuned at training."
    )
    hybrid_prefetch: int = Field(100, ge=10, description="Candidates each hybrid prefetch (text, gnn, bm25) returns.")
    hybrid_tune_queries: int = Field(200, ge=0, description="Lineage queries the hybrid weight tuning scores.")
    popularity_prior: float = Field(
        0.5, ge=0, description="Hybrid popularity prior: worth this many RRF rank positions per tenfold downloads."
    )
    quality_prior: float = Field(
        3.0,
        ge=0,
        description="Weight of the quality prior (downloads, likes, recency, card completeness) in the fused "
        "method's score; 0 = similarity alone.",
    )
    diversity_pool: int = Field(
        4, ge=1, description="Over-fetch factor for diversity (MMR / per-author cap): k·this candidates re-ranked."
    )

    # -- Web UI (issue 4): the "about the data" tab shows the PNGs `hfmrs report --out` writes to this folder.
    reports_dir: Path = Field(Path("reports"), description="Report folder whose PNGs the web UI's about tab shows.")

    def model_post_init(self, context: object) -> None:
        # A default that follows HFMRS_HOME, so tests and deployments that move home move snapshots too.
        if self.live_snapshot_dir is None:
            self.live_snapshot_dir = self.home / "snapshots"

    @property
    def crawls_dir(self) -> Path:
        return self.home / "crawls"

    @property
    def builds_dir(self) -> Path:
        return self.home / "builds"


@lru_cache
def get_settings() -> Settings:
    return Settings()
