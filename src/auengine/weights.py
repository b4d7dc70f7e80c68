"""Resolve model weights: explicit path > local cache > download (opt-in).

Nothing is downloaded unless the caller asks for it (``download=True``) or the
environment variable ``AUENGINE_DOWNLOAD=1`` is set. Offline failures raise
:class:`WeightsNotFoundError` naming the file, where it was looked for, and where
to put it; they never hang (downloads use a socket timeout).
"""
from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path

from .errors import WeightsNotFoundError

CACHE_ENV = "AUENGINE_CACHE"
DOWNLOAD_ENV = "AUENGINE_DOWNLOAD"
DOWNLOAD_TIMEOUT_S = 20.0
#: torch hub's convention: "name-<sha256 prefix>.ext" (e.g. s3fd-619a316812.pth)
HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,})\.")


@dataclass(frozen=True)
class WeightsSpec:
    """Where one weights file comes from.

    Attributes
    ----------
    name : str
        Human name used in messages ("face-alignment FAN 2D").
    filename : str
        File name in the cache.
    url : str
        Download address (used only when downloading is allowed).
    search_dirs : tuple of Path
        Extra read-only places to look.
    torch_hub : bool
        Also look in torch hub's checkpoint folder (where face-alignment caches).
    """

    name: str
    filename: str
    url: str
    search_dirs: tuple[Path, ...] = field(default_factory=tuple)
    torch_hub: bool = False

    @property
    def hash_prefix(self) -> str | None:
        """The sha256 prefix the file name carries (torch hub's convention), or None."""
        match = HASH_IN_NAME.search(self.filename)
        return match.group(1) if match else None

    def places(self) -> list[Path]:
        """Folders searched, in order: auengine's cache, search_dirs, torch hub."""
        hub = [torch_hub_checkpoints()] if self.torch_hub else []
        return [cache_dir(), *map(Path, self.search_dirs), *hub]


def cache_dir() -> Path:
    """auengine's weights cache: ``$AUENGINE_CACHE`` or ``~/.cache/auengine``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "auengine")


def torch_hub_checkpoints() -> Path:
    """torch hub's checkpoint folder (where face-alignment caches its weights)."""
    torch_home = os.environ.get("TORCH_HOME") or Path.home() / ".cache" / "torch"
    return Path(torch_home) / "hub" / "checkpoints"


def find_local(spec: WeightsSpec) -> Path | None:
    """The first local copy of ``spec``'s file (cache, then search dirs), or None."""
    for folder in spec.places():
        candidate = folder / spec.filename
        if candidate.is_file():
            return candidate
    return None


def download_allowed(download: bool | None) -> bool:
    """Whether downloading is allowed: the argument, else ``$AUENGINE_DOWNLOAD``."""
    if download is not None:
        return download
    return os.environ.get(DOWNLOAD_ENV, "") in {"1", "true", "yes"}


def resolve_weights(spec: WeightsSpec, explicit: str | os.PathLike | None = None,
                    *, download: bool | None = None) -> Path:
    """Path to ``spec``'s weights file, following explicit > cache > download.

    Parameters
    ----------
    spec : WeightsSpec
        The weights wanted.
    explicit : path, optional
        A file given by the user; it must exist.
    download : bool, optional
        Allow downloading into the cache (default: ``$AUENGINE_DOWNLOAD``).

    Raises
    ------
    WeightsNotFoundError
        When the file is not found and cannot be downloaded.
    """
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(f"{spec.name} weights file not found: {path} (check the path)")
        return path
    local = find_local(spec)
    if local is not None:
        return local
    target = cache_dir() / spec.filename
    looked = ", ".join(map(str, spec.places()))
    if not download_allowed(download):
        raise WeightsNotFoundError(
            f"{spec.name} weights '{spec.filename}' not found (looked in: {looked}); "
            f"download {spec.url} and put it at {target}, pass its path explicitly, "
            f"or allow downloading with {DOWNLOAD_ENV}=1")
    try:
        _download(spec.url, target, spec.hash_prefix)
    except OSError as exc:  # URLError, timeouts and HTTP errors are OSErrors
        raise WeightsNotFoundError(
            f"could not download {spec.name} weights from {spec.url} ({exc}); "
            f"fetch the file on a connected machine and put it at {target}") from None
    except RuntimeError as exc:  # torch hub: the file's sha256 does not start with the name's prefix
        raise WeightsNotFoundError(f"{spec.name} weights downloaded from {spec.url} failed the hash check ({exc}); "
                                   "nothing was kept") from None
    return target


def _download(url: str, target: Path, hash_prefix: str | None) -> None:
    """Download ``url`` to ``target`` atomically with torch hub (sha256 prefix checked), under a socket timeout."""
    from torch.hub import download_url_to_file

    target.parent.mkdir(parents=True, exist_ok=True)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)       # download_url_to_file takes no timeout of its own
    try:
        download_url_to_file(url, str(target), hash_prefix=hash_prefix, progress=False)
    finally:
        socket.setdefaulttimeout(previous)
