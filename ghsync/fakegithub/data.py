"""The fake GitHub's data: plain dataclasses, a deterministic generator and a loader for recorded data.

Times are GitHub's ISO-8601 UTC text with whole seconds (``2026-03-04T05:06:07Z``); they compare
correctly as strings, which the server relies on. ``author=None`` (and ``merged_by=None``, a review's
``author=None``) is a deleted ("ghost") account: GraphQL answers ``null`` for it.

`generate_repository` makes a repository that looks like a real, busy one, including the cases
naive clients get wrong (ghosts, bots, drafts, unicode and 256-character titles, a PR with 150
reviews, self-reviews, PENDING reviews without ``submitted_at``, many labels, huge and tiny PRs).
`load_dataset` reads the recorded datasets in ``shared/github/real`` (see its README) as they are.
"""

from __future__ import annotations

import json
import math
import random
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path

__all__ = [
    "FakePullRequest",
    "FakeRepository",
    "FakeReview",
    "generate_repository",
    "iso",
    "load_dataset",
    "parse_iso",
]

REVIEW_STATES = ("APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING")
PR_STATES = ("OPEN", "CLOSED", "MERGED")


@dataclass
class FakeReview:
    author: str | None
    state: str
    # None for a PENDING review (GitHub has no submission time for it yet).
    submitted_at: str | None
    author_is_bot: bool = False
    # GitHub's review id; 0 means "let the server assign one" (it does when it is given the data).
    database_id: int = 0


@dataclass
class FakePullRequest:
    number: int
    title: str
    state: str  # OPEN | CLOSED | MERGED
    is_draft: bool
    author: str | None
    author_is_bot: bool
    created_at: str
    updated_at: str
    closed_at: str | None
    merged_at: str | None
    merged_by: str | None
    additions: int | None
    deletions: int | None
    changed_files: int | None
    commits: int | None
    base_ref: str
    head_ref: str
    labels: list[str] = field(default_factory=list)
    reviews: list[FakeReview] = field(default_factory=list)
    # 0 means "let the server assign one".
    database_id: int = 0
    # The first commit's authoredDate (None: the PR's created_at); later commits carry created_at.
    first_commit_at: str | None = None


@dataclass
class FakeRepository:
    owner: str
    name: str
    pull_requests: list[FakePullRequest] = field(default_factory=list)
    database_id: int = 0
    # Optional extras: when the repository was created, and a recorded dataset's "now".
    created_at: str | None = None
    now: str | None = None
    # What `repositoryOwner { repositories(isArchived:, isFork:) }` filters on.
    is_archived: bool = False
    is_fork: bool = False

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass
class FakeTeam:
    """A team of an organization: its slug, display name and member logins (all Users)."""

    organization: str
    slug: str
    members: list[str] = field(default_factory=list)
    name: str = ""

    @property
    def combined_slug(self) -> str:
        return f"{self.organization}/{self.slug}"


def generate_teams(repository: FakeRepository, *, size: int = 5, count: int = 3) -> list[FakeTeam]:
    """Teams of the repository's owner made of its human PR authors, `size` each, in login order
    (deterministic: the same repository always gives the same teams)."""
    humans = sorted({pr.author for pr in repository.pull_requests if pr.author is not None and not pr.author_is_bot})
    return [
        FakeTeam(repository.owner, f"team-{index + 1}", humans[index * size : (index + 1) * size], f"Team {index + 1}")
        for index in range(count)
        if humans[index * size : (index + 1) * size]
    ]


# --------------------------------------------------------------------------------------------
# time helpers


def iso(ts: float) -> str:
    """Epoch seconds -> ``YYYY-MM-DDTHH:MM:SSZ`` (truncated to whole seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(ts)))


def parse_iso(text: str) -> int:
    """GitHub's ISO-8601 text (``Z`` or an offset) -> epoch seconds."""
    t = text.strip()
    if t.endswith(("Z", "z")):
        t = t[:-1] + "+00:00"
    dt = datetime.fromisoformat(t)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())


def _split_full_name(full_name: str) -> tuple[str, str]:
    owner, sep, name = full_name.partition("/")
    if not sep or not owner or not name or "/" in name:
        raise ValueError(f"repository must look like 'owner/name', got {full_name!r}")
    return owner, name


def stable_id(text: str, lo: int = 1_000_000, span: int = 900_000_000) -> int:
    """A deterministic positive 32-bit id for a name."""
    return lo + zlib.crc32(text.encode("utf-8")) % span


