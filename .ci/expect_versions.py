"""Fail unless the installed distributions match the given versions.

    python .ci/expect_versions.py wagtail=7.4.* Django=5.2.* channels=4.0.0

Each value is a shell-style pattern (``*`` for any); tox.ini runs it before
the suite so that an environment tests what its name says.
"""

import sys
from fnmatch import fnmatchcase
from importlib.metadata import version


def main(args: list[str]) -> int:
    found = {name: version(name) for name, _, _ in (a.partition("=") for a in args)}
    print(sys.version.split()[0], " ".join(f"{n} {v}" for n, v in found.items()))
    wrong = [
        f"{name} {found[name]} is not {pattern}"
        for name, _, pattern in (a.partition("=") for a in args)
        if not fnmatchcase(found[name], pattern)
    ]
    for line in wrong:
        print(line, file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
