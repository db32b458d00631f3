"""The fake's GraphQL layer: GitHub's schema (graphql-core) plus resolvers over `data` objects.

Resolution works through small view objects whose attribute and method names are the GraphQL field
names, so graphql-core's default resolver finds them (methods receive ``info`` and the arguments).
Abstract types (``Actor``, ``RepositoryOwner``, ``SearchResultItem``, ...) resolve through each
view's ``typename``.

Pagination follows GitHub: pull requests use keyset cursors (base64 of ``cursor:v2:`` + JSON
``[sort_value, database_id]``), so a page boundary stays put while other PRs change; reviews,
labels and commits use ``cursor:v2:[id]``; search uses offset cursors (``cursor:N``) and, like
GitHub, exposes at most 1,000 results (``issueCount`` is still exact).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
import zlib
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from graphql import GraphQLNonNull, GraphQLSchema, build_schema

from .cost import SCHEMA_PATH
from .data import FakePullRequest, FakeRepository, FakeReview, FakeTeam, iso, parse_iso, stable_id

if TYPE_CHECKING:  # pragma: no cover
    from .server import FakeGitHub

# The one deliberate deviation from GitHub's schema, only with relax_nullability=True: recorded
# datasets lack these values, so the fake serves null where GitHub's schema says non-null.
RELAXED_FIELDS: dict[str, tuple[str, ...]] = {
    "PullRequest": ("additions", "deletions", "changedFiles"),
    "PullRequestCommitConnection": ("totalCount",),  # PullRequest.commits { totalCount }
}

SEARCH_RESULT_LIMIT = 1000


@lru_cache(maxsize=2)
def build_fake_schema(relax_nullability: bool = False) -> GraphQLSchema:
    """GitHub's schema subset, verbatim; with `relax_nullability`, RELAXED_FIELDS become nullable."""
    schema = build_schema(SCHEMA_PATH.read_text(encoding="utf-8"))
    if relax_nullability:
        for type_name, names in RELAXED_FIELDS.items():
            fields = schema.type_map[type_name].fields  # type: ignore[union-attr]
            for name in names:
                f = fields[name]
                if isinstance(f.type, GraphQLNonNull):
                    f.type = f.type.of_type
    return schema


def type_resolver(value: Any, info: Any, abstract_type: Any) -> str:
    return value.typename


class GitHubGraphQLError(Exception):
    """An error GitHub reports with a `type` (NOT_FOUND, INVALID_CURSOR_ARGUMENTS, ...)."""

    def __init__(self, type_: str, message: str):
        super().__init__(message)
        self.type = type_
        self.message = message


# ------------------------------------------------------------------------------------------------
# ids and cursors


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def node_id(prefix: str, *numbers: int) -> str:
    return f"{prefix}_kwDO{_b64(struct.pack('>' + 'Q' * len(numbers), *numbers))}"


def user_id(login: str) -> int:
    if login.lower() == "octocat":
        return 583231
    return stable_id("user:" + login.lower(), 1_000_000, 150_000_000)


def encode_cursor(key: Sequence[Any]) -> str:
    return base64.b64encode(("cursor:v2:" + json.dumps(list(key), separators=(",", ":"))).encode()).decode()


def decode_cursor(cursor: Any, arg: str, types: tuple[type, ...]) -> tuple[Any, ...]:
    try:
        text = base64.b64decode(str(cursor).encode("ascii"), validate=True).decode("utf-8")
        if not text.startswith("cursor:v2:"):
            raise ValueError
        key = json.loads(text[len("cursor:v2:") :])
        if not isinstance(key, list) or len(key) != len(types):
            raise ValueError
        for v, t in zip(key, types):
            if type(v) is not t:
                raise ValueError
        return tuple(key)
    except (ValueError, UnicodeError, TypeError):
        raise GitHubGraphQLError("INVALID_CURSOR_ARGUMENTS", f"`{arg}` does not appear to be a valid cursor.") from None


# ------------------------------------------------------------------------------------------------
# connections


