#!/usr/bin/env python
"""ghsync end-to-end benchmark: real `ghsync` subprocesses against the bundled fake GitHub.

    uv run python tests/benchmarks/bench.py                  # 1,000 / 10,000 / 50,000 PRs (minutes)
    uv run python tests/benchmarks/bench.py --quick          # 1,000 PRs only, well under a minute
    uv run python tests/benchmarks/bench.py --markdown --json results.json

The fake GitHub runs in a thread of this process, with a fixed seed and a per-request latency
(default 20 ms). Each scenario runs `ghsync` as a child process on a fresh temporary database and
measures, per child: GraphQL points, GraphQL requests and REST calls (deltas of the fake's
counters), PRs returned by the fake, wall time, the child's own CPU time (user+sys) and its peak RSS
(both from os.wait4 on that one child). See tests/benchmarks/README.md.

Not a pytest module (no `test_` prefix, no __init__.py): run it directly.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from ghsync.fakegithub import FakeGitHub, generate_repository
from ghsync.fakegithub.data import iso
from ghsync.github.graphql import MAX_PAGE_SIZE, cheapest_page_size, floor_points

TOKEN = "bench-token"
OWNER = "bench"
GRAPHQL_LIMIT = 5000  # GitHub's hourly GraphQL budget for a user token
CORE_LIMIT = 5000
MIN_REMAINING = 100  # ghsync's default threshold; the resume scenario passes it explicitly
WINDOW_DAYS = 60
BASE_SIZE = 10_000  # incremental / window / resume / status scenarios run on the largest size <= this
COLD_START_RUNS = 5
CHILD_TIMEOUT_SECONDS = 3600.0  # a hung child is killed, not waited for forever
# What a foreground sync prints when it starts sleeping until the rate-limit reset (render.py).
WAITING_MARKER = "rate limit reached: waiting"

# Targets
POINTS_TOLERANCE = 0.05  # points within 5% of floor_points(n)
WALL_1K_SECONDS = 2.0  # wall time of the 1,000-PR initial sync at 20 ms latency
CPU_PER_10K_SECONDS = 2.0  # ghsync's own CPU per 10,000 PRs
RSS_50K_MB = 100.0  # peak RSS at 50,000 PRs
STATUS_COLD_SECONDS = 0.3  # `ghsync status` cold start
METRICS_SECONDS = 1.0  # `ghsync metrics` on 50,000 PRs across 20 repositories
METRICS_REPOSITORIES = 20
BARE_RATIO = 1.3  # 1,000-PR initial sync wall vs a bare client fetching the same pages
# Owner scenarios (issue #13): an organisation of many small repositories.
ORG = "bench-org"
ORG_REPOSITORIES = 300
ORG_MAX_PRS = 60
ORG_TRACK_SLACK = 1.15  # points <= 1.15 x ceil(PRs / page) + ceil(repositories / 100) + 2
ORG_NOTHING_POINTS, ORG_NOTHING_REQUESTS, ORG_NOTHING_WALL = 5, 8, 3.0
ORG_CHANGED_REPOSITORIES = 10
ORG_CHANGED_POINTS = 6


# ------------------------------------------------------------------------------------------------
# machine


def machine_line() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor() or model
    cores = os.cpu_count() or 0
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = cores
    core_text = f"{cores} cores" if usable == cores else f"{cores} cores ({usable} usable)"
    return (
        f"{model}, {core_text}, Python {platform.python_version()} ({platform.python_implementation()}), "
        f"SQLite {sqlite3.sqlite_version}, {platform.system()} {platform.release()}"
    )


# ------------------------------------------------------------------------------------------------
# the fake, instrumented from the outside


class InstrumentedFake:
    """A started FakeGitHub plus counters it does not keep itself: PRs returned and server time.

    PRs returned: page queries are the only ones selecting `headRefName`, once per PR node, so its
    occurrences in a GraphQL answer count the PRs on the page (follow-ups select none).
    Server time: wall and thread-CPU time inside the fake's GraphQL handler (parse, cost, execute,
    serialise), i.e. everything but the configured latency sleep and the HTTP plumbing.
    """

    def __init__(self, repositories, *, latency: float):
        self.fake = FakeGitHub(repositories, latency=latency, graphql_limit=GRAPHQL_LIMIT, core_limit=CORE_LIMIT)
        self._lock = threading.Lock()
        self.prs_returned = 0
        self.server_seconds = 0.0
        self.server_cpu_seconds = 0.0
        original = self.fake._graphql  # private, but only wrapped here, in the benchmark process

        def counting(*args: Any, **kwargs: Any):
            started, cpu_started = time.perf_counter(), time.thread_time()
            response = original(*args, **kwargs)
            elapsed, cpu = time.perf_counter() - started, time.thread_time() - cpu_started
            prs = response.body.count(b'"headRefName":')
            with self._lock:
                self.prs_returned += prs
                self.server_seconds += elapsed
                self.server_cpu_seconds += cpu
            return response

        self.fake._graphql = counting  # type: ignore[method-assign]

    def __enter__(self) -> Self:
        self.fake.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.fake.stop()

    @property
    def url(self) -> str:
        return self.fake.url

    def refill(self) -> None:
        self.fake.set_remaining("graphql", GRAPHQL_LIMIT)
        self.fake.set_remaining("core", CORE_LIMIT)

    def snapshot(self) -> dict[str, float]:
        stats = self.fake.stats
        with self._lock:
            return {
                "graphql_points": stats["graphql_points"],
                "graphql_requests": stats["graphql_requests"],
                "rest_calls": stats["rest_calls"],
                "rate_limit_calls": stats["rate_limit_calls"],
                "prs_returned": self.prs_returned,
                "server_seconds": self.server_seconds,
                "server_cpu_seconds": self.server_cpu_seconds,
            }


# ------------------------------------------------------------------------------------------------
# children


@dataclass
class Child:
    argv: list[str]
    exit_code: int
    wall_s: float
    cpu_s: float
    user_s: float
    sys_s: float
    peak_rss_mb: float
    stderr_tail: str
    interrupted: bool = False


def ghsync_command() -> tuple[list[str], str]:
    """The console script next to this interpreter (what users run), else `python -c`."""
    script = Path(sys.executable).with_name("ghsync")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)], str(script)
    return [
        sys.executable,
        "-c",
        "from ghsync.cli import main; main()",
    ], f"{sys.executable} -c 'from ghsync.cli import main; main()'"


# Why a launcher: ru_maxrss of a child includes the RSS it had *before* exec, i.e. the forking
# process's. Forked from this process (which holds the fake and up to 61,000 generated PRs, and
# grows), every ghsync child would report at least this process's RSS. The launcher is a bare
# `python -S` (~10 MB) that spawns ghsync, waits for it with os.wait4 and writes that one child's
# wall time, user/sys CPU and peak RSS as JSON. Its own start-up is outside every figure.
LAUNCHER = """
import json, os, signal, subprocess, sys, time
path, argv = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
child = subprocess.Popen(argv)
# Forward Ctrl-C with os.kill (Popen.send_signal would poll and could reap the child first).
signal.signal(signal.SIGINT, lambda signum, frame: os.kill(child.pid, signal.SIGINT))
_, status, usage = os.wait4(child.pid, 0)
wall = time.perf_counter() - started
child.returncode = os.waitstatus_to_exitcode(status)
with open(path, "w") as out:
    json.dump({"exit_code": child.returncode, "wall_s": wall, "user_s": usage.ru_utime,
               "sys_s": usage.ru_stime, "maxrss": usage.ru_maxrss}, out)
