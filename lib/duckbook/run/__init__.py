"""Running the pipeline: the stage runner behind ``duckbook run`` and notebook refresh."""