class Connection:
    """A page of a connection; nodes/edges/pageInfo are computed only when the query asks."""

    __slots__ = ("_cursor", "_has_next", "_has_prev", "_page", "_wrap", "totalCount")

    def __init__(
        self,
        page: list[Any],
        cursor: Callable[[Any], str],
        wrap: Callable[[Any], Any],
        total: int,
        has_next: bool,
        has_prev: bool,
    ):
        self._page = page
        self._cursor = cursor
        self._wrap = wrap
        self.totalCount = total
        self._has_next = has_next
        self._has_prev = has_prev

    @property
    def nodes(self) -> list[Any]:
        return [self._wrap(x) for x in self._page]

    @property
    def edges(self) -> list[dict[str, Any]]:
        return [{"cursor": self._cursor(x), "node": self._wrap(x)} for x in self._page]

    @property
    def pageInfo(self) -> dict[str, Any]:
        page = self._page
        return {
            "hasNextPage": self._has_next,
            "hasPreviousPage": self._has_prev,
            "startCursor": self._cursor(page[0]) if page else None,
            "endCursor": self._cursor(page[-1]) if page else None,
        }


class SearchConnection(Connection):
    __slots__ = ("issueCount",)
    repositoryCount = 0
    userCount = 0

    def __init__(self, *args: Any, issue_count: int):
        super().__init__(*args)
        self.issueCount = issue_count


def _window(
    n: int, kw: dict[str, Any], after_pos: Callable[[Any], int], before_pos: Callable[[Any], int]
) -> tuple[int, int]:
    """Positions [lo, hi) of the page in a sequence of n items, per first/last/after/before."""
    start, end = 0, n
    if kw.get("after") is not None:
        start = after_pos(kw["after"])
    if kw.get("before") is not None:
        end = before_pos(kw["before"])
    end = max(start, end)
    lo, hi = start, end
    first, last = kw.get("first"), kw.get("last")
    if first is not None:
        hi = min(end, start + max(0, first))
    if last is not None:
        lo = max(lo, hi - max(0, last))
    return lo, hi


def keyset_connection(
    items: list[Any],
    keys: list[tuple[Any, ...]],
    kw: dict[str, Any],
    *,
    descending: bool,
    types: tuple[type, ...],
    wrap: Callable[[Any], Any],
    key_of: Callable[[Any], tuple[Any, ...]],
) -> Connection:
    """Page over `items` sorted ascending by `keys`, presented ascending or descending."""
    n = len(items)

    def after_pos(c: Any) -> int:
        k = decode_cursor(c, "after", types)
        return n - bisect_left(keys, k) if descending else bisect_right(keys, k)

    def before_pos(c: Any) -> int:
        k = decode_cursor(c, "before", types)
        return n - bisect_right(keys, k) if descending else bisect_left(keys, k)

    lo, hi = _window(n, kw, after_pos, before_pos)
    page = items[n - hi : n - lo][::-1] if descending else items[lo:hi]
    return Connection(page, lambda x: encode_cursor(key_of(x)), wrap, n, hi < n, lo > 0)


# ------------------------------------------------------------------------------------------------
# views


class ActorView:
    __slots__ = ("login", "typename")

    def __init__(self, login: str, typename: str = "User"):
        self.login = login
        self.typename = typename

    def avatarUrl(self, info: Any, size: int | None = None) -> str:
        url = f"https://avatars.githubusercontent.com/u/{self.databaseId}?v=4"
        return url + (f"&s={size}" if size else "")

    @property
    def databaseId(self) -> int:
        return user_id(self.login)

    @property
    def id(self) -> str:
        prefix = {"User": "U", "Bot": "BOT", "Organization": "O"}[self.typename]
        return node_id(prefix, self.databaseId)

    @property
    def resourcePath(self) -> str:
        return f"/apps/{self.login}" if self.typename == "Bot" else f"/{self.login}"

    @property
    def url(self) -> str:
        return "https://github.com" + self.resourcePath

    name = None


def actor(login: str | None, is_bot: bool) -> ActorView | None:
    if login is None:
        return None
    return ActorView(login, "Bot" if is_bot else "User")


