"""Lazy imports of heavy optional libraries, without their side effects on our process."""
from __future__ import annotations

import os

from .errors import BackendUnavailableError


def import_pyfeat():
    """Import py-feat (``feat``) lazily.

    Importing py-feat sets OMP_NUM_THREADS=1 when it is unset; that is undone for the
    environment (runtimes already started keep their thread counts).
    """
    had_omp = "OMP_NUM_THREADS" in os.environ
    try:
        import feat
    except ImportError as exc:
        raise BackendUnavailableError(f"py-feat is not installed ({exc}); run `make install`") from None
    finally:
        if not had_omp:
            os.environ.pop("OMP_NUM_THREADS", None)
    return feat
