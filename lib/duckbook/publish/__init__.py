"""Published output: :mod:`~duckbook.publish.page` (what a report notebook imports, run in the
kernel), :mod:`~duckbook.publish.site` (report pages and the index, made by the runner),
:mod:`~duckbook.publish.docs` (the docs site) with :mod:`~duckbook.publish.docs_model` (what it
shows of each table), :mod:`~duckbook.publish.lineage_graph` (the layered SVG) and
:mod:`~duckbook.publish.column_lineage`;
every page from the Jinja templates in ``templates/``."""
