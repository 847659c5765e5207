"""requirements.lock pins every package the set-up installs; requirements.txt holds the direct pins it was
generated from (`make lock`). A direct pin edited without regenerating the lock fails here."""

import re
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        req = Requirement(line)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{path.name}: {line!r} is not an exact pin"
        pins[canonicalize_name(req.name)] = specs[0].version
    return pins


def test_the_lock_pins_every_direct_requirement_at_its_version():
    direct, locked = _pins(ROOT / "requirements.txt"), _pins(ROOT / "requirements.lock")
    stale = {name: (version, locked.get(name)) for name, version in direct.items() if locked.get(name) != version}
    assert not stale, f"requirements.lock is stale (run `make lock`): {stale}"


def test_the_lock_covers_what_the_build_imports_transitively():
    locked = _pins(ROOT / "requirements.lock")
    # the packages whose new releases used to float under -W: each must be pinned
    for name in ("sphinx", "docutils", "myst-parser", "sphinx-book-theme", "pydata-sphinx-theme", "nbclient"):
        assert name in locked, f"{name} is not pinned in requirements.lock"
    assert len(locked) > 2 * len(_pins(ROOT / "requirements.txt"))


def test_the_makefile_installs_from_the_lock():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"pip install --quiet -r requirements\.lock", makefile)
    assert not re.search(r"pip install [^\n]*-r requirements\.txt", makefile)
