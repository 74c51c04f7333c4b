"""The Jaffle Shop example domain: source contracts, staging and mart transforms, star schema,
checks and metric definitions. duckbook's stage notebooks import it; adapt or replace it for
your own sources."""
