"""The project model: every project file read once into one typed :class:`Project`, and the
model declarations (:func:`model`, :func:`metric_table`) a domain package lists in ``MODELS``."""

from duckbook.project.loader import ColumnDoc, Project, TableDoc, load
from duckbook.project.model import MetricTable, Model, metric_table, model, passthrough

__all__ = ["ColumnDoc", "MetricTable", "Model", "Project", "TableDoc", "load", "metric_table", "model", "passthrough"]
