"""Run the fake GitHub: ``python -m ghsync.fakegithub --repo demo/widgets:2000``.

Prints the base URL as the first stdout line, then serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from .data import generate_repository, load_dataset
from .server import FakeGitHub


def _repo_spec(text: str) -> tuple[str, int]:
    name, sep, count = text.rpartition(":")
    if not sep or "/" not in name:
        raise argparse.ArgumentTypeError(f"expected OWNER/NAME:COUNT, got {text!r}")
    try:
        n = int(count)
    except ValueError:
        raise argparse.ArgumentTypeError(f"COUNT must be an integer in {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"COUNT must be >= 0 in {text!r}")
    return name, n


def _token_spec(text: str) -> tuple[str, str]:
    token, sep, login = text.partition(":")
    if not sep or not token or not login:
        raise argparse.ArgumentTypeError(f"expected TOKEN:LOGIN, got {text!r}")
    return token, login


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ghsync.fakegithub", description="Serve a fake GitHub API locally.")
    p.add_argument(
        "--repo",
        action="append",
        type=_repo_spec,
        default=[],
        metavar="OWNER/NAME:COUNT",
        help="generate a repository with COUNT pull requests (repeatable)",
    )
    p.add_argument(
        "--dataset",
        action="append",
        default=[],
        metavar="PATH",
        help="serve a recorded dataset (shared/github/real/*.json; repeatable)",
    )
    p.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    p.add_argument("--latency-ms", type=float, default=0.0, help="sleep per request, milliseconds")
    p.add_argument("--fault-rate", type=float, default=0.0, help="probability of a 502/504/secondary-limit answer")
    p.add_argument("--fault-seed", type=int, default=0)
    p.add_argument(
        "--timeout-page-size",
        type=int,
        default=None,
        help="answer 502 to GraphQL pages whose pullRequests first/last exceeds this",
    )
    p.add_argument("--graphql-limit", type=int, default=5000)
    p.add_argument("--core-limit", type=int, default=5000)
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument(
        "--token",
        action="append",
        type=_token_spec,
        default=[],
        metavar="TOKEN:LOGIN",
        help="accept only these tokens (repeatable; default: any token, as octocat)",
    )
    p.add_argument(
        "--relax-nullability",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="serve nulls for additions/deletions/changedFiles/commits.totalCount "
        "(default: on when a --dataset is given)",
    )
    args = p.parse_args(argv)

    repos = [generate_repository(name, count, seed=args.seed) for name, count in args.repo]
    repos += [load_dataset(path) for path in args.dataset]
    relax = args.relax_nullability if args.relax_nullability is not None else bool(args.dataset)
    fake = FakeGitHub(
        repos,
        tokens=dict(args.token) or None,
        graphql_limit=args.graphql_limit,
        core_limit=args.core_limit,
        latency=args.latency_ms / 1000.0,
        fault_rate=args.fault_rate,
        fault_seed=args.fault_seed,
        timeout_page_size=args.timeout_page_size,
        relax_nullability=relax,
    )
    done = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    fake.start(args.port)
    try:
        sys.stdout.write(fake.url + "\n")
        sys.stdout.flush()
        sys.stderr.write(
            "serving "
            + ", ".join(f"{r.full_name} ({len(r.pull_requests)} PRs)" for r in repos)
            + (" — nothing" if not repos else "")
            + "; Ctrl-C to stop\n"
        )
        sys.stderr.flush()
        while not done.wait(0.5):
            pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
