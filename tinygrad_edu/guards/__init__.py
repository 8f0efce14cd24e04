"""What watches the engine through its events (``engine/events.py``), beside it rather than inside it:
in-place protection (inplace.py), anomaly detection (anomaly.py), and ``tg.grad``'s gradient capture
(capture.py). The backward tracer that draws each step is in ``tools/trace.py``."""
from . import inplace
from .anomaly import AnomalyError, detect_anomaly, is_anomaly_enabled
from .capture import grad

__all__ = ["AnomalyError", "detect_anomaly", "is_anomaly_enabled", "grad", "inplace"]
