"""The recommender's routes, one module per resource: models (similar, search, info, autocomplete),
catalog (methods, map) and ops (health, reload, the seed's legacy endpoint)."""