"""


# The reference for "fetch the next page while the current one is written": a bare client fetching the
# same pages (ghsync's own query text, same page size) with requests, parsing the JSON and nothing else.
BARE_CLIENT = """
import os, sys, requests
from ghsync.github.graphql import cheapest_page_size, pull_request_page_query
from ghsync.models import PageRequest
owner, name = sys.argv[1].split("/")
session = requests.Session()
session.headers["Authorization"] = "bearer " + os.environ["GITHUB_TOKEN"]
url = os.environ["GITHUB_API_URL"] + "/graphql"
after, count = None, "all"
while True:
    query, variables = pull_request_page_query(PageRequest(owner, name, after=after, count=count),
                                               cheapest_page_size(extra_connections=1))
    page = session.post(url, json={"query": query, "variables": variables}).json()
    connection = page["data"]["repository"]["pullRequests"]
    if not connection["pageInfo"]["hasNextPage"]:
        break
    after, count = connection["pageInfo"]["endCursor"], None
"""


# The same reference on the transport ghsync must use (PyGithub's requester, as every GitHub call): it
# tells the page loop's own overhead apart from what importing PyGithub costs at start-up.
BARE_PYGITHUB_CLIENT = """
import os, sys
from github import Auth, Github
from ghsync.github.graphql import cheapest_page_size, pull_request_page_query
from ghsync.models import PageRequest
owner, name = sys.argv[1].split("/")
requester = Github(auth=Auth.Token(os.environ["GITHUB_TOKEN"]), base_url=os.environ["GITHUB_API_URL"],
                   retry=None, seconds_between_requests=None, seconds_between_writes=None).requester
after, count = None, "all"
while True:
    query, variables = pull_request_page_query(PageRequest(owner, name, after=after, count=count),
                                               cheapest_page_size(extra_connections=1))
    _, page = requester.graphql_query(query, variables)
    connection = page["data"]["repository"]["pullRequests"]
    if not connection["pageInfo"]["hasNextPage"]:
        break
    after, count = connection["pageInfo"]["endCursor"], None