class LabelView:
    __slots__ = ("label", "repo")
    typename = "Label"
    description = None

    def __init__(self, label: str, repo: FakeRepository):
        self.label = label
        self.repo = repo

    @property
    def name(self) -> str:
        return self.label

    @property
    def color(self) -> str:
        return f"{zlib.crc32(self.label.encode()) & 0xFFFFFF:06x}"

    @property
    def id(self) -> str:
        return node_id("LA", self.repo.database_id, zlib.crc32(self.label.encode()))

    @property
    def url(self) -> str:
        from urllib.parse import quote

        return f"https://github.com/{self.repo.owner}/{self.repo.name}/labels/{quote(self.label)}"


class ReviewView:
    __slots__ = ("pr", "repo", "review")
    typename = "PullRequestReview"
    body = ""

    def __init__(self, review: FakeReview, pr: FakePullRequest, repo: FakeRepository):
        self.review = review
        self.pr = pr
        self.repo = repo

    @property
    def author(self) -> ActorView | None:
        return actor(self.review.author, self.review.author_is_bot)

    @property
    def state(self) -> str:
        return self.review.state

    @property
    def submittedAt(self) -> str | None:
        return self.review.submitted_at

    @property
    def createdAt(self) -> str:
        return self.review.submitted_at or self.pr.updated_at

    @property
    def databaseId(self) -> int:
        return self.review.database_id

    @property
    def fullDatabaseId(self) -> str:
        # BigInt: GitHub serializes it as a string.
        return str(self.review.database_id)

    @property
    def id(self) -> str:
        return node_id("PRR", self.repo.database_id, self.review.database_id)

    @property
    def url(self) -> str:
        return (
            f"https://github.com/{self.repo.owner}/{self.repo.name}/pull/{self.pr.number}"
            f"#pullrequestreview-{self.review.database_id}"
        )


class CommitView:
    __slots__ = ("index", "pr", "repo")
    typename = "Commit"

    def __init__(self, pr: FakePullRequest, repo: FakeRepository, index: int):
        self.pr = pr
        self.repo = repo
        self.index = index

    @property
    def oid(self) -> str:
        return hashlib.sha1(f"{self.repo.full_name}#{self.pr.number}/{self.index}".encode()).hexdigest()

    @property
    def message(self) -> str:
        return f"Commit {self.index + 1} for #{self.pr.number}\n\nPart of {self.pr.title}"

    @property
    def messageHeadline(self) -> str:
        return f"Commit {self.index + 1} for #{self.pr.number}"

    @property
    def authoredDate(self) -> str:
        if self.index == 0 and self.pr.first_commit_at is not None:
            return self.pr.first_commit_at
        return self.pr.created_at

    @property
    def committedDate(self) -> str:
        return self.pr.created_at

    def _share(self, total: int | None) -> int:
        n = self.pr.commits or 1
        return (total or 0) // n + (1 if self.index < (total or 0) % n else 0)

    @property
    def additions(self) -> int:
        return self._share(self.pr.additions)

    @property
    def deletions(self) -> int:
        return self._share(self.pr.deletions)

    @property
    def author(self) -> dict[str, Any]:
        login = self.pr.author
        return {
            "name": login or "ghost",
            "email": f"{login or 'ghost'}@users.noreply.github.com",
            "date": self.pr.created_at,
            "user": actor(login, False) if login and not self.pr.author_is_bot else None,
        }

    @property
    def id(self) -> str:
        return "C_kwDO" + self.oid[:20]

    @property
    def url(self) -> str:
        return f"https://github.com/{self.repo.owner}/{self.repo.name}/commit/{self.oid}"


class PullRequestCommitView:
    __slots__ = ("commit",)
    typename = "PullRequestCommit"

    def __init__(self, commit: CommitView):
        self.commit = commit

    @property
    def id(self) -> str:
        return "PURC_kwDO" + self.commit.oid[:20]

    @property
    def url(self) -> str:
        c = self.commit
        return f"https://github.com/{c.repo.owner}/{c.repo.name}/pull/{c.pr.number}/commits/{c.oid}"


_EMPTY = Connection([], lambda x: "", lambda x: x, 0, False, False)


