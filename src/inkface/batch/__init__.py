"""Batch scoring: trained runs over folders, manifests and videos, on this machine or on
a Ray cluster (``inkface batch``; README, "Batch scoring").

* :func:`predict`: the whole job (inputs -> rows in Parquet/CSV -> summary JSON);
* :class:`BatchPredictor`: the picklable scorer, for your own Ray ``map_batches`` or
  Spark ``predict_batch_udf``;
* :func:`list_inputs`: what a SOURCE holds (``--dry-run``).
"""

from inkface.batch.api import predict
from inkface.batch.inputs import BatchInput, list_inputs
from inkface.batch.rows import output_schema
from inkface.batch.scoring import BatchPredictor
from inkface.batch.summary import BatchSummary

__all__ = [
    "BatchInput",
    "BatchPredictor",
    "BatchSummary",
    "list_inputs",
    "output_schema",
    "predict",
]
