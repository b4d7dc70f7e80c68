"""Annotation round trips (issue 17): ELAN .eaf, BORIS events, plain CSV; a third-party EAF parser."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from auengine.errors import InputError
from auengine.interop import (annotation_table, read_annotations, read_boris, read_eaf, read_observer_csv,
                              read_observer_scores, scored_annotations, write_boris_events, write_eaf,
                              write_observer_csv)

from test_agreement import fake_score_output


@pytest.fixture
def scored(tmp_path):
    """A scored recording (engine levels, intensities, a review flag) plus two observers' scores."""
    rng = np.random.default_rng(1)
    folder = fake_score_output(tmp_path / "scored", "baby 1.mp4", np.clip(rng.normal(4, 2.5, 60), 0, 10))
    observers = annotation_table([
        {"video": "/elsewhere/baby 1.mp4", "start_s": 0, "end_s": 3, "scale": "flacc", "score": 4, "observer": "nurse A",
         "label": "crying, legs kicking"},
        {"video": "baby 1", "start_s": 3, "end_s": 6.0006, "scale": "flacc", "score": 2.5, "observer": "nurse A"},
        {"video": "baby 1.mp4", "start_s": 1.25, "end_s": 1.25, "scale": "nips", "score": 3, "observer": "nurse B"},
        {"video": "other.mp4", "start_s": 0, "end_s": 1, "scale": "flacc", "score": 1, "observer": "nurse B"}])
    return scored_annotations(folder, observers)


def test_scored_recording_has_every_tier(scored):
    kinds = scored["kind"].value_counts()
    assert kinds["engine_level"] == kinds["engine_intensity"] == 6 and kinds["review"] == 1
    assert kinds["observer"] == 3                                   # the other video's score is not attached
    assert set(scored["video"]) == {"baby 1.mp4"}
    level = scored[scored["kind"] == "engine_level"].iloc[0]
    assert level["label"] in ("no pain", "mild", "moderate", "severe") and level["observer"] == "engine"


@pytest.mark.parametrize("suffix", [".eaf", ".csv", ".tsv"])
def test_round_trip_preserves_every_annotation(scored, tmp_path, suffix):
    path = tmp_path / f"baby{suffix}"
    (write_eaf if suffix == ".eaf" else write_boris_events)(scored, path)
    back = read_annotations(path)
    pd.testing.assert_frame_equal(back, scored)
    again = tmp_path / f"again{suffix}"                             # and a second trip changes nothing
    (write_eaf if suffix == ".eaf" else write_boris_events)(back, again)
    pd.testing.assert_frame_equal(read_annotations(again), scored)


def test_observer_csv_round_trip_and_errors(scored, tmp_path):
    observers = scored[scored["kind"] == "observer"].reset_index(drop=True)
    write_observer_csv(scored, tmp_path / "obs.csv")
    pd.testing.assert_frame_equal(read_observer_csv(tmp_path / "obs.csv"), observers)
    pd.testing.assert_frame_equal(read_observer_scores(tmp_path / "obs.csv"), observers)
    bad = observers.copy()
    bad.loc[0, "score"], bad.loc[1, "scale"] = 11, "pips"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InputError, match=r"bad.csv: row 1: score 11.0 outside flacc 0-10.*row 2: unknown pain scale"):
        read_observer_csv(tmp_path / "bad.csv")
    observers.drop(columns=["observer"]).to_csv(tmp_path / "no_observer.csv", index=False)
    with pytest.raises(InputError, match="missing column.*observer"):
        read_observer_csv(tmp_path / "no_observer.csv")


def test_exported_eaf_opens_with_pympi(scored, tmp_path):
    pympi = pytest.importorskip("pympi")
    write_eaf(scored, tmp_path / "baby.eaf", media=tmp_path / "baby 1.mp4")
    eaf = pympi.Elan.Eaf(str(tmp_path / "baby.eaf"))
    assert set(eaf.get_tier_names()) == {"engine level (flacc)", "engine intensity (flacc)", "review",
                                         "nurse A (flacc)", "nurse B (nips)"}
    nurse = sorted(eaf.get_annotation_data_for_tier("nurse A (flacc)"))
    assert nurse == [(0, 3000, "4 crying, legs kicking"), (3000, 6001, "2.5")]
    assert eaf.get_parameters_for_tier("nurse B (nips)")["ANNOTATOR"] == "nurse B"
    levels = eaf.get_annotation_data_for_tier("engine level (flacc)")
    assert len(levels) == 6 and all(start < end for start, end, _ in levels)
    assert eaf.media_descriptors[0]["RELATIVE_MEDIA_URL"] == "./baby 1.mp4"