"""
# Single runs of a 1-2 s command vary by 10-15 % on a shared machine: the ratio to the bare clients is
# taken from this many interleaved rounds (ghsync, then each bare client), as medians.
WALL_PAIRS = 5


def compile_bytecode() -> None:
    """Byte-compile ghsync's modules first, as installing a package does: with PYTHONDONTWRITEBYTECODE
    set (some machines do), every child would otherwise compile them from source at each start."""
    import compileall

    import ghsync

    compileall.compile_dir(str(Path(ghsync.__file__).parent), quiet=1)


def wall_pairs(fake: InstrumentedFake, runner: Runner, workdir: Path, repo: str, rounds: int) -> dict[str, list[float]]:
    """Wall seconds of a 1,000-PR `track --days all` and of the bare clients, interleaved round by round."""
    plans = {
        "ghsync": (["track", repo, "--days", "all"], None),
        "bare client (requests)": ([repo], [sys.executable, "-c", BARE_CLIENT]),
        "bare client (PyGithub)": ([repo], [sys.executable, "-c", BARE_PYGITHUB_CLIENT]),
    }
    walls: dict[str, list[float]] = {label: [] for label in plans}
    for round_number in range(rounds):
        for label, (args, command) in plans.items():
            fake.refill()
            child = runner.run(args, db=workdir / f"pair-{round_number}.db", command=command)
            if child.exit_code != 0:
                raise RuntimeError(f"{label} exited {child.exit_code} in round {round_number + 1}")
            walls[label].append(child.wall_s)
    return walls


def _maxrss_mb(ru_maxrss: int) -> float:
    # Linux reports kilobytes, macOS bytes.
    return ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else ru_maxrss / 1024


class Runner:
    def __init__(self, workdir: Path, api_url: str):
        self.command, self.command_text = ghsync_command()
        self.workdir = workdir
        env = dict(os.environ)
        for name in list(env):
            if name in ("GH_TOKEN", "GHSYNC_TOKENS", "GHSYNC_MIN_REMAINING", "GHSYNC_NOTIFY_TO") or name.startswith(
                "GHSYNC_SMTP"
            ):
                env.pop(name)
        env.update(
            GITHUB_TOKEN=TOKEN,
            GITHUB_API_URL=api_url,
            GHSYNC_CONFIG=str(workdir / "no-config.toml"),  # never the developer's config file
            GHSYNC_DB=str(workdir / "unused.db"),
        )
        self.env = env

    def run(
        self,
        args: list[str],
        *,
        db: Path | None = None,
        interrupt_on: str | None = None,
        timeout: float | None = None,
        command: list[str] | None = None,
    ) -> Child:
        """Run one ghsync child to its end, measured by a small launcher process (see LAUNCHER).

        interrupt_on: send SIGINT (Ctrl-C) once this text shows up on the child's stderr.
        timeout: stop the child after this many seconds (SIGINT, then SIGKILL 10 s later).
        """
        env = dict(self.env)
        if db is not None:
            env["GHSYNC_DB"] = str(db)
        timeout = timeout or CHILD_TIMEOUT_SECONDS
        marker = interrupt_on.encode() if interrupt_on else None
        interrupted = False
        fd, measure_path = tempfile.mkstemp(prefix="rusage-", suffix=".json", dir=self.workdir)
        os.close(fd)
        with (
            tempfile.NamedTemporaryFile(prefix="stdout-", dir=self.workdir) as out,
            tempfile.NamedTemporaryFile(prefix="stderr-", dir=self.workdir) as err,
        ):
            launcher = subprocess.Popen(
                [sys.executable, "-S", "-c", LAUNCHER, measure_path, *(command or self.command), *args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=self.workdir,
                start_new_session=True,
            )
            started = time.perf_counter()
            signalled_at = None
            while True:
                try:
                    launcher.wait(0.02 if marker is not None else 1.0)
                    break
                except subprocess.TimeoutExpired:
                    pass
                elapsed = time.perf_counter() - started
                if signalled_at is None and (
                    (marker is not None and marker in Path(err.name).read_bytes()) or elapsed > timeout
                ):
                    launcher.send_signal(signal.SIGINT)  # the launcher passes it on to ghsync
                    interrupted, signalled_at = True, elapsed
                elif signalled_at is not None and elapsed - signalled_at > 10:
                    os.killpg(launcher.pid, signal.SIGKILL)
            tail = Path(err.name).read_bytes()[-1500:].decode("utf-8", "replace")
        try:
            measure = json.loads(Path(measure_path).read_text())
        except (OSError, ValueError):
            raise RuntimeError(f"the launcher did not measure `ghsync {' '.join(args)}`: {tail}") from None
        finally:
            Path(measure_path).unlink(missing_ok=True)
        return Child(
            argv=["ghsync", *args],
            exit_code=measure["exit_code"],
            wall_s=measure["wall_s"],
            cpu_s=measure["user_s"] + measure["sys_s"],
            user_s=measure["user_s"],
            sys_s=measure["sys_s"],
            peak_rss_mb=_maxrss_mb(measure["maxrss"]),
            stderr_tail=tail,
            interrupted=interrupted,
        )


# ------------------------------------------------------------------------------------------------
# results


@dataclass
class Scenario:
    name: str
    repo_size: int
    command: str
    exit_code: int
    expected_exit: int
    prs_needed: int  # PRs the scenario has to bring in: the n of floor_points(n)
    prs_returned: int
    prs_stored: int | None
    graphql_requests: int
    points: int
    floor: int | None
    rest_calls: int
    rate_limit_calls: int
    wall_s: float
    cpu_s: float
    user_s: float
    sys_s: float
    peak_rss_mb: float
    server_s: float  # the fake's own processing time (excluding its latency sleep)
    server_cpu_s: float
    latency_s: float  # configured latency x requests that reached the fake
    interrupted: bool = False  # the benchmark sent SIGINT (see Runner.run)
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        return self.points / self.floor if self.floor else None

    @property
    def points_per_1k(self) -> float | None:
        return 1000 * self.points / self.prs_needed if self.prs_needed else None

    @property
    def ok(self) -> bool:
        return self.exit_code == self.expected_exit


def measured(
    fake: InstrumentedFake,
    runner: Runner,
    name: str,
    args: list[str],
    *,
    db: Path,
    repo_size: int,
    prs_needed: int,
    floor: int | None,
    latency: float,
    expected_exit: int = 0,
    count_stored: bool = True,
    interrupt_on: str | None = None,
    timeout: float | None = None,
    command: list[str] | None = None,
) -> Scenario:
    before = fake.snapshot()
    child = runner.run(args, db=db, interrupt_on=interrupt_on, timeout=timeout, command=command)
    after = fake.snapshot()
    delta = {key: after[key] - before[key] for key in after}
    stored = _stored_prs(db) if count_stored else None
    scenario = Scenario(
        name=name,
        repo_size=repo_size,
        command=" ".join(child.argv),
        exit_code=child.exit_code,
        expected_exit=expected_exit,
        prs_needed=prs_needed,
        prs_returned=int(delta["prs_returned"]),
        prs_stored=stored,
        graphql_requests=int(delta["graphql_requests"]),
        points=int(delta["graphql_points"]),
        floor=floor,
        rest_calls=int(delta["rest_calls"]),
        rate_limit_calls=int(delta["rate_limit_calls"]),
        wall_s=child.wall_s,
        cpu_s=child.cpu_s,
        user_s=child.user_s,
        sys_s=child.sys_s,
        peak_rss_mb=child.peak_rss_mb,
        server_s=delta["server_seconds"],
        server_cpu_s=delta["server_cpu_seconds"],
        latency_s=latency * (delta["graphql_requests"] + delta["rest_calls"] + delta["rate_limit_calls"]),
        interrupted=child.interrupted,
    )
    if child.interrupted:
        scenario.notes.append("interrupted with SIGINT by the benchmark")
    if not scenario.ok:
        scenario.notes.append(
            f"exit {child.exit_code}, expected {expected_exit}; stderr ends: {_last_lines(child.stderr_tail)}"
        )
    print(_progress_line(scenario), flush=True)
    return scenario


def _last_lines(text: str, count: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-count:])


def _stored_prs(db: Path) -> int | None:
    if not db.exists():
        return None
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT count(*) FROM pull_requests").fetchone()[0])
    except sqlite3.Error:
        return None


def _progress_line(s: Scenario) -> str:
    return (
        f"  {s.name:<38} exit {s.exit_code:>2}  {s.points:>5} pts / {s.graphql_requests:>5} req  "
        f"{s.prs_returned:>6} PRs  {s.wall_s:7.2f} s wall  {s.cpu_s:6.2f} s CPU  {s.peak_rss_mb:6.1f} MB  "
        f"(fake {s.server_s:5.2f} s + latency {s.latency_s:5.2f} s)"
    )


def cold_start(runner: Runner, name: str, args: list[str], *, db: Path | None, runs: int) -> Scenario:
    children = [runner.run(args, db=db) for _ in range(runs)]
    codes = {c.exit_code for c in children}
    scenario = Scenario(
        name=name,
        repo_size=0,
        command=" ".join(children[0].argv),
        exit_code=max(codes),
        expected_exit=0,
        prs_needed=0,
        prs_returned=0,
        prs_stored=None,
        graphql_requests=0,
        points=0,
        floor=None,
        rest_calls=0,
        rate_limit_calls=0,
        wall_s=statistics.median(c.wall_s for c in children),
        cpu_s=statistics.median(c.cpu_s for c in children),
        user_s=statistics.median(c.user_s for c in children),
        sys_s=statistics.median(c.sys_s for c in children),
        peak_rss_mb=statistics.median(c.peak_rss_mb for c in children),
        server_s=0.0,
        server_cpu_s=0.0,
        latency_s=0.0,
        notes=[f"median of {runs}: " + ", ".join(f"{c.wall_s:.3f}" for c in children) + " s"],
    )
    if not scenario.ok:
        scenario.notes.append(f"exit codes {sorted(codes)}; stderr ends: {_last_lines(children[-1].stderr_tail)}")
    print(
        f"  {name:<38} exit {scenario.exit_code:>2}  median {scenario.wall_s:.3f} s wall  "
        f"{scenario.cpu_s:.3f} s CPU  {scenario.peak_rss_mb:.1f} MB  ({scenario.notes[0]})",
        flush=True,
    )
    return scenario


# ------------------------------------------------------------------------------------------------
# the run


def repo_name(size: int) -> str:
    return f"{OWNER}/prs-{size}"


def team_repositories(total: int, seed: int, now: datetime) -> list[Any]:
    """METRICS_REPOSITORIES generated repositories of one organisation sharing `total` PRs."""
    each = max(1, total // METRICS_REPOSITORIES)
    return [
        generate_repository(f"{OWNER}-org/service-{index:02d}", each, seed=seed + index, now=now)
        for index in range(METRICS_REPOSITORIES)
    ]


def metrics_scenarios(fake: InstrumentedFake, runner: Runner, workdir: Path, repositories: list[Any]) -> list[Scenario]:
    """Track every repository (not measured), then time `ghsync metrics` over all of them, cold, median of 5:
    the pooled weekly table, JSON, and the --by repo breakdown."""
    db = workdir / "metrics.db"
    total = sum(len(r.pull_requests) for r in repositories)
    for repository in repositories:
        fake.fake.add_repository(repository)
        fake.refill()
        child = runner.run(["track", repository.full_name, "--days", "all"], db=db)
        if child.exit_code != 0:
            raise RuntimeError(f"tracking {repository.full_name} failed: {_last_lines(child.stderr_tail)}")
    label = f"{total:,} PRs in {len(repositories)} repos"
    return [
        cold_start(runner, f"`ghsync metrics` ({label})", ["metrics"], db=db, runs=COLD_START_RUNS),
        cold_start(
            runner,
            f"`ghsync metrics --json --weeks 52` ({label})",
            ["metrics", "--json", "--weeks", "52"],
            db=db,
            runs=COLD_START_RUNS,
        ),
        cold_start(
            runner, f"`ghsync metrics --by repo` ({label})", ["metrics", "--by", "repo"], db=db, runs=COLD_START_RUNS
        ),
    ]


def org_sizes(seed: int) -> list[int]:
    """PR counts of the organisation's repositories: 0 to ORG_MAX_PRS, most under 20."""
    rng = random.Random(f"bench-org:{seed}")
    return [min(ORG_MAX_PRS, int(rng.expovariate(1 / 10))) for _ in range(ORG_REPOSITORIES)]


