"""ELAN annotation files (.eaf, EAF 3.0 XML) from and to the annotation table.

One .eaf per recording. Tiers written: ``engine level (SCALE)`` (value ``"1 mild"``: level and
its name), ``engine intensity (SCALE)`` (the epoch's mean intensity), ``review`` (the reasons) and
one tier per observer and scale, ``OBSERVER (SCALE)`` with ANNOTATOR = the observer (value: the
score, then an optional comment). Each tier's linguistic type (``auengine-observer``, ...)
names its kind, so our own files read back exactly.

Files from elsewhere: a tier is read as observer scores when its values start with a number and
a pain scale can be found in its name (``FLACC nurse A``, ``nurse A (nips)``) or in the document
property ``auengine.scale``; the observer is the tier's ANNOTATOR, else its PARTICIPANT, else the
tier name. Other tiers are skipped and listed in ``table.attrs["skipped"]``.
"""
from __future__ import annotations

import mimetypes
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io.tables import atomic_write_bytes
from ..scales import scale_names
from .annotations import ANNOTATION_COLUMNS, ENGINE, annotation_table

TYPE_OF_KIND = {"engine_level": "auengine-engine-level", "engine_intensity": "auengine-engine-intensity",
                "review": "auengine-review", "observer": "auengine-observer"}
KIND_OF_TYPE = {v: k for k, v in TYPE_OF_KIND.items()}
TIER_NAMES = {"engine_level": "engine level", "engine_intensity": "engine intensity", "review": "review"}
SCALE_PROPERTY = "auengine.scale"
_SCALE_SUFFIX = re.compile(r"^(?P<name>.*?)\s*\((?P<scale>[^()]+)\)\s*$")


def format_number(value: float) -> str:
    """Shortest text that reads back as the same float (``4.0`` -> ``"4"``)."""
    return np.format_float_positional(float(value), trim="-")


def _value(row) -> str:
    if row.kind == "review":
        return row.label
    number = format_number(row.score)
    return f"{number} {row.label}" if row.label else number


