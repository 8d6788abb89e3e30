"""Live Hub ingest (issue 6): crawl ``/api/models`` into dated snapshots, then refresh the serving build.

:mod:`hfmrs.hub.crawl` (resumable crawler), :mod:`hfmrs.hub.refresh` (crawl + incremental build),
:mod:`hfmrs.hub.cli` (``hfmrs ingest/refresh``).
"""