def owner_scenarios(
    fake: InstrumentedFake, runner: Runner, workdir: Path, *, seed: int, now: datetime, latency: float
) -> tuple[list[Scenario], dict[str, Any]]:
    """`track ORG --days all` on 300 repositories, then `sync` with nothing changed, then after 10 PRs
    changed in 10 repositories."""
    sizes = org_sizes(seed)
    names = [f"{ORG}/repo-{index:03d}" for index in range(len(sizes))]
    for name, size in zip(names, sizes, strict=True):
        fake.fake.add_repository(generate_repository(name, size, seed=seed, now=now))
    total = sum(sizes)
    page = cheapest_page_size(extra_connections=1, limit=MAX_PAGE_SIZE)
    pages = -(-total // page)
    limit = ORG_TRACK_SLACK * pages + -(-len(sizes) // 100) + 2
    db = workdir / "org.db"
    scenarios = []
    fake.refill()
    scenarios.append(
        measured(
            fake,
            runner,
            f"owner: `track {ORG} --days all` ({len(sizes)} repos)",
            ["track", ORG, "--days", "all"],
            db=db,
            repo_size=total,
            prs_needed=total,
            floor=None,
            latency=latency,
        )
    )
    fake.refill()
    scenarios.append(
        measured(
            fake,
            runner,
            f"owner: `sync`, nothing changed ({len(sizes)} repos)",
            ["sync"],
            db=db,
            repo_size=total,
            prs_needed=0,
            floor=None,
            latency=latency,
        )
    )
    rng = random.Random(f"bench-org-touch:{seed}")
    touched = rng.sample([n for n, s in zip(names, sizes, strict=True) if s > 0], ORG_CHANGED_REPOSITORIES)
    for name in touched:
        number = rng.randrange(1, sizes[names.index(name)] + 1)
        fake.fake.touch_pull_request(name, number)
    fake.refill()
    scenarios.append(
        measured(
            fake,
            runner,
            f"owner: `sync` after {ORG_CHANGED_REPOSITORIES} PRs changed in {ORG_CHANGED_REPOSITORIES} repos",
            ["sync"],
            db=db,
            repo_size=total,
            prs_needed=ORG_CHANGED_REPOSITORIES,
            floor=None,
            latency=latency,
        )
    )
    info = {"repositories": len(sizes), "prs": total, "page": page, "pages": pages, "track_limit": limit}
    return scenarios, info


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.metrics_only:
        return run_metrics_only(args)
    sizes = [1000] if args.quick else sorted(set(args.sizes))
    base = max([s for s in sizes if s <= BASE_SIZE], default=min(sizes, default=0))
    latency = args.latency_ms / 1000.0
    # Generated data is deterministic for (name, count, seed, now): pin "now" to today's UTC midnight.
    now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    machine = machine_line()
    print(f"machine: {machine}")
    print(
        f"fake GitHub: in-process thread, latency {args.latency_ms:g} ms/request, seed {args.seed}, "
        f"data 'now' {now:%Y-%m-%dT%H:%M:%SZ}, GraphQL limit {GRAPHQL_LIMIT}/h; sizes {sizes}, "
        f"incremental/window/resume/status on {base:,} PRs",
        flush=True,
    )

    generated = time.perf_counter()
    if args.owners_only:
        sizes = []
    repositories = {size: generate_repository(repo_name(size), size, seed=args.seed, now=now) for size in sizes}
    print(f"generated {sum(sizes):,} PRs in {time.perf_counter() - generated:.1f} s", flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="ghsync-bench-"))
    scenarios: list[Scenario] = []
    resume: dict[str, Any] = {}
    owner_info: dict[str, Any] = {}
    pairs: dict[str, list[float]] = {}
    try:
        with InstrumentedFake(repositories.values(), latency=latency) as fake:
            runner = Runner(workdir, fake.url)
            print(f"ghsync command: {runner.command_text}", flush=True)
            compile_bytecode()
            if args.owners or args.owners_only:
                owner_runs, owner_info = owner_scenarios(
                    fake, runner, workdir, seed=args.seed, now=now, latency=latency
                )
                scenarios += owner_runs

            if not args.owners_only:
                # 1. initial full-history syncs
                full: dict[int, Scenario] = {}
                for size in sizes:
                    fake.refill()
                    full[size] = measured(
                        fake,
                        runner,
                        f"initial full sync ({size:,})",
                        ["track", repo_name(size), "--days", "all"],
                        db=workdir / f"full-{size}.db",
                        repo_size=size,
                        prs_needed=size,
                        floor=floor_points(size),
                        latency=latency,
                    )
                    scenarios.append(full[size])
                if 1000 in repositories:
                    fake.refill()
                    scenarios.append(
                        measured(
                            fake,
                            runner,
                            "bare GraphQL client, same pages (1,000)",
                            [repo_name(1000)],
                            db=workdir / "bare.db",
                            repo_size=1000,
                            prs_needed=1000,
                            floor=None,
                            latency=latency,
                            count_stored=False,
                            command=[sys.executable, "-c", BARE_CLIENT],
                        )
                    )
                if 1000 in repositories:
                    print(f"wall pairs: {WALL_PAIRS} interleaved rounds on {repo_name(1000)}", flush=True)
                    pairs = wall_pairs(fake, runner, workdir, repo_name(1000), WALL_PAIRS)
                base_db = workdir / f"full-{base}.db"
                base_repo = repositories[base]

                # 2. --days 60 window on the base repository (before anything is touched)
                fake.refill()
                since = iso(time.time() - WINDOW_DAYS * 86400)
                in_window = sum(1 for pr in base_repo.pull_requests if pr.updated_at >= since)
                scenarios.append(
                    measured(
                        fake,
                        runner,
                        f"--days {WINDOW_DAYS} window sync ({base:,})",
                        ["track", repo_name(base), "--days", str(WINDOW_DAYS)],
                        db=workdir / f"window-{base}.db",
                        repo_size=base,
                        prs_needed=in_window,
                        floor=floor_points(in_window),
                        latency=latency,
                    )
                )

                # 3. resume after a rate-limit stop: budget for about half the pages, then refill
                resume_db = workdir / f"resume-{base}.db"
                half = floor_points(base) // 2
                fake.refill()
                fake.fake.set_remaining("graphql", MIN_REMAINING + half)
                # `ghsync track` should stop here with exit 75. Should it instead sleep until the reset
                # (an hour away), the benchmark presses Ctrl-C once it says so, and the resume still runs.
                stopped = measured(
                    fake,
                    runner,
                    f"resume: stopped at threshold ({base:,})",
                    ["track", repo_name(base), "--days", "all", "--min-remaining", str(MIN_REMAINING)],
                    db=resume_db,
                    repo_size=base,
                    prs_needed=0,
                    floor=None,
                    latency=latency,
                    expected_exit=75,
                    interrupt_on=WAITING_MARKER,
                    timeout=CHILD_TIMEOUT_SECONDS,
                )
                stopped.notes.append(f"GraphQL remaining set to {MIN_REMAINING + half} (threshold {MIN_REMAINING})")
                if stopped.exit_code != 75 and stopped.interrupted:
                    stopped.notes.append(
                        "`ghsync track` did not exit 75 at the threshold: it slept until the rate-limit reset "
                        "(cli.track always passes on_wait; only `sync` drops it without --wait); Ctrl-C'd while waiting"
                    )
                scenarios.append(stopped)
                fake.refill()
                resumed = measured(
                    fake,
                    runner,
                    f"resume: `ghsync sync` after refill ({base:,})",
                    ["sync", "--min-remaining", str(MIN_REMAINING)],
                    db=resume_db,
                    repo_size=base,
                    prs_needed=0,
                    floor=None,
                    latency=latency,
                )
                scenarios.append(resumed)
                reference = full[base]
                resume = {
                    "repo_size": base,
                    "stopped_points": stopped.points,
                    "resumed_points": resumed.points,
                    "total_points": stopped.points + resumed.points,
                    "uninterrupted_points": reference.points,
                    "extra_points": stopped.points + resumed.points - reference.points,
                    "stopped_prs": stopped.prs_returned,
                    "resumed_prs": resumed.prs_returned,
                    "total_prs": stopped.prs_returned + resumed.prs_returned,
                    "uninterrupted_prs": reference.prs_returned,
                    "refetched_prs": stopped.prs_returned + resumed.prs_returned - reference.prs_returned,
                    "stored_after_stop": stopped.prs_stored,
                    "stored_after_resume": resumed.prs_stored,
                    "stopped_exit": stopped.exit_code,
                    "stopped_interrupted": stopped.interrupted,
                    "total_wall_s": stopped.wall_s + resumed.wall_s,
                    "uninterrupted_wall_s": reference.wall_s,
                }

                # 4. incremental, nothing changed
                fake.refill()
                scenarios.append(
                    measured(
                        fake,
                        runner,
                        f"incremental, nothing changed ({base:,})",
                        ["sync"],
                        db=base_db,
                        repo_size=base,
                        prs_needed=0,
                        floor=floor_points(0),
                        latency=latency,
                    )
                )

                # 5. incremental after 1% of PRs changed
                changed = max(1, base // 100)
                rng = random.Random(f"bench-touch:{args.seed}")
                for number in rng.sample(range(1, base + 1), changed):
                    fake.fake.touch_pull_request(repo_name(base), number)
                fake.refill()
                scenarios.append(
                    measured(
                        fake,
                        runner,
                        f"incremental, 1% changed ({changed:,} of {base:,})",
                        ["sync"],
                        db=base_db,
                        repo_size=base,
                        prs_needed=changed,
                        floor=floor_points(changed),
                        latency=latency,
                    )
                )

                # 6. cold starts (no GitHub involved)
                scenarios.append(
                    cold_start(
                        runner,
                        f"`ghsync status` cold start ({base:,} PRs in DB)",
                        ["status"],
                        db=base_db,
                        runs=COLD_START_RUNS,
                    )
                )
                scenarios.append(
                    cold_start(runner, "`ghsync --help` cold start", ["--help"], db=None, runs=COLD_START_RUNS)
                )

                # 7. metrics over many repositories (issue 12): 50,000 PRs in 20 repositories
                metrics_prs = 1000 if args.quick else args.metrics_prs
                repos = team_repositories(metrics_prs, args.seed, now)
                scenarios.extend(metrics_scenarios(fake, runner, workdir, repos))
    finally:
        if args.keep:
            print(f"databases kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    return {
        "machine": machine,
        "config": {
            "sizes": sizes,
            "base_size": base,
            "latency_ms": args.latency_ms,
            "seed": args.seed,
            "quick": args.quick,
            "data_now": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "graphql_limit": GRAPHQL_LIMIT,
            "page_size_with_head": cheapest_page_size(extra_connections=1, limit=MAX_PAGE_SIZE),
            "ghsync_command": ghsync_command()[1],
        },
        "scenarios": scenarios,
        "resume": resume,
        "owners": owner_info,
        "wall_pairs": pairs,
    }


# ------------------------------------------------------------------------------------------------
# another build, run against the same fake (--versus)

VERSUS_ROUNDS = 3


def run_versus(args: argparse.Namespace) -> int:
    """Each size's `track --days all` by this ghsync and by another build (`--versus PATH`: that build's
    console script, e.g. an older checkout's `.venv/bin/ghsync`), alternating round by round against the
    same fake, and the medians side by side. Single runs drift by 10-50 % on a shared machine: only
    interleaved rounds compare two builds fairly."""
    other = args.versus.resolve()
    if not (other.is_file() and os.access(other, os.X_OK)):
        raise SystemExit(f"--versus: {other} is not an executable (give another build's console script)")
    print(f"machine: {machine_line()}")
    print(f"this build: {ghsync_command()[1]}\nother build: {other}", flush=True)
    compile_other_build(other)
    builds = {"this build": None, "other build": [str(other)]}
    runs = versus_runs(args, builds)
    columns = ["PRs", "build", "points", "wall s", "CPU s", "of which sys s", "peak RSS MB"]
    rows = []
    for (size, label), children in runs.items():
        rows.append(
            [
                f"{size:,}",
                label,
                f"{statistics.median(points for _, points in children):g}",
                f"{statistics.median(c.wall_s for c, _ in children):.2f}",
                f"{statistics.median(c.cpu_s for c, _ in children):.2f}",
                f"{statistics.median(c.sys_s for c, _ in children):.2f}",
                f"{statistics.median(c.peak_rss_mb for c, _ in children):.1f}",
            ]
        )
    print(f"\nmedians of {args.versus_rounds} interleaved rounds:")
    print(markdown_lines(columns, rows) if args.markdown else text_lines(columns, rows))
    return 0


def compile_other_build(script: Path) -> None:
    """Byte-compile the other build's ghsync with its own interpreter (the script's #! line), as
    compile_bytecode does this one's: else, with PYTHONDONTWRITEBYTECODE set, it would compile from
    source at every start and look slower than it is."""
    first_line = script.read_bytes().split(b"\n", 1)[0].decode(errors="replace")
    interpreter = first_line[2:].strip() if first_line.startswith("#!") else ""
    if not interpreter or not Path(interpreter).is_file():
        print(f"other build: no interpreter on its #! line; compile it yourself ({first_line!r})", flush=True)
        return
    code = (
        "import compileall, ghsync, pathlib; compileall.compile_dir(str(pathlib.Path(ghsync.__file__).parent), quiet=1)"
    )
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    subprocess.run([interpreter, "-c", code], env=env, check=True)


def versus_runs(
    args: argparse.Namespace, builds: dict[str, list[str] | None]
) -> dict[tuple[int, str], list[tuple[Child, int]]]:
    """Every round's child and points, by (size, build), the builds alternating within each round."""
    sizes = sorted(set(args.sizes))
    now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    repositories = [generate_repository(repo_name(size), size, seed=args.seed, now=now) for size in sizes]
    workdir = Path(tempfile.mkdtemp(prefix="ghsync-versus-"))
    runs: dict[tuple[int, str], list[tuple[Child, int]]] = {}
    try:
        with InstrumentedFake(repositories, latency=args.latency_ms / 1000.0) as fake:
            runner = Runner(workdir, fake.url)
            compile_bytecode()
            for size in sizes:
                for round_number in range(args.versus_rounds):
                    # Each build goes first in every other round: neither always runs on a warmer machine.
                    order = list(builds.items())
                    for label, command in order if round_number % 2 == 0 else reversed(order):
                        fake.refill()
                        db = workdir / f"versus-{size}-{round_number}-{label.split()[0]}.db"
                        before = fake.snapshot()["graphql_points"]
                        child = runner.run(["track", repo_name(size), "--days", "all"], db=db, command=command)
                        if child.exit_code != 0:
                            raise RuntimeError(f"{label} exited {child.exit_code}: {_last_lines(child.stderr_tail)}")
                        points = int(fake.snapshot()["graphql_points"] - before)
                        runs.setdefault((size, label), []).append((child, points))
                        db.unlink(missing_ok=True)
                        print(
                            f"  {size:>7,} PRs  {label:<11}  round {round_number + 1}: wall {child.wall_s:6.2f} s  "
                            f"CPU {child.cpu_s:6.2f} s (sys {child.sys_s:4.2f})  RSS {child.peak_rss_mb:5.1f} MB  "
                            f"{points} pts",
                            flush=True,
                        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return runs


# ------------------------------------------------------------------------------------------------
# targets and reports


def run_metrics_only(args: argparse.Namespace) -> dict[str, Any]:
    """Only scenario 7 (`--metrics-only`): `ghsync metrics` over --metrics-prs PRs in 20 repositories."""
    latency = args.latency_ms / 1000.0
    now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    machine = machine_line()
    print(f"machine: {machine}")
    repositories = team_repositories(args.metrics_prs, args.seed, now)
    workdir = Path(tempfile.mkdtemp(prefix="ghsync-bench-"))
    try:
        with InstrumentedFake([], latency=latency) as fake:
            runner = Runner(workdir, fake.url)
            compile_bytecode()
            scenarios = metrics_scenarios(fake, runner, workdir, repositories)
    finally:
        if args.keep:
            print(f"databases kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return {
        "machine": machine,
        "config": {
            "sizes": [],
            "metrics_prs": args.metrics_prs,
            "page_size_with_head": cheapest_page_size(extra_connections=1, limit=MAX_PAGE_SIZE),
            "latency_ms": args.latency_ms,
            "seed": args.seed,
            "quick": args.quick,
            "data_now": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "graphql_limit": GRAPHQL_LIMIT,
            "ghsync_command": ghsync_command()[1],
        },
        "scenarios": scenarios,
        "resume": {},
    }


def evaluate_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    scenarios: list[Scenario] = result["scenarios"]
    latency_ms = result["config"]["latency_ms"]
    targets: list[dict[str, Any]] = []

    def add(name: str, value: str, limit: str, verdict: str | None) -> None:
        targets.append({"target": name, "measured": value, "limit": limit, "verdict": verdict or "n/a"})

    for s in scenarios:
        if s.floor is None or not s.ok:
            continue
        within = s.ratio is not None and s.ratio <= 1 + POINTS_TOLERANCE
        per_k = f"{s.points_per_1k:.1f} pts/1k PRs, " if s.points_per_1k is not None else ""
        add(
            f"points vs floor: {s.name}",
            f"{per_k}{s.points} pts = {s.ratio:.3f} x floor {s.floor}",
            f"<= {1 + POINTS_TOLERANCE:.2f} x floor",
            "PASS" if within else "MISS",
        )

    one_k = next((s for s in scenarios if s.name.startswith("initial full sync") and s.repo_size == 1000), None)
    pairs = result.get("wall_pairs") or {}
    if pairs:
        ours = statistics.median(pairs["ghsync"])
        for label in ("bare client (requests)", "bare client (PyGithub)"):
            theirs = statistics.median(pairs[label])
            add(
                f"wall, 1,000-PR initial sync vs a {label} (medians of {len(pairs[label])} interleaved rounds)",
                f"{ours:.2f} s / {theirs:.2f} s = {ours / theirs:.2f}x",
                f"<= {BARE_RATIO:g}x",
                "PASS" if ours / theirs <= BARE_RATIO else "MISS",
            )
    if one_k is not None:
        note = "" if latency_ms == 20 else f" (at {latency_ms:g} ms, target is defined at 20 ms)"
        add(
            "wall time, 1,000-PR initial sync" + note,
            f"{one_k.wall_s:.2f} s",
            f"< {WALL_1K_SECONDS:g} s",
            "PASS" if one_k.wall_s < WALL_1K_SECONDS else "MISS",
        )
    for s in scenarios:
        if s.name.startswith("initial full sync") and s.ok:
            budget = CPU_PER_10K_SECONDS * max(1.0, s.repo_size / 10_000)
            add(
                f"ghsync CPU, {s.name}",
                f"{s.cpu_s:.3f} s = {10_000 * s.cpu_s / s.repo_size:.2f} s per 10k PRs",
                f"< {budget:g} s: 2 s per 10k PRs, never less than 2 s",
                "PASS" if s.cpu_s < budget else "MISS",
            )
    big = [s for s in scenarios if s.name.startswith("initial full sync") and s.repo_size >= 50_000]
    if big:
        for s in big:
            add(
                f"peak RSS, {s.name}",
                f"{s.peak_rss_mb:.1f} MB",
                f"<= {RSS_50K_MB:g} MB",
                "PASS" if s.peak_rss_mb <= RSS_50K_MB else "MISS",
            )
    elif any(s.name.startswith("initial full sync") for s in scenarios):
        largest = max((s for s in scenarios if s.name.startswith("initial full sync")), key=lambda s: s.repo_size)
        add(
            f"peak RSS at 50,000 PRs (not run; {largest.name}: {largest.peak_rss_mb:.1f} MB)",
            "—",
            f"<= {RSS_50K_MB:g} MB",
            None,
        )
    status = next((s for s in scenarios if s.name.startswith("`ghsync status`")), None)
    if status is not None:
        add(
            "`ghsync status` cold start (median)",
            f"{status.wall_s:.3f} s",
            f"< {STATUS_COLD_SECONDS:g} s",
            "PASS" if status.wall_s < STATUS_COLD_SECONDS and status.ok else "MISS",
        )
    for s in scenarios:
        if s.name.startswith("`ghsync metrics"):
            scale = "" if "50,000 PRs" in s.name else " (target defined at 50,000 PRs in 20 repos)"
            add(
                f"{s.name} (median){scale}",
                f"{s.wall_s:.3f} s",
                f"< {METRICS_SECONDS:g} s",
                "PASS" if s.wall_s < METRICS_SECONDS and s.ok else "MISS",
            )
    for s in scenarios:
        if not s.ok and not s.name.startswith("resume: stopped"):  # that one has its own line below
            add(f"exit code: {s.name}", str(s.exit_code), str(s.expected_exit), "MISS")
    owners = result.get("owners") or {}
    for s in scenarios:
        if not s.name.startswith("owner: ") or not s.ok:
            continue
        if "track" in s.name:
            limit = owners["track_limit"]
            add(
                f"points, {s.name}",
                f"{s.points} pts for {owners['prs']:,} PRs ({owners['pages']} pages of {owners['page']})",
                f"<= {limit:.1f} = {ORG_TRACK_SLACK} x {owners['pages']} + {-(-owners['repositories'] // 100)} + 2",
                "PASS" if s.points <= limit else "MISS",
            )
        elif "nothing changed" in s.name:
            add(
                f"points, {s.name}",
                f"{s.points} pts",
                f"<= {ORG_NOTHING_POINTS}",
                "PASS" if s.points <= ORG_NOTHING_POINTS else "MISS",
            )
            add(
                f"requests, {s.name}",
                f"{s.graphql_requests + s.rest_calls + s.rate_limit_calls} requests",
                f"<= {ORG_NOTHING_REQUESTS}",
                "PASS" if s.graphql_requests + s.rest_calls + s.rate_limit_calls <= ORG_NOTHING_REQUESTS else "MISS",
            )
            add(
                f"wall, {s.name}",
                f"{s.wall_s:.2f} s",
                f"<= {ORG_NOTHING_WALL:g} s",
                "PASS" if s.wall_s <= ORG_NOTHING_WALL else "MISS",
            )
        else:
            add(
                f"points, {s.name}",
                f"{s.points} pts",
                f"<= {ORG_CHANGED_POINTS}",
                "PASS" if s.points <= ORG_CHANGED_POINTS else "MISS",
            )
    resume = result.get("resume") or {}
    if resume:
        how = " (Ctrl-C'd while sleeping until the reset)" if resume["stopped_interrupted"] else ""
        add(
            "resume: `ghsync track` exits 75 at the threshold",
            f"exit {resume['stopped_exit']}{how}",
            "exit 75",
            "PASS" if resume["stopped_exit"] == 75 else "MISS",
        )
        add(
            "resume: PRs re-fetched vs uninterrupted",
            f"{resume['refetched_prs']:+,} PRs, {resume['extra_points']:+} points",
            "informational",
            None,
        )
    return targets


def _fmt(value: float | None, spec: str, empty: str = "—") -> str:
    return empty if value is None else format(value, spec)


COLUMNS = (
    "Scenario",
    "Exit",
    "PRs needed",
    "PRs returned",
    "GraphQL req",
    "Points",
    "Floor",
    "× floor",
    "Pts/1k PRs",
    "REST",
    "Wall s",
    "CPU s",
    "Peak RSS MB",
    "Fake s",
    "Latency s",
)


def table_rows(result: dict[str, Any]) -> list[list[str]]:
    rows = []
    for s in result["scenarios"]:
        cold = s.name.endswith("cold start") or "cold start (" in s.name
        ratio = s.ratio
        ratio_text = "—"
        if ratio is not None:
            ratio_text = f"{ratio:.3f} " + ("PASS" if ratio <= 1 + POINTS_TOLERANCE else "MISS")
        wall = f"{s.wall_s:.3f}" if cold else f"{s.wall_s:.2f}"
        if s.name.startswith("initial full sync") and s.repo_size == 1000:
            wall += " PASS" if s.wall_s < WALL_1K_SECONDS else " MISS"
        if s.name.startswith("`ghsync status`"):
            wall += " PASS" if s.wall_s < STATUS_COLD_SECONDS else " MISS"
        cpu = f"{s.cpu_s:.3f}" if cold or s.name.startswith("initial full sync") else f"{s.cpu_s:.2f}"
        if s.name.startswith("initial full sync"):
            cpu += " PASS" if s.cpu_s < CPU_PER_10K_SECONDS * max(1.0, s.repo_size / 10_000) else " MISS"
        rss = f"{s.peak_rss_mb:.1f}"
        if s.name.startswith("initial full sync") and s.repo_size >= 50_000:
            rss += " PASS" if s.peak_rss_mb <= RSS_50K_MB else " MISS"
        rows.append(
            [
                s.name + (" (median of 5)" if cold else ""),
                str(s.exit_code),
                "—" if cold or (s.floor is None and not s.prs_needed) else f"{s.prs_needed:,}",
                "—" if cold else f"{s.prs_returned:,}",
                "—" if cold else str(s.graphql_requests),
                "—" if cold else str(s.points),
                _fmt(s.floor, "d"),
                ratio_text,
                _fmt(s.points_per_1k, ".1f"),
                "—" if cold else str(s.rest_calls),
                wall,
                cpu,
                rss,
                "—" if cold else f"{s.server_s:.2f}",
                "—" if cold else f"{s.latency_s:.2f}",
            ]
        )
    return rows


def markdown_table(result: dict[str, Any]) -> str:
    return markdown_lines(list(COLUMNS), table_rows(result))


def text_table(result: dict[str, Any]) -> str:
    return text_lines(list(COLUMNS), table_rows(result))


def markdown_lines(columns: list[str], rows: list[list[str]]) -> str:
    """A Markdown table: the first column left-aligned, the figures right-aligned."""
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(columns))) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def text_lines(columns: list[str], rows: list[list[str]]) -> str:
    table = [columns, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
    out = []
    for index, row in enumerate(table):
        out.append("  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)))
        if index == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def resume_text(resume: dict[str, Any]) -> str:
    if not resume:
        return ""
    return (
        f"Resume after a rate-limit stop ({resume['repo_size']:,} PRs): stopped run {resume['stopped_points']} pts / "
        f"{resume['stopped_prs']:,} PRs (exit {resume['stopped_exit']}"
        f"{', Ctrl-C while waiting for the reset' if resume['stopped_interrupted'] else ''}, "
        f"{resume['stored_after_stop']} stored), "
        f"resumed run {resume['resumed_points']} pts / {resume['resumed_prs']:,} PRs; total {resume['total_points']} pts / "
        f"{resume['total_prs']:,} PRs vs uninterrupted {resume['uninterrupted_points']} pts / "
        f"{resume['uninterrupted_prs']:,} PRs → re-fetched {resume['refetched_prs']:+,} PRs, "
        f"{resume['extra_points']:+} points; wall {resume['total_wall_s']:.2f} s vs {resume['uninterrupted_wall_s']:.2f} s."
    )


def floor_text(result: dict[str, Any]) -> str:
    size = result["config"]["page_size_with_head"]
    sizes = sorted({s.prs_needed for s in result["scenarios"] if s.floor is not None})
    parts = ", ".join(f"floor_points({n:,}) = {floor_points(n)}" for n in sizes)
    return (
        f"Cost-formula floor for the fields fetched (ghsync.github.graphql.floor_points): {size} PRs per 1-point page "
        f"→ {1000 / size:.1f} pts per 1,000 PRs asymptotically; {parts}."
    )


def fake_bottleneck_text(result: dict[str, Any]) -> str:
    lines = []
    for s in result["scenarios"]:
        if not s.name.startswith("initial full sync") or not s.graphql_requests:
            continue
        other = s.wall_s - s.server_s - s.latency_s
        lines.append(
            f"  {s.name}: wall {s.wall_s:.2f} s = fake processing {s.server_s:.2f} s ({100 * s.server_s / s.wall_s:.0f}%, "
            f"{1000 * s.server_s / s.graphql_requests:.1f} ms/GraphQL request, {s.server_cpu_s:.2f} s thread CPU) "
            f"+ latency {s.latency_s:.2f} s ({100 * s.latency_s / s.wall_s:.0f}%) + ghsync & transport {other:.2f} s "
            f"({100 * other / s.wall_s:.0f}%; ghsync CPU {s.cpu_s:.2f} s)"
        )
    return "Where the wall time of the initial syncs goes:\n" + "\n".join(lines) if lines else ""


def to_json(result: dict[str, Any], targets: list[dict[str, Any]]) -> dict[str, Any]:
    scenarios = []
    for s in result["scenarios"]:
        row = asdict(s)
        row.update(ratio_to_floor=s.ratio, points_per_1k_prs=s.points_per_1k)
        scenarios.append(row)
    return {**result, "scenarios": scenarios, "targets": targets}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Benchmark ghsync against the bundled fake GitHub (real subprocesses).")
    p.add_argument(
        "--sizes",
        type=lambda text: [int(part.replace("_", "")) for part in text.split(",") if part.strip()],
        default=[1000, 10_000, 50_000],
        help="repository sizes in PRs, comma-separated (default 1000,10000,50000)",
    )
    p.add_argument("--latency-ms", type=float, default=20.0, help="the fake's latency per request (default 20)")
    p.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    p.add_argument("--quick", action="store_true", help="1,000 PRs only, every scenario on it (well under a minute)")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    p.add_argument("--markdown", action="store_true", help="print the results table as Markdown (for the README)")
    p.add_argument("--keep", action="store_true", help="keep the temporary databases")
    p.add_argument(
        "--owners",
        action="store_true",
        help=f"also run the owner scenarios ({ORG_REPOSITORIES} repositories, issue #13)",
    )
    p.add_argument("--owners-only", action="store_true", help="run only the owner scenarios")
    p.add_argument(
        "--metrics-prs",
        type=int,
        default=50_000,
        help="PRs (in 20 repositories) for the `ghsync metrics` scenario (default 50000)",
    )
    p.add_argument("--metrics-only", action="store_true", help="run only the `ghsync metrics` scenario")
    p.add_argument(
        "--versus",
        type=Path,
        metavar="GHSYNC",
        help="only compare each size's initial sync with another build's console script, interleaved",
    )
    p.add_argument(
        "--versus-rounds",
        type=int,
        default=VERSUS_ROUNDS,
        metavar="N",
        help=f"rounds per build with --versus (default {VERSUS_ROUNDS})",
    )
    args = p.parse_args(argv)
    if not args.sizes or any(size < 1 for size in args.sizes):
        p.error("--sizes needs positive integers")
    if args.versus_rounds < 1:
        p.error("--versus-rounds needs a positive integer")
    if args.versus is not None:
        ignored = [
            flag
            for flag, given in (
                ("--quick", args.quick),
                ("--json", args.json),
                ("--keep", args.keep),
                ("--metrics-only", args.metrics_only),
                ("--owners", args.owners),
                ("--owners-only", args.owners_only),
            )
            if given
        ]
        if ignored:
            p.error(f"--versus runs only the comparison: drop {', '.join(ignored)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.versus is not None:
        return run_versus(args)
    started = time.perf_counter()
    result = run(args)
    targets = evaluate_targets(result)
    print()
    print(f"machine: {result['machine']}")
    print(
        f"latency {args.latency_ms:g} ms/request, seed {args.seed}; ghsync run as: {result['config']['ghsync_command']}"
    )
    print()
    print(markdown_table(result) if args.markdown else text_table(result))
    print()
    print(floor_text(result))
    if result["resume"]:
        print(resume_text(result["resume"]))
    text = fake_bottleneck_text(result)
    if text:
        print(text)
    notes = [(s.name, note) for s in result["scenarios"] for note in s.notes]
    if notes:
        print("Notes:")
        for name, note in notes:
            print(f"  {name}: {note}")
    print()
    print("Targets:")
    width = max(len(t["target"]) for t in targets)
    for t in targets:
        print(f"  {t['verdict']:<4}  {t['target']:<{width}}  {t['measured']}  (target {t['limit']})")
    print(f"\nbenchmark took {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(to_json(result, targets), indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0 if all(s.ok for s in result["scenarios"]) else 1


if __name__ == "__main__":
    sys.exit(main())