class PullRequestView:
    __slots__ = ("pr", "repo")
    typename = "PullRequest"
    body = ""

    def __init__(self, pr: FakePullRequest, repo: FakeRepository):
        self.pr = pr
        self.repo = repo

    number = property(lambda self: self.pr.number)
    title = property(lambda self: self.pr.title)
    state = property(lambda self: self.pr.state)
    isDraft = property(lambda self: self.pr.is_draft)
    createdAt = property(lambda self: self.pr.created_at)
    updatedAt = property(lambda self: self.pr.updated_at)
    closedAt = property(lambda self: self.pr.closed_at)
    mergedAt = property(lambda self: self.pr.merged_at)
    merged = property(lambda self: self.pr.state == "MERGED")
    closed = property(lambda self: self.pr.state != "OPEN")
    additions = property(lambda self: self.pr.additions)
    deletions = property(lambda self: self.pr.deletions)
    changedFiles = property(lambda self: self.pr.changed_files)
    databaseId = property(lambda self: self.pr.database_id)
    fullDatabaseId = property(lambda self: str(self.pr.database_id))  # BigInt: a string, as GitHub sends it
    baseRefName = property(lambda self: self.pr.base_ref)
    headRefName = property(lambda self: self.pr.head_ref)

    @property
    def url(self) -> str:
        return f"https://github.com/{self.repo.owner}/{self.repo.name}/pull/{self.pr.number}"

    @property
    def id(self) -> str:
        return node_id("PR", self.repo.database_id, self.pr.database_id)

    @property
    def author(self) -> ActorView | None:
        return actor(self.pr.author, self.pr.author_is_bot)

    @property
    def mergedBy(self) -> ActorView | None:
        return actor(self.pr.merged_by, False)

    def labels(self, info: Any, **kw: Any) -> Connection:
        names = list(self.pr.labels)
        order = kw.get("orderBy") or {}
        idx = list(range(len(names)))
        if order.get("field") == "NAME":
            idx.sort(key=lambda i: names[i].lower())
        if order.get("direction") == "DESC":
            idx.reverse()
        # key = position in the requested order (labels rarely change while paging)
        items = list(range(len(idx)))
        keys = [(i,) for i in items]
        repo = self.repo
        return keyset_connection(
            items,
            keys,
            kw,
            descending=False,
            types=(int,),
            wrap=lambda i: LabelView(names[idx[i]], repo),
            key_of=lambda i: (i,),
        )

    def reviews(self, info: Any, **kw: Any) -> Connection:
        reviews = self.pr.reviews
        states = kw.get("states")
        author = kw.get("author")
        if states:
            reviews = [r for r in reviews if r.state in states]
        if author is not None:
            reviews = [r for r in reviews if r.author is not None and r.author.lower() == author.lower()]
        items = sorted(reviews, key=lambda r: r.database_id)
        keys = [(r.database_id,) for r in items]
        pr, repo = self.pr, self.repo
        return keyset_connection(
            items,
            keys,
            kw,
            descending=False,
            types=(int,),
            wrap=lambda r: ReviewView(r, pr, repo),
            key_of=lambda r: (r.database_id,),
        )

    def commits(self, info: Any, **kw: Any) -> Connection:
        total = self.pr.commits
        n = total or 0
        items = list(range(n))
        keys = [(i,) for i in items]
        pr, repo = self.pr, self.repo
        conn = keyset_connection(
            items,
            keys,
            kw,
            descending=False,
            types=(int,),
            wrap=lambda i: PullRequestCommitView(CommitView(pr, repo, i)),
            key_of=lambda i: (i,),
        )
        conn.totalCount = total  # type: ignore[assignment]  # None only for recorded data (relaxed)
        return conn

    def comments(self, info: Any, **kw: Any) -> Connection:
        return _EMPTY

    def reviewRequests(self, info: Any, **kw: Any) -> Connection:
        return _EMPTY


