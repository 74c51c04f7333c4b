"""Published output: report page parts (run in the kernel), pages and index (run by the runner),
and the docs site."""