def test_eaf_written_by_pympi_is_read(tmp_path):
    """A file from another tool: tier 'FLACC' by annotator nurse1, a transcription tier that is skipped."""
    pympi = pytest.importorskip("pympi")
    eaf = pympi.Elan.Eaf()
    eaf.add_linked_file("file:///data/cot3.mp4", relpath="./cot3.mp4", mimetype="video/mp4")
    eaf.add_tier("FLACC", ling="default-lt", part="infant 3", ann="nurse1")
    eaf.add_tier("notes")
    for start, end, value in ((0, 2000, "3"), (2000, 4000, "7,5")):
        eaf.add_annotation("FLACC", start, end, value)
    eaf.add_annotation("notes", 0, 1000, "heel lance")
    eaf.to_file(str(tmp_path / "cot3.eaf"))
    table = read_eaf(tmp_path / "cot3.eaf")
    assert list(table["score"]) == [3.0, 7.5] and set(table["observer"]) == {"nurse1"}
    assert set(table["video"]) == {"cot3.mp4"} and list(table["end_s"]) == [2.0, 4.0]
    assert table.attrs["skipped"] == ["notes"]          # pympi's empty "default" tier is not listed


def test_boris_exports_from_boris_are_read(tmp_path):
    header = ("Observation id,Observation date,Description,Observation duration,Observation type,Source,"
              "Time offset (s),Media duration (s),FPS,Subject,Behavior,Behavioral category,Modifier #1,Behavior type,"
              "Time,Media file name,Image index,Image file path,Comment\n")
    common = "obs nurse C,2024-05-01 10:00:00,,30.0,Media file(s),player #1:/v/cot4.mp4,0.0,30.0,25.0,infant,"
    rows = [f"{common}FLACC,pain,6,START,1.000,/v/cot4.mp4,25,NA,\n",
            f"{common}FLACC,pain,6,STOP,4.500,/v/cot4.mp4,112,NA,grimace\n",
            f"{common}NIPS 2,pain,,POINT,8.000,/v/cot4.mp4,200,NA,\n",
            f"{common}sleeping,state,,START,0.000,/v/cot4.mp4,0,NA,\n",
            f"{common}sleeping,state,,STOP,1.000,/v/cot4.mp4,25,NA,\n"]
    (tmp_path / "events.csv").write_text(header + "".join(rows))
    table = read_boris(tmp_path / "events.csv")
    assert list(zip(table["scale"], table["score"], table["start_s"], table["end_s"])) == [
        ("flacc", 6.0, 1.0, 4.5), ("nips", 2.0, 8.0, 8.0)]
    assert set(table["observer"]) == {"obs nurse C"} and set(table["video"]) == {"cot4.mp4"}
    assert table.loc[0, "label"] == "grimace" and table.attrs["skipped"] == ["sleeping"]
    aggregated = pd.DataFrame({"Observation id": ["o1"], "Observer": ["nurse D"], "Media file name": ["cot5.mp4"],
                               "Behavior": ["FLACC"], "Modifier #1": ["3"], "Start (s)": [2.0], "Stop (s)": [5.0]})
    aggregated.to_csv(tmp_path / "aggregated.tsv", sep="\t", index=False)
    table = read_boris(tmp_path / "aggregated.tsv")
    assert table[["video", "observer", "start_s", "end_s", "score"]].values.tolist() == [
        ["cot5.mp4", "nurse D", 2.0, 5.0, 3.0]]
    (tmp_path / "unpaired.csv").write_text(header + rows[0])
    with pytest.raises(InputError, match="has no STOP"):
        read_boris(tmp_path / "unpaired.csv")


def test_bad_files_fail_clearly(tmp_path):
    (tmp_path / "x.eaf").write_text("<not xml")
    with pytest.raises(InputError, match="not valid XML"):
        read_eaf(tmp_path / "x.eaf")
    with pytest.raises(InputError, match="file not found"):
        read_annotations(tmp_path / "missing.csv")
    two = annotation_table([{"video": v, "start_s": 0, "end_s": 1, "scale": "flacc", "score": 1, "observer": "n"}
                            for v in ("a", "b")])
    with pytest.raises(InputError, match="one recording"):
        write_eaf(two, tmp_path / "two.eaf")


def test_cli_export_annotations(scored, tmp_path):
    from auengine.cli import main

    write_observer_csv(scored, tmp_path / "obs.csv")
    out = tmp_path / "exported"
    assert main(["export-annotations", str(tmp_path / "scored"), "--observers", str(tmp_path / "obs.csv"),
                 "--out", str(out), "--formats", "eaf", "boris", "csv"]) == 0
    pd.testing.assert_frame_equal(read_eaf(out / "baby 1.eaf"), scored)
    pd.testing.assert_frame_equal(read_boris(out / "baby 1.boris.csv"), scored)
    assert len(read_observer_csv(out / "baby 1.observers.csv")) == 3
