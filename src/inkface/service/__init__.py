"""The HTTP service: every loaded run behind one FastAPI app, and the web page.

``inkface serve --run NAME=RUN_DIR ...`` loads run folders once through
:func:`inkface.load_predictor`, then serves face analysis, signature verification and
identification, an enrolment gallery, health and readiness probes, Prometheus metrics
and a plain HTML/JS page at ``/``. The layout, outermost first:

* ``server``: uvicorn, JSON logs, graceful shutdown;
* ``app``: :func:`create_app` wires middleware, routes and error handlers;
* ``routes_*``: one router per resource (faces, signatures, gallery, operations);
* ``faces`` / ``signatures``: request-independent logic on top of the predictors;
* ``loaded`` (the models), ``batching`` (micro-batches per head), ``limits`` (body
  size, admission, bearer token), ``uploads`` (image fields), ``metrics``, ``errors``,
  ``schemas`` (typed request and response models), ``config``.
"""

from inkface.service.app import create_app
from inkface.service.config import ServiceConfig
from inkface.service.loaded import LoadedModels, load_models

__all__ = ["LoadedModels", "ServiceConfig", "create_app", "load_models"]