def write_eaf(table: pd.DataFrame, path: str | Path, media: str | Path | None = None) -> Path:
    """Write one recording's annotations as an EAF 3.0 file, atomically.

    Parameters
    ----------
    table : annotation table (:func:`~auengine.interop.annotations.annotation_table`) of one video
    path : output .eaf
    media : the video file to link (default: the table's video name, relative to the .eaf)
    """
    table = annotation_table(table, str(path))
    videos = table["video"].unique()
    if len(videos) != 1:
        raise InputError(f"{path}: an .eaf holds one recording; got {len(videos)} videos ({', '.join(videos[:3])})")
    media = Path(media) if media else Path(videos[0])
    root = ET.Element("ANNOTATION_DOCUMENT", {
        "AUTHOR": "auengine", "DATE": datetime.now(timezone.utc).isoformat(timespec="seconds"), "FORMAT": "3.0",
        "VERSION": "3.0", "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
        "xsi:noNamespaceSchemaLocation": "http://www.mpi.nl/tools/elan/EAFv3.0.xsd"})
    header = ET.SubElement(root, "HEADER", {"MEDIA_FILE": "", "TIME_UNITS": "milliseconds"})
    ET.SubElement(header, "MEDIA_DESCRIPTOR", {
        "MEDIA_URL": media.resolve().as_uri() if media.is_absolute() or media.exists() else f"file:///{media.name}",
        "MIME_TYPE": mimetypes.guess_type(media.name)[0] or "video/mp4", "RELATIVE_MEDIA_URL": f"./{media.name}"})
    scales = sorted(s for s in table.loc[table["kind"] != "observer", "scale"].unique() if s)
    if len(scales) == 1:
        ET.SubElement(header, "PROPERTY", {"NAME": SCALE_PROPERTY}).text = scales[0]
    ET.SubElement(header, "PROPERTY", {"NAME": "lastUsedAnnotationId"}).text = str(len(table))
    order = ET.SubElement(root, "TIME_ORDER")
    tiers = []
    slot = 0
    for (kind, observer, scale), rows in table.groupby(["kind", "observer", "scale"], sort=False):
        name = TIER_NAMES.get(kind, observer)
        tier = ET.Element("TIER", {"TIER_ID": f"{name} ({scale})" if scale else name, "PARTICIPANT": "",
                                   "ANNOTATOR": observer, "LINGUISTIC_TYPE_REF": TYPE_OF_KIND[kind]})
        for row in rows.itertuples(index=False):
            refs = []
            for seconds in (row.start_s, row.end_s):
                slot += 1
                ET.SubElement(order, "TIME_SLOT", {"TIME_SLOT_ID": f"ts{slot}", "TIME_VALUE": str(round(seconds * 1000))})
                refs.append(f"ts{slot}")
            annotation = ET.SubElement(ET.SubElement(tier, "ANNOTATION"), "ALIGNABLE_ANNOTATION", {
                "ANNOTATION_ID": f"a{slot // 2}", "TIME_SLOT_REF1": refs[0], "TIME_SLOT_REF2": refs[1]})
            ET.SubElement(annotation, "ANNOTATION_VALUE").text = _value(row)
        tiers.append(tier)
    root.extend(tiers)
    for kind in TYPE_OF_KIND:
        ET.SubElement(root, "LINGUISTIC_TYPE", {"GRAPHIC_REFERENCES": "false",
                                                "LINGUISTIC_TYPE_ID": TYPE_OF_KIND[kind], "TIME_ALIGNABLE": "true"})
    ET.indent(root)
    return atomic_write_bytes(path, ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n")


def read_eaf(path: str | Path, video: str | None = None) -> pd.DataFrame:
    """Annotations of an .eaf (ours: every tier; others: the observer-score tiers, see the module doc).

    ``video`` overrides the recording's name (default: the linked media file, else the .eaf's stem).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise InputError(f"{path}: not valid XML ({exc})") from None
    if root.tag != "ANNOTATION_DOCUMENT":
        raise InputError(f"{path}: not an ELAN file (root element {root.tag!r}, expected ANNOTATION_DOCUMENT)")
    header = root.find("HEADER")
    units = header.get("TIME_UNITS", "milliseconds") if header is not None else "milliseconds"
    if units != "milliseconds":
        raise InputError(f"{path}: TIME_UNITS {units!r} not supported (ELAN writes milliseconds)")
    media = root.find("HEADER/MEDIA_DESCRIPTOR")
    if video is None:
        url = (media.get("RELATIVE_MEDIA_URL") or media.get("MEDIA_URL") or "") if media is not None else ""
        video = Path(url.split("/")[-1]).name if url else path.stem
    default_scale = next((p.text for p in root.iter("PROPERTY") if p.get("NAME") == SCALE_PROPERTY), "") or ""
    slots = {s.get("TIME_SLOT_ID"): s.get("TIME_VALUE") for s in root.iter("TIME_SLOT")}
    rows, skipped = [], []
    for tier in root.iter("TIER"):
        kind, scale, observer = _tier_meaning(tier, default_scale)
        values = [_annotation(a, slots) for a in tier.iter("ALIGNABLE_ANNOTATION")]
        if not values and tier.find("ANNOTATION") is None:
            continue                      # an empty tier
        parsed = [(start_s, end_s, *((np.nan, text) if kind == "review" else _split_value(text)))
                  for start_s, end_s, text in (v for v in values if v is not None)]
        if kind is None or len(parsed) < len(values) or (kind != "review" and not all(np.isfinite(p[2]) for p in parsed)):
            skipped.append(tier.get("TIER_ID", ""))
            continue
        rows += [{"video": video, "kind": kind, "start_s": start_s, "end_s": end_s, "scale": scale, "score": score,
                  "label": label, "observer": observer} for start_s, end_s, score, label in parsed]
    table = annotation_table(pd.DataFrame(rows, columns=ANNOTATION_COLUMNS), str(path))
    table.attrs["skipped"] = sorted(set(skipped))
    return table


def _tier_meaning(tier: ET.Element, default_scale: str) -> tuple[str | None, str, str]:
    """(kind, scale, observer) of a tier; kind None when it holds no scores we understand."""
    tier_id = tier.get("TIER_ID", "")
    match = _SCALE_SUFFIX.match(tier_id)
    name, suffix = (match["name"], match["scale"].strip().lower()) if match else (tier_id, "")
    kind = KIND_OF_TYPE.get(tier.get("LINGUISTIC_TYPE_REF", ""))
    known = scale_names()
    scale = suffix if suffix in known else next((t for t in re.split(r"[\s_:;,/-]+", tier_id.lower()) if t in known),
                                                default_scale.lower())
    if kind in ("engine_level", "engine_intensity", "review"):
        return kind, scale if kind != "review" else "", ENGINE
    if not scale:
        return None, "", ""
    observer = tier.get("ANNOTATOR") or tier.get("PARTICIPANT") or re.sub(rf"(?i)\b{scale}\b", "", name).strip()
    return "observer", scale, observer or tier_id


def _annotation(element: ET.Element, slots: dict) -> tuple[float, float, str] | None:
    try:
        start, end = (float(slots[element.get(k)]) / 1000 for k in ("TIME_SLOT_REF1", "TIME_SLOT_REF2"))
    except (KeyError, TypeError, ValueError):
        return None                       # unaligned time slot: not a timed score
    value = element.find("ANNOTATION_VALUE")
    return start, end, (value.text or "").strip() if value is not None else ""


def _split_value(text: str) -> tuple[float, str]:
    """``"4 crying"`` -> (4.0, "crying"); NaN when the text does not start with a number."""
    head, _, rest = text.strip().partition(" ")
    try:
        return float(head.replace(",", ".")), rest.strip()
    except ValueError:
        return np.nan, text