# --------------------------------------------------------------------------------------------
# generator vocabulary

_FIRST = [
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "niaj",
    "olivia",
    "peggy",
    "rupert",
    "sybil",
    "trent",
    "victor",
    "walter",
    "yuki",
    "zoe",
    "amir",
    "bea",
    "chen",
    "dmitri",
    "elif",
    "farah",
    "goran",
    "hana",
    "ines",
    "jae",
    "kofi",
    "lena",
    "mateo",
    "noor",
    "oskar",
    "priya",
    "quinn",
    "ravi",
    "sana",
    "tomas",
    "uma",
    "vera",
    "wei",
    "xavier",
    "yara",
    "zane",
]
_SUFFIX = ("", "-dev", "42", "-gh", "x", "-oss", "2k", "-codes", "07", "-io")
_CASED = ("JaneDoe", "McFly", "TheRealKim", "DevOpsDan", "ZoeQ")

_HUMAN_BOTS = ("dependabot", "renovate", "github-actions")  # author_is_bot=True; no "[bot]" on GraphQL
_REVIEW_BOTS = ("copilot-pull-request-reviewer", "coderabbitai")

_VERBS = (
    "Add",
    "Fix",
    "Refactor",
    "Update",
    "Remove",
    "Improve",
    "Support",
    "Handle",
    "Document",
    "Rename",
    "Optimize",
    "Revert",
    "Clean up",
    "Migrate",
    "Simplify",
    "Harden",
)
_OBJECTS = (
    "login flow",
    "cache invalidation",
    "retry logic",
    "pagination",
    "CSV export",
    "dark mode",
    "webhook handler",
    "rate limiter",
    "search index",
    "billing page",
    "API client",
    "config loader",
    "unit tests",
    "CI pipeline",
    "README",
    "error messages",
    "date parsing",
    "i18n strings",
    "metrics dashboard",
    "session timeout",
    "flaky test",
    "memory leak",
    "connection pool",
    "feature flags",
    "audit log",
)
_COMPONENTS = ("api", "ui", "cli", "core", "db", "auth", "build", "docs", "sync", "worker")
_CC = ("feat", "fix", "chore", "docs", "refactor", "test", "perf", "ci")
_PACKAGES = (
    "lodash",
    "requests",
    "urllib3",
    "react",
    "typescript",
    "eslint",
    "pytest",
    "golang.org/x/net",
    "actions/checkout",
    "serde",
    "tokio",
    "webpack",
    "black",
    "django",
    "numpy",
)

_EMOJI_TITLES = (
    "🚀 Launch the new onboarding flow 🎉",
    "Fix 🐛 in 👩‍💻 profile page",
    "✨ feat: add ⭐ stars to repos",
    "🔥 Remove dead code 🧹",
    "Bump version 📦➡️📦",
    "🇯🇵 Add Japanese locale",
    "Handle emoji 😀 in commit messages",
)
_CJK_TITLES = (
    "修复登录页面的缓存问题",
    "ドキュメントの誤字を修正",
    "한국어 번역 추가",
    "优化 API 分页性能",
    "新增：导出 CSV 功能",
    "バグ修正：タイムゾーンの処理",
)
_RTL_TITLES = (
    "إصلاح خطأ في صفحة تسجيل الدخول",
    "תיקון באג בעמוד ההתחברות",
    "Fix RTL layout: עברית and English mixed",
    "إضافة دعم اللغة العربية",
)
_WEIRD_TITLES = (
    'Handle "quotes", \\backslashes\\ and <html> & entities',
    "Zero\u200bwidth space and non\u00a0breaking space",
    "Ümlaut, façade, naïve — and an en–dash",
    "'; DROP TABLE pull_requests; --",
)
_LABELS = (
    "bug",
    "enhancement",
    "documentation",
    "good first issue",
    "help wanted",
    "question",
    "wontfix",
    "duplicate",
    "dependencies",
    "security",
    "performance",
    "breaking change",
    "size/XS",
    "size/S",
    "size/M",
    "size/L",
    "size/XL",
    "area: api",
    "area: ui",
    "area: db",
    "priority: high",
    "priority: low",
    "needs-review",
    "🐛 bug",
    "✨ feature",
    "ci",
    "backport",
    "do-not-merge",
    "kind/cleanup",
    "lgtm",
    "approved",
    "triage/accepted",
    "release-note-none",
    "javascript",
    "python",
    "go",
)


