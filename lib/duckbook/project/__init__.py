"""The project model: every project file read once into one typed :class:`Project`."""