class RepositoryView:
    __slots__ = ("state",)
    typename = "Repository"

    def __init__(self, state: Any):
        self.state = state  # server._RepoState

    @property
    def _repo(self) -> FakeRepository:
        return self.state.repo

    name = property(lambda self: self.state.repo.name)
    nameWithOwner = property(lambda self: self.state.repo.full_name)
    isArchived = property(lambda self: self.state.repo.is_archived)
    isFork = property(lambda self: self.state.repo.is_fork)
    isPrivate = False
    parent = None

    @property
    def archivedAt(self) -> str | None:
        return self.state.created_at if self.state.repo.is_archived else None

    databaseId = property(lambda self: self.state.repo.database_id)
    createdAt = property(lambda self: self.state.created_at)

    @property
    def url(self) -> str:
        return f"https://github.com/{self._repo.full_name}"

    @property
    def id(self) -> str:
        return node_id("R", self._repo.database_id)

    def owner(self, info: Any) -> ActorView:
        login = self._repo.owner
        fake: FakeGitHub = info.context.fake
        return ActorView(login, "User" if fake._is_known_user(login) else "Organization")

    def pullRequest(self, info: Any, number: int) -> PullRequestView | None:
        pr = self.state.by_number().get(number)
        if pr is None:
            raise GitHubGraphQLError("NOT_FOUND", f"Could not resolve to a PullRequest with the number of {number}.")
        return PullRequestView(pr, self._repo)

    def pullRequests(self, info: Any, **kw: Any) -> Connection:
        order = kw.get("orderBy") or {}
        field = order.get("field") or "CREATED_AT"
        descending = order.get("direction") == "DESC"
        items, keys = self.state.ordered(
            field, kw.get("states"), kw.get("labels"), kw.get("baseRefName"), kw.get("headRefName")
        )
        key_of = self.state.key_function(field)
        repo = self._repo
        types = (int, int) if field == "COMMENTS" else (str, int)
        return keyset_connection(
            items,
            keys,
            kw,
            descending=descending,
            types=types,
            wrap=lambda pr: PullRequestView(pr, repo),
            key_of=key_of,
        )


class TeamView:
    __slots__ = ("team",)
    typename = "Team"
    description = None
    privacy = "VISIBLE"

    def __init__(self, team: FakeTeam):
        self.team = team

    slug = property(lambda self: self.team.slug)
    name = property(lambda self: self.team.name or self.team.slug)
    combinedSlug = property(lambda self: self.team.combined_slug)
    databaseId = property(lambda self: stable_id("team:" + self.team.combined_slug.lower()))
    id = property(lambda self: node_id("T", self.databaseId))

    @property
    def url(self) -> str:
        return f"https://github.com/orgs/{self.team.organization}/teams/{self.team.slug}"

    def organization(self, info: Any) -> ActorView:
        return ActorView(self.team.organization, "Organization")

    def members(self, info: Any, **kw: Any) -> Connection:
        # GitHub lists members by login; cursors are keyset over that order.
        items = sorted(self.team.members, key=str.lower)
        keys = [(login.lower(),) for login in items]
        return keyset_connection(
            items,
            keys,
            kw,
            descending=False,
            types=(str,),
            wrap=lambda login: ActorView(login, "User"),
            key_of=lambda login: (login.lower(),),
        )


class OrganizationView(ActorView):
    __slots__ = ()

    def __init__(self, login: str):
        super().__init__(login, "Organization")

    def team(self, info: Any, slug: str) -> TeamView | None:
        # Like GitHub: an unknown slug in a known organization is null, without an error.
        team = info.context.fake.team(self.login, slug)
        return None if team is None else TeamView(team)


class OwnerView(ActorView):
    """A RepositoryOwner (User or Organization) with its repositories connection."""

    __slots__ = ()

    def repositories(self, info: Any, **kw: Any) -> Connection:
        fake: FakeGitHub = info.context.fake
        states = [s for s in fake._all_repo_states() if s.repo.owner.lower() == self.login.lower()]
        for flag, attr in (("isArchived", "is_archived"), ("isFork", "is_fork")):
            if kw.get(flag) is not None:
                states = [s for s in states if getattr(s.repo, attr) == kw[flag]]
        order = kw.get("orderBy") or {}
        if order.get("field") == "NAME":

            def key_of(s: Any) -> tuple[Any, ...]:
                return (s.repo.name.lower(), s.repo.database_id)
        else:

            def key_of(s: Any) -> tuple[Any, ...]:
                return (s.created_at, s.repo.database_id)

        items = sorted(states, key=key_of)
        keys = [key_of(s) for s in items]
        return keyset_connection(
            items,
            keys,
            kw,
            descending=order.get("direction") == "DESC",
            types=(str, int),
            wrap=RepositoryView,
            key_of=key_of,
        )