def _long_title(rng: random.Random) -> str:
    base = (
        "Refactor the synchronisation engine so that pagination, retries and checkpointing "
        "share one state machine, and document every edge case we found along the way "
    )
    text = (base * 3)[:256]
    assert len(text) == 256
    return text


def _logins(rng: random.Random, n: int) -> list[str]:
    pool = [f + s for s in _SUFFIX for f in _FIRST]
    chosen = list(_CASED[: max(1, n // 60)]) + rng.sample(pool, min(n, len(pool)))
    return chosen[:n] if n > 0 else []


def _pick_weighted(rng: random.Random, items: list[str], cum: list[float]) -> str:
    # rng.choices with precomputed cum_weights is fast and deterministic
    return rng.choices(items, cum_weights=cum, k=1)[0]


_SPECIALS = (
    "reviews150",
    "ghost_author",
    "dependabot",
    "renovate",
    "draft",
    "emoji",
    "cjk",
    "rtl",
    "long",
    "ghost_reviewer",
    "self_review",
    "many_labels",
    "pending",
    "dismissed",
    "changes_requested",
    "merged_by_ghost",
    "closed",
    "open_no_reviews",
    "xxl",
    "xs",
    "weird",
    "bot_reviewer",
    "github_actions",
    "draft_closed",
)


def generate_repository(
    full_name: str,
    count: int,
    *,
    seed: int = 1,
    now: datetime | None = None,
    span_days: int = 730,
) -> FakeRepository:
    """A realistic repository with PRs #1..#count, deterministic for (full_name, count, seed, now).

    PRs are created over the ``span_days`` before ``now`` (more of them recently) and numbered in
    creation order. Every edge case in ``_SPECIALS`` gets its own PR (as many as ``count`` allows,
    in that priority order); the rest follow realistic distributions.
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    owner, name = _split_full_name(full_name)
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    now_ts = int(now.timestamp())
    span = max(1, int(span_days)) * 86400
    start_ts = now_ts - span
    rng = random.Random(f"ghsync-fakegithub:{full_name}:{count}:{seed}:{now_ts}:{span}")
    rnd = rng.random
    randrange = rng.randrange
    gauss = rng.gauss

    # ---- people
    n_people = max(5, min(300, int(math.sqrt(max(count, 1)) * 2.5)))
    people = _logins(rng, n_people)
    weights = [1.0 / (i + 1) ** 0.9 for i in range(len(people))]  # Zipf-ish: a few prolific authors
    cum: list[float] = []
    acc = 0.0
    for w in weights:
        acc += w
        cum.append(acc)
    maintainers = people[: max(2, min(6, len(people)))]

    # ---- creation times: more PRs recently (u ** 1.3 leans towards 0 = now)
    created = sorted(now_ts - 3600 - int((span - 3600) * rnd() ** 1.3) for _ in range(count))
    if count >= 2:
        created[0] = start_ts + randrange(86400)
        created[-1] = now_ts - randrange(3600, 2 * 86400)
        created.sort()

    # ---- special slots
    specials: dict[int, str] = {}
    kinds = list(_SPECIALS) if count >= 20 else list(_SPECIALS[1:])  # tiny repos skip the 150-review PR
    kinds = kinds[: min(len(kinds), count)]
    remaining = list(range(count))
    if kinds and kinds[0] == "reviews150":
        # The 150-review PR needs room: take it from the older half.
        slot150 = randrange(max(1, count // 2))
        specials[slot150] = kinds.pop(0)
        remaining.remove(slot150)
    for kind, idx in zip(kinds, rng.sample(remaining, len(kinds))):
        specials[idx] = kind

    repo_id = stable_id(full_name.lower(), 1_000_000, 400_000_000)
    pr_id_base = 500_000_000 + zlib.crc32(full_name.encode()) % 500_000_000
    prs: list[FakePullRequest] = []
    review_id = 1_500_000_000 + zlib.crc32(full_name[::-1].encode()) % 300_000_000
    recent_cut = now_ts - 14 * 86400

    for i in range(count):
        number = i + 1
        special = specials.get(i)
        c = created[i]
        # ---- author
        author: str | None
        author_is_bot = False
        r = rnd()
        if special == "ghost_author":
            author = None
        elif special in ("dependabot", "renovate", "github_actions"):
            author, author_is_bot = (
                {"dependabot": "dependabot", "renovate": "renovate", "github_actions": "github-actions"}[special],
                True,
            )
        elif special in ("self_review", "reviews150"):
            author = _pick_weighted(rng, people, cum)
        elif r < 0.015:
            author = None
        elif r < 0.085:
            author, author_is_bot = _HUMAN_BOTS[0 if r < 0.06 else (1 if r < 0.08 else 2)], True
        else:
            author = _pick_weighted(rng, people, cum)

        # ---- state
        r = rnd()
        if c >= recent_cut:
            state = "OPEN" if r < 0.45 else ("MERGED" if r < 0.85 else "CLOSED")
        else:
            state = "OPEN" if r < 0.06 else ("MERGED" if r < 0.80 else "CLOSED")
        if author_is_bot and state == "OPEN" and rnd() < 0.5:
            state = "CLOSED"  # superseded dependency bumps
        forced = {
            "reviews150": "MERGED",
            "merged_by_ghost": "MERGED",
            "draft": "OPEN",
            "pending": "OPEN",
            "open_no_reviews": "OPEN",
            "closed": "CLOSED",
            "draft_closed": "CLOSED",
        }.get(special or "")
        if forced:
            state = forced
        is_draft = (
            special in ("draft", "draft_closed")
            or (state == "OPEN" and special != "pending" and rnd() < 0.22)
            or (state == "CLOSED" and rnd() < 0.03)
        )

        # ---- closing time
        closed_ts: int | None = None
        if state != "OPEN":
            if special == "reviews150":
                min_d = min(20 * 86400, max(600, (now_ts - c) // 2))
                d = min_d + randrange(max(1, min_d // 2))
            else:
                d = int(math.exp(gauss(math.log(20 * 3600), 1.6)))
                d = max(45, min(d, 400 * 86400))
            if c + d > now_ts:
                if forced or c < recent_cut:
                    d = randrange(1, max(2, now_ts - c + 1))
                else:
                    state, d = "OPEN", 0
            if state != "OPEN":
                closed_ts = c + d
        if state == "MERGED":
            is_draft = False

        # ---- reviews
        if special == "reviews150":
            n_reviews = 150
        elif special in ("open_no_reviews", "draft"):
            n_reviews = 0
        elif special in ("ghost_reviewer", "self_review", "dismissed", "changes_requested", "bot_reviewer"):
            n_reviews = 2 + randrange(3)
        elif is_draft:
            n_reviews = 0 if rnd() < 0.85 else 1
        else:
            r = rnd()
            if r < 0.38:
                n_reviews = 0
            else:
                n_reviews = 1
                while n_reviews < 25 and rnd() < 0.45:
                    n_reviews += 1
        end = closed_ts if closed_ts is not None else now_ts
        times = sorted(c + randrange(max(1, end - c + 1)) for _ in range(n_reviews))
        reviews: list[FakeReview] = []
        for k, t in enumerate(times):
            rr = rnd()
            if rr < 0.55:
                rstate = "APPROVED"
            elif rr < 0.85:
                rstate = "COMMENTED"
            elif rr < 0.95:
                rstate = "CHANGES_REQUESTED"
            else:
                rstate = "DISMISSED"
            rb = rnd()
            rauthor: str | None
            rbot = False
            if rb < 0.01:
                rauthor = None
            elif rb < 0.04 and author is not None and not author_is_bot:
                rauthor, rstate = author, "COMMENTED"  # GitHub allows only comments on your own PR
            elif rb < 0.045:
                rauthor, rbot, rstate = _REVIEW_BOTS[randrange(2)], True, "COMMENTED"
            else:
                rauthor = _pick_weighted(rng, people, cum)
                if rauthor == author:
                    rstate = "COMMENTED"
            if (
                state == "MERGED"
                and k == len(times) - 1
                and rstate not in ("APPROVED",)
                and rnd() < 0.6
                and rauthor != author
            ):
                rstate = "APPROVED"
            reviews.append(FakeReview(rauthor, rstate, iso(t), rbot))
        if reviews:
            if special == "ghost_reviewer":
                reviews[0].author, reviews[0].author_is_bot = None, False
            elif special == "self_review" and author is not None:
                reviews[-1].author, reviews[-1].state, reviews[-1].author_is_bot = author, "COMMENTED", False
            elif special == "dismissed":
                reviews[0].state = "DISMISSED"
            elif special == "changes_requested":
                reviews[0].state = "CHANGES_REQUESTED"
                if reviews[0].author == author:
                    reviews[0].author = next(p for p in people if p != author)
            elif special == "bot_reviewer":
                reviews[0].author, reviews[0].author_is_bot, reviews[0].state = _REVIEW_BOTS[0], True, "COMMENTED"
        if special == "pending" or (state == "OPEN" and not is_draft and rnd() < 0.012):
            reviewer = _pick_weighted(rng, people, cum)
            reviews.append(FakeReview(reviewer, "PENDING", None, False))

        # ---- updated_at
        last_activity = max([c] + [t for t in times] + ([closed_ts] if closed_ts else []))
        if closed_ts is not None:
            if rnd() < 0.12:  # a later comment, label or reference bumps updated_at
                updated = last_activity + randrange(max(1, now_ts - last_activity + 1))
            else:
                updated = last_activity + randrange(0, 180)
        else:
            u = rnd()
            updated = last_activity + int((now_ts - last_activity) * (1 - u * u))
        updated = min(max(updated, last_activity), now_ts)

        # ---- merged_by
        merged_by: str | None = None
        if state == "MERGED":
            rm = rnd()
            if special == "merged_by_ghost" or rm < 0.015:
                merged_by = None
            elif rm < 0.12 and author is not None and not author_is_bot:
                merged_by = author
            else:
                merged_by = maintainers[randrange(len(maintainers))]

        # ---- title, refs, labels
        if special == "emoji":
            title = _EMOJI_TITLES[randrange(len(_EMOJI_TITLES))]
        elif special == "cjk":
            title = _CJK_TITLES[randrange(len(_CJK_TITLES))]
        elif special == "rtl":
            title = _RTL_TITLES[randrange(len(_RTL_TITLES))]
        elif special == "long":
            title = _long_title(rng)
        elif special == "weird":
            title = _WEIRD_TITLES[randrange(len(_WEIRD_TITLES))]
        elif author_is_bot:
            pkg = _PACKAGES[randrange(len(_PACKAGES))]
            a, b = randrange(1, 9), randrange(0, 30)
            if author == "dependabot":
                title = f"Bump {pkg} from {a}.{b}.0 to {a}.{b + 1}.0"
            elif author == "renovate":
                title = f"chore(deps): update dependency {pkg} to v{a + 1}"
            else:
                title = "[create-pull-request] automated change"
        else:
            rt = rnd()
            if rt < 0.02:
                title = _EMOJI_TITLES[randrange(len(_EMOJI_TITLES))]
            elif rt < 0.03:
                title = _CJK_TITLES[randrange(len(_CJK_TITLES))]
            elif rt < 0.035:
                title = _RTL_TITLES[randrange(len(_RTL_TITLES))]
            elif rt < 0.038:
                title = _long_title(rng)
            elif rt < 0.042:
                title = _WEIRD_TITLES[randrange(len(_WEIRD_TITLES))]
            else:
                body = f"{_VERBS[randrange(len(_VERBS))]} {_OBJECTS[randrange(len(_OBJECTS))]}"
                if rnd() < 0.5:
                    comp = _COMPONENTS[randrange(len(_COMPONENTS))]
                    title = f"{_CC[randrange(len(_CC))]}({comp}): {body[0].lower()}{body[1:]}"
                else:
                    title = body
                if rnd() < 0.05:
                    title += f" (#{randrange(1, number + 1)})"

        rbase = rnd()
        base_ref = "main" if rbase < 0.85 else ("develop" if rbase < 0.93 else f"release-1.{randrange(12)}")
        if author_is_bot:
            pkg = _PACKAGES[randrange(len(_PACKAGES))].replace("/", "-")
            head_ref = f"{author}/{pkg}-{randrange(1, 9)}.{randrange(30)}.0"
        else:
            rh = rnd()
            if rh < 0.08:
                head_ref = f"patch-{randrange(1, 4)}"  # fork PRs reuse these names
            elif rh < 0.12:
                head_ref = "main"
            elif rh < 0.6:
                head_ref = f"{(author or 'ghost').lower()}/{_COMPONENTS[randrange(len(_COMPONENTS))]}-{number}"
            else:
                head_ref = f"feature/{_OBJECTS[randrange(len(_OBJECTS))].replace(' ', '-').lower()}-{number}"

        if special == "many_labels":
            labels = rng.sample(_LABELS, 10 + randrange(6))
        elif author_is_bot:
            labels = ["dependencies"] + ([_LABELS[33 + randrange(3)]] if rnd() < 0.7 else [])
        else:
            rl = rnd()
            k = (
                0
                if rl < 0.4
                else 1
                if rl < 0.7
                else 2
                if rl < 0.88
                else 3 + randrange(2)
                if rl < 0.985
                else 10 + randrange(5)
            )
            labels = rng.sample(_LABELS, k) if k else []

        # ---- size: log-normal lines changed, XS..XXL
        if special == "xxl":
            total = 5000 + randrange(20000)
        elif special == "xs":
            total = 1
        elif author_is_bot:
            total = 2 + randrange(40)
        else:
            total = max(1, min(60000, int(math.exp(gauss(math.log(60), 1.7)))))
        frac = rnd() ** 0.6
        additions = round(total * frac)
        deletions = total - additions
        changed_files = max(1, min(3000, int(total / (8 + 60 * rnd())) + 1))
        commits = 1
        while commits < 40 and rnd() < 0.5:
            commits += 1
        if total > 2000 and rnd() < 0.3:
            commits += randrange(20, 120)

        for rv in reviews:
            rv.database_id = review_id
            review_id += 1 + randrange(3)

        prs.append(
            FakePullRequest(
                number=number,
                title=title,
                state=state,
                is_draft=is_draft,
                author=author,
                author_is_bot=author_is_bot,
                created_at=iso(c),
                updated_at=iso(updated),
                closed_at=iso(closed_ts) if closed_ts is not None else None,
                merged_at=iso(closed_ts) if state == "MERGED" and closed_ts is not None else None,
                merged_by=merged_by,
                additions=additions,
                deletions=deletions,
                changed_files=changed_files,
                commits=commits,
                base_ref=base_ref,
                head_ref=head_ref,
                labels=labels,
                reviews=reviews,
                database_id=pr_id_base + i * 8 + randrange(8),
                # Coding time: 0-71 h before the PR was opened, from a hash so the random stream is unchanged.
                first_commit_at=iso(c - stable_id(f"{owner}/{name}#{number}", 0, 72 * 3600)),
            )
        )

    return FakeRepository(
        owner=owner,
        name=name,
        pull_requests=prs,
        database_id=repo_id,
        created_at=iso(start_ts - 30 * 86400 - randrange(86400)),
        now=iso(now_ts),
    )


# --------------------------------------------------------------------------------------------
# recorded datasets


def load_dataset(path: str | PathLike[str]) -> FakeRepository:
    """Read a ``shared/github/real/*.json`` dataset, keeping every value (nulls included) as recorded.

    The files carry no database ids, so PRs get deterministic ones derived from the repository name
    and the PR number, and reviews get sequential ones in file order. Authors are recorded as plain
    logins, so ``author_is_bot`` is False everywhere (the file cannot say otherwise).
    """
    p = Path(path)
    doc = json.loads(p.read_text(encoding="utf-8"))
    owner, name = _split_full_name(doc["repo"])
    base = 500_000_000 + zlib.crc32(doc["repo"].encode()) % 500_000_000
    review_id = 1_500_000_000 + zlib.crc32(doc["repo"][::-1].encode()) % 300_000_000
    prs: list[FakePullRequest] = []
    for raw in doc["pull_requests"]:
        reviews = []
        for rv in raw.get("reviews") or []:
            reviews.append(FakeReview(rv["author"], rv["state"], rv["submitted_at"], False, review_id))
            review_id += 1
        prs.append(
            FakePullRequest(
                number=raw["number"],
                title=raw["title"],
                state=raw["state"],
                is_draft=raw["is_draft"],
                author=raw["author"],
                author_is_bot=False,
                created_at=raw["created_at"],
                updated_at=raw["updated_at"],
                closed_at=raw["closed_at"],
                merged_at=raw["merged_at"],
                merged_by=raw["merged_by"],
                additions=raw["additions"],
                deletions=raw["deletions"],
                changed_files=raw["changed_files"],
                commits=raw["commits"],
                base_ref=raw["base_ref"],
                head_ref=raw["head_ref"],
                labels=list(raw.get("labels") or []),
                reviews=reviews,
                database_id=base + int(raw["number"]),
            )
        )
    created = min((pr.created_at for pr in prs), default=doc.get("now"))
    return FakeRepository(
        owner=owner,
        name=name,
        pull_requests=prs,
        database_id=stable_id(doc["repo"].lower(), 1_000_000, 400_000_000),
        created_at=created,
        now=doc.get("now"),
    )
