"""``hfmrs refresh``: crawl the Hub, rebuild embedding only new or changed models, swap the serving build.

The build re-embeds only soups missing from the vector cache (``pipeline.build`` keys vectors by soup
hash), so a monthly refresh embeds the models that are new or whose metadata changed; downloads and likes
are not in the soup and cost nothing.  The build is published atomically; a failed crawl stops before the
build, so the serving build and the current snapshots are untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hfmrs.embedding import Encoder
from hfmrs.hub.crawl import CrawlProgress, CrawlResult, crawl
from hfmrs.pipeline import BuildResult, Trainer, build
from hfmrs.settings import Settings
from hfmrs.sources import open_catalog

log = logging.getLogger(__name__)


@dataclass
class RefreshResult:
    crawl: CrawlResult
    build: BuildResult


def refresh(
    settings: Settings,
    encoder: Encoder | None = None,
    *,
    limit: int | None = None,
    sort: str = "downloads",
    per_task: int | None = None,
    endpoint: str | None = None,
    progress: Callable[[CrawlProgress], None] | None = None,
    trainer: Trainer | None = None,
    force: bool = False,
    show_progress: bool = False,
    **crawl_options: Any,
) -> RefreshResult:
    """Ingest (resuming an interrupted crawl), then build from bundled + live snapshots and publish.

    ``crawl_options`` go to :func:`hfmrs.hub.crawl.crawl` (``cancel``, ``retry``, ``today``, ...).
    """
    crawled = crawl(settings, limit, sort, per_task, endpoint, progress=progress, **crawl_options)
    # The catalog is passed in (not read by build) so the live snapshots count whichever way build()
    # hashes its inputs: its digest of the catalog changes exactly when the merged records do.
    catalog = open_catalog(settings)
    built = build(settings, encoder=encoder, catalog=catalog, trainer=trainer, force=force, show_progress=show_progress)
    log.info(
        "refresh: %d models crawled into %s; build %s (%d soups embedded)",
        crawled.records,
        crawled.snapshot.name,
        built.build_id,
        built.embedded,
    )
    return RefreshResult(crawled, built)
