"""Video scoring for clinicians: `auengine score` (streaming, epochs, review list, reports, many videos)."""
