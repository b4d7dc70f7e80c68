"""Bedside monitoring (`auengine monitor`): live source, online scoring, alarm state machine, logs.

Heavy pieces (OpenCV, the face models) load only when a :class:`~auengine.monitor.run.Monitor`
is built; :mod:`auengine.monitor.alarm` is pure Python.
"""