class Root:
    """The Query type."""

    def repositoryOwner(self, info: Any, login: str) -> OwnerView | None:
        fake: FakeGitHub = info.context.fake
        owner = next((s.repo.owner for s in fake._all_repo_states() if s.repo.owner.lower() == login.lower()), None)
        if owner is None and not fake._is_known_user(login):
            # Like GitHub: `data.repositoryOwner: null` and an error of type NOT_FOUND.
            raise GitHubGraphQLError(
                "NOT_FOUND", f"Could not resolve to a RepositoryOwner with the login of '{login}'."
            )
        owner = owner or login
        return OwnerView(owner, "User" if fake._is_known_user(owner) else "Organization")

    def organization(self, info: Any, login: str) -> OrganizationView | None:
        fake: FakeGitHub = info.context.fake
        known = fake.organization_login(login)
        if known is None:
            raise GitHubGraphQLError("NOT_FOUND", f"Could not resolve to an Organization with the login of '{login}'.")
        return OrganizationView(known)

    def viewer(self, info: Any) -> ActorView:
        return ActorView(info.context.login, "User")

    def rateLimit(self, info: Any, dryRun: bool = False) -> dict[str, Any]:
        return info.context.rate_limit

    def repository(self, info: Any, owner: str, name: str, followRenames: bool = True) -> RepositoryView | None:
        if info.context.dry_run:
            return None
        # The schema: "Follow repository renames. If disabled, a repository referenced by its old name will
        # return an error."
        state = info.context.fake._repo_state(f"{owner}/{name}", follow_renames=followRenames)
        if state is None:
            raise GitHubGraphQLError("NOT_FOUND", f"Could not resolve to a Repository with the name '{owner}/{name}'.")
        return RepositoryView(state)

    def search(self, info: Any, **kw: Any) -> SearchConnection:
        fake: FakeGitHub = info.context.fake
        if kw.get("type") != "ISSUE" or info.context.dry_run:
            return SearchConnection([], lambda x: "", lambda x: x, 0, False, False, issue_count=0)
        matches = run_search(fake, kw["query"])
        total = len(matches)
        available = matches[:SEARCH_RESULT_LIMIT]
        n = len(available)

        def pos(c: Any, arg: str) -> int:
            try:
                text = base64.b64decode(str(c).encode("ascii"), validate=True).decode()
                if not text.startswith("cursor:"):
                    raise ValueError
                return max(0, min(n, int(text[len("cursor:") :])))
            except (ValueError, UnicodeError):
                raise GitHubGraphQLError(
                    "INVALID_CURSOR_ARGUMENTS", f"`{arg}` does not appear to be a valid cursor."
                ) from None

        lo, hi = _window(n, kw, lambda c: pos(c, "after"), lambda c: pos(c, "before") - 1)
        page = list(range(lo, hi))
        return SearchConnection(
            page,
            lambda i: base64.b64encode(f"cursor:{i + 1}".encode()).decode(),
            lambda i: PullRequestView(available[i][0], available[i][1]),
            total,
            hi < n,
            lo > 0,
            issue_count=total,
        )


ROOT = Root()


# ------------------------------------------------------------------------------------------------
# search


_TOKEN = re.compile(r'-?[\w.-]+:"[^"]*"|"[^"]*"|\S+')


