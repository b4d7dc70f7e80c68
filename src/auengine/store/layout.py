"""Where the service keeps files under its data folder.

```
DATA/auengine.db              SQLite database (unless --db)
DATA/models/<name>/           registered bundles (copies, hash-checked)
DATA/recordings/<folder>/     video.<ext>, epochs_in.csv, result/ (scoring outputs)
DATA/uploads/                 uploads being received (*.part; emptied on start)
DATA/work/                    scoring in progress (one fresh folder per attempt; emptied on start)
```
A recording's folder is renamed into place only when complete, and its database row is
written after that, so a crash never leaves a half recording listed.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

RESULT = "result"
VIDEO_STEM = "video"


@dataclass(frozen=True)
class DataLayout:
    root: Path

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def recordings(self) -> Path:
        return self.root / "recordings"

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"

    @property
    def work(self) -> Path:
        return self.root / "work"

    def recording(self, folder: str) -> Path:
        return self.recordings / folder

    def result(self, folder: str) -> Path:
        return self.recording(folder) / RESULT

    def video(self, folder: str) -> Path | None:
        """The stored video of a recording (video.<ext>), or None."""
        found = sorted(self.recording(folder).glob(VIDEO_STEM + ".*"))
        return found[0] if found else None

    def create(self) -> None:
        for path in (self.models, self.recordings, self.uploads, self.work):
            path.mkdir(parents=True, exist_ok=True)

    def clean_partial(self, known_folders: set[str]) -> list[Path]:
        """Remove unfinished uploads, abandoned work folders and recording folders without a row."""
        removed = [*self.uploads.glob("*"), *self.work.glob("*")]
        removed += [p for p in self.recordings.glob("*") if p.name not in known_folders]
        for path in removed:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        return removed
