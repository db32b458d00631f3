"""The command line's layout rules: rich only in the render modules, a one-line docstring per module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ghsync

PACKAGE = Path(ghsync.__file__).parent
RENDER_MODULES = {PACKAGE / "cli" / "render.py", PACKAGE / "cli" / "metrics_render.py"}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_render_modules_import_rich(path):
    uses_rich = any(name == "rich" or name.startswith("rich.") for name in imported_modules(path))
    assert uses_rich == (path in RENDER_MODULES)


@pytest.mark.parametrize("path", sorted((PACKAGE / "cli").glob("*.py")), ids=lambda p: p.name)
def test_every_cli_module_opens_with_a_one_line_summary(path):
    docstring = ast.get_docstring(ast.parse(path.read_text()))
    assert docstring, f"{path.name} has no docstring"
    assert len(docstring.splitlines()[0]) <= 110


def test_starting_the_command_line_loads_neither_rich_nor_pydantic_nor_pygithub():
    # `ghsync --help` and every command pay for what `import ghsync.cli` loads; the heavy
    # libraries are imported by the commands that use them.
    import subprocess
    import sys

    probe = "import sys, ghsync.cli; print(sorted(m for m in ('rich', 'pydantic', 'github') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_status_loads_only_what_reading_the_database_needs(tmp_path):
    # `status` is run by hand and by watchers: it pays at each start for what it imports. It reads
    # the database and draws a table; the sync engine, GitHub, metrics, the digest, the notifier and
    # the records only syncs exchange belong to the commands that use them.
    import os
    import subprocess
    import sys

    from ghsync.store import open_store

    db = tmp_path / "ghsync.db"
    open_store(db).add_repository("octo/api", days_back=30, now="2026-01-05T10:00:00Z")
    unwanted = (
        "pydantic_settings",  # no config file here: flags and environment are read without it
        "github",
        "requests",
        "ghsync.engine",
        "ghsync.github",
        "ghsync.metrics",
        "ghsync.digest",
        "ghsync.notify",
        "ghsync.models.syncing",
        "ghsync.service.sync",
        "ghsync.service.weekly",
        "ghsync.service.digest",
    )
    probe = (
        "import sys\n"
        "sys.argv = ['ghsync', 'status']\n"
        "from ghsync.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as done:\n"
        "    assert not done.code, done.code\n"
        f"print(sorted(m for m in {unwanted!r} if m in sys.modules))\n"
    )
    env = {**os.environ, "GHSYNC_DB": str(db), "GHSYNC_CONFIG": str(tmp_path / "none.toml"), "COLUMNS": "120"}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env)
    assert "octo/api" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_main_spares_the_exiting_interpreter_its_last_collection():
    # Everything a command opened is closed when `main()` returns; the process is about to end, so
    # the objects left need not be walked by the garbage collector once more (about 0.1 s).
    import subprocess
    import sys

    probe = (
        "import atexit, gc, sys\n"
        "sys.argv = ['ghsync', '--version']\n"
        "atexit.register(lambda: print(gc.get_freeze_count() > 0))\n"
        "from ghsync.cli import main\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "True"


def test_a_sync_without_a_terminal_writes_its_log_lines_without_loading_rich(fake, tmp_path):
    # Cron runs `sync` piped: its lines are plain text, and rich (~25 ms to import) is for the bar and tables.
    import os
    import subprocess
    import sys

    from ghsync_testing import REPO, TOKEN

    probe = (
        "import atexit, sys\n"
        f"sys.argv = ['ghsync', 'track', {REPO!r}, '--days', 'all']\n"
        "atexit.register(lambda: print('rich' in sys.modules))\n"
        "from ghsync.cli import main\n"
        "main()\n"
    )
    env = {
        **os.environ,
        "GHSYNC_DB": str(tmp_path / "ghsync.db"),
        "GHSYNC_CONFIG": str(tmp_path / "none.toml"),
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": fake.url,
    }
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env)
    assert f"{REPO}: complete 100%" in done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"
