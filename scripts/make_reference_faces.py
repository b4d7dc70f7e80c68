"""Write src/auengine/resources/reference_faces.json: the geometry estimator's AU model and the
infant and adult reference faces, derived from the real annotations of ../shared/data/landmarks/.

    python scripts/make_reference_faces.py [--landmarks DIR] [--out PATH]

The AU model (spans: displacement at intensity 5 in units of s; cross-effects) is stated
here; the phantom's AU moves are tested to reproduce it (tests/test_reference.py). The
references follow au/reference_fit.py (rest rule, widened spans). Derived from InfAnFace and
300-W: non-commercial research, teaching and benchmarking only; the file says so.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from auengine.au.landmark_aus import measurements
from auengine.au.reference_fit import REST_RULE, SPREAD_FACTOR, fit_reference
from auengine.io.landmark_sets import SETS, load_landmark_set
from auengine.io.tables import atomic_write_bytes

OUT = Path(__file__).resolve().parents[1] / "src" / "auengine" / "resources" / "reference_faces.json"

#: the measurement each AU is read from (au/landmark_aus.py reads AU43 from eye_aperture as a ratio)
MEASUREMENT_OF = {"AU1": "inner_brow_height", "AU2": "outer_brow_height", "AU4": "brow_gap", "AU6": "cheek_height",
                  "AU7": "lower_lid_depth", "AU9": "ala_height", "AU10": "upper_lip_height", "AU12": "lip_corner_height",
                  "AU20": "mouth_width", "AU25": "lip_gap", "AU26": "jaw_drop", "AU27": "jaw_drop"}
#: displacement of the AU's measurement at intensity 5 (units of s): FACS movement directions with the
#: magnitudes of auengine's AU model, which the phantom draws (phantom/face.py)
SPANS = {"AU1": 0.24, "AU2": 0.24, "AU4": 0.214, "AU6": 0.048, "AU7": 0.083, "AU9": 0.107, "AU10": 0.186,
         "AU12": 0.131, "AU20": 0.167, "AU25": 0.155, "AU26": 0.19, "AU27": 0.38}
#: how far one AU at intensity 5 moves another AU's measurement (units of s)
CROSS = {("AU4", "inner_brow_height"): -0.143, ("AU4", "outer_brow_height"): -0.06,
         ("AU6", "lower_lid_depth"): -0.019, ("AU6", "eye_aperture"): -0.019, ("AU7", "eye_aperture"): -0.131,
         ("AU9", "upper_lip_height"): 0.036, ("AU10", "lip_gap"): 0.024,
         ("AU27", "lip_corner_height"): -0.167, ("AU27", "mouth_width"): -0.143, ("AU27", "lip_gap"): 0.69,
         ("AU12", "mouth_width"): 0.214}
AU43_CLOSED = 0.96
TERMS = ("Derived from InfAnFace (Wan et al., ICPR 2022) and 300-W (Sagonas et al., 2013) annotations; both are "
         "for non-commercial research, teaching and benchmarking only, and so is this file.")
SOURCES = {"infant": "InfAnFace training split (ads 104, google2 51, youtube2 55 faces), 68-point annotations, "
                     "repository ostadabbas/Infant-Facial-Landmark-Detection-and-Tracking, data/infanface/",
           "adult": "300-W common and challenging sets (HELEN 330, LFPW 224, iBUG 135 faces), as 300w_valid.csv in "
                    "the same repository"}


def build(root: Path | None) -> dict:
    references = {}
    for population in SETS:
        faces = load_landmark_set(population, root)
        reference = fit_reference(measurements(faces.landmarks), SPANS, MEASUREMENT_OF)
        references[population] = {"source": SOURCES[population], "terms": TERMS, **reference}
    return {
        "format": 1,
        "made_by": "scripts/make_reference_faces.py",
        "terms": TERMS,
        "rest_rule": REST_RULE,
        "spread_factor": SPREAD_FACTOR,
        "au_model": {"measurement_of": MEASUREMENT_OF, "spans": SPANS,
                     "cross": [[au, m, e] for (au, m), e in CROSS.items()], "au43_closed": AU43_CLOSED,
                     "source": "auengine's AU model (FACS movement directions; the phantom draws these moves)"},
        "references": references,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landmarks", type=Path, help="folder with infanface/ and 300w/ (default ../shared/data/landmarks)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    data = build(args.landmarks)
    atomic_write_bytes(args.out, (json.dumps(data, indent=1) + "\n").encode())
    for name, ref in data["references"].items():
        print(f"{name}: {ref['faces']} faces, {ref['faces_at_rest']} at rest; span factors {ref['span_factor']}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