def _date_predicate(expr: str) -> Callable[[str | None], bool] | None:
    """GitHub's date qualifier syntax (>=D, >D, <D, <=D, D, A..B, with dates or date-times)."""

    def bounds(text: str) -> tuple[str, str] | None:
        """(start, next): the instant and the instant after the value's granularity."""
        text = text.strip()
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                d = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
                return iso(d.timestamp()), iso((d + timedelta(days=1)).timestamp())
            ts = parse_iso(text)
            return iso(ts), iso(ts + 1)
        except ValueError:
            return None

    if ".." in expr:
        a, b = expr.split("..", 1)
        lo = None if a in ("", "*") else bounds(a)
        hi = None if b in ("", "*") else bounds(b)
        if (a not in ("", "*") and lo is None) or (b not in ("", "*") and hi is None):
            return None
        return lambda v: v is not None and (lo is None or v >= lo[0]) and (hi is None or v < hi[1])
    for op in (">=", "<=", ">", "<"):
        if expr.startswith(op):
            b = bounds(expr[len(op) :])
            if b is None:
                return None
            start, nxt = b
            return {
                ">=": lambda v, start=start: v is not None and v >= start,
                ">": lambda v, nxt=nxt: v is not None and v >= nxt,
                "<": lambda v, start=start: v is not None and v < start,
                "<=": lambda v, nxt=nxt: v is not None and v < nxt,
            }[op]
    b = bounds(expr)
    if b is None:
        return None
    start, nxt = b
    return lambda v: v is not None and start <= v < nxt


def run_search(fake: FakeGitHub, query: str) -> list[tuple[FakePullRequest, FakeRepository]]:
    """Pull requests matching a GitHub issue-search query, most recently updated first by default."""
    repos: list[str] = []
    preds: list[Callable[[FakePullRequest], bool]] = []
    sort = ("updated", True)
    issues_only = False
    for tok in _TOKEN.findall(query):
        neg = tok.startswith("-") and ":" in tok
        body = tok[1:] if neg else tok
        key, sep, value = body.partition(":")
        value = value.strip('"')
        key = key.lower()
        pred: Callable[[FakePullRequest], bool] | None = None
        if not sep or (key in ("http", "https")):
            word = tok.strip('"').lower()
            pred = lambda pr, w=word: w in pr.title.lower()
        elif key == "repo":
            repos.append(value.lower())
            continue
        elif key in ("is", "type", "state"):
            v = value.lower()
            if v in ("pr", "pull-request", "pullrequest"):
                continue
            if v == "issue":
                issues_only = not neg
                continue
            pred = {
                "open": lambda pr: pr.state == "OPEN",
                "closed": lambda pr: pr.state != "OPEN",
                "merged": lambda pr: pr.state == "MERGED",
                "unmerged": lambda pr: pr.state != "MERGED",
                "draft": lambda pr: pr.is_draft,
            }.get(v)
        elif key == "draft":
            want = value.lower() == "true"
            pred = lambda pr, w=want: pr.is_draft == w
        elif key == "author":
            login = value.lower().removeprefix("app/")
            pred = lambda pr, lg=login: (pr.author or "").lower() == lg
        elif key == "label":
            names = {n.strip().lower() for n in value.split(",")}
            pred = lambda pr, ns=names: any(lb.lower() in ns for lb in pr.labels)
        elif key in ("base", "head"):
            attr = "base_ref" if key == "base" else "head_ref"
            pred = lambda pr, a=attr, v=value: getattr(pr, a) == v
        elif key in ("created", "updated", "closed", "merged"):
            attr = key + "_at"
            dp = _date_predicate(value)
            if dp is None:
                pred = lambda pr: False  # GitHub finds nothing for a malformed date
            else:
                pred = lambda pr, a=attr, d=dp: d(getattr(pr, a))
        elif key == "sort":
            v = value.lower()
            field, _, direction = v.partition("-")
            if field in ("updated", "created"):
                sort = (field, direction != "asc")
            continue
        elif key == "in":
            continue
        else:
            word = tok.lower()
            pred = lambda pr, w=word: w in pr.title.lower()
        if pred is None:
            continue
        if neg:
            preds.append(lambda pr, p=pred: not p(pr))
        else:
            preds.append(pred)
    if issues_only:
        return []
    out: list[tuple[FakePullRequest, FakeRepository]] = []
    for state in fake._all_repo_states():
        repo = state.repo
        if repos and repo.full_name.lower() not in repos:
            continue
        for pr in repo.pull_requests:
            if all(p(pr) for p in preds):
                out.append((pr, repo))
    attr = "updated_at" if sort[0] == "updated" else "created_at"
    out.sort(key=lambda t: (getattr(t[0], attr), t[0].database_id), reverse=sort[1])
    return out
