"""Every setting HFMRS reads, declared once (``HFMRS_`` environment variables, or a ``.env`` file).

``QDRANT_URL`` and ``QDRANT_API_KEY`` are also read without the prefix, as Qdrant's own tools spell them.
A test (tests/test_settings.py) fails when a setting is missing from the README's settings table.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_DATA = PROJECT_ROOT / "data"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HFMRS_", env_file=".env", extra="ignore")

    home: Path = Field(Path(".hfmrs"), description="Where builds, caches and the embedded Qdrant live.")
    snapshot_dir: Path = Field(BUNDLED_DATA / "snapshots", description="Snapshot files the catalog is built from.")
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
    jaccard_candidates: int = Field(1000, ge=10, description="Sparse-vector candidates rescored by exact Jaccard.")
    default_method: str = Field("cosine", description="Method used when a request names none.")
    keep_builds: int = Field(2, ge=1, description="Completed builds kept on disk (the serving one included).")
    host: str = Field("127.0.0.1", description="Interface the services listen on.")
    recommender_port: int = Field(8000, description="Port of the recommender (public API).")
    embedder_port: int = Field(8001, description="Port of the embedder service.")
    ingest_port: int = Field(8002, description="Port of the ingest service.")
    ui_port: int = Field(7860, description="Port of the Gradio UI.")
    recommender_url: str | None = Field(None, description="Recommender base URL for the UI; unset = in-process.")
    embedder_url: str | None = Field(None, description="Embedder base URL for other services; unset = in-process.")
    admin_token: str | None = Field(None, description="Token for admin endpoints; unset = admin endpoints off.")
    hf_endpoint: str = Field("https://huggingface.co", description="Hub API base URL for live ingest.")

    @property
    def builds_dir(self) -> Path:
        return self.home / "builds"


@lru_cache
def get_settings() -> Settings:
    return Settings()
