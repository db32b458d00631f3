"""GraphQL for pull-request pages: query text, GitHub's cost formula, and validated JSON → records."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from pydantic import ValidationError

from ghsync.errors import GithubResponseError
from ghsync.models import (
    LOGIN_PATTERN,
    PULL_REQUEST_FIELDS,
    REVIEW_FIELDS,
    SQLITE_INT_MAX,
    FieldSpec,
    PageRequest,
    PullRequestRecord,
    RateLimitState,
    RepositoryIdentity,
    ReviewRecord,
)
from ghsync.timefmt import parse_iso
from ghsync.validate import is_repository_name

_R = TypeVar("_R", PullRequestRecord, ReviewRecord)

# Nested pages: a connection's `first` does not change the cost of a page (only nested connections
# below it would), so ask for the maximum and rarely need a follow-up.
NESTED_PAGE_SIZE = 100
# Connections GitHub charges per PR: commits(first: 1), labels, reviews. The page reads the first commit
# (`commits(first: 1) { totalCount nodes .. }`, for coding time), so none of them is count-only: a page
# costs the same whether or not a host charges connections selected only for their totalCount.
CONNECTIONS_PER_PULL_REQUEST = 3
MAX_PAGE_SIZE = 100
# Aliased continuations per follow-up query that still cost one point (at most 2 connections each).
FOLLOW_UP_BATCH_SIZE = 74
# Epoch seconds GitHub could plausibly name as a reset: up to 9999-12-31 (what ISO text can carry).
MAX_EPOCH = 253_402_300_799

RATE_LIMIT_FIELDS = "rateLimit { cost limit remaining used resetAt }"


def _selection(specs: tuple[FieldSpec, ...]) -> str:
    return " ".join(dict.fromkeys(spec.source.selection for spec in specs))


LABELS = f"labels(first: {NESTED_PAGE_SIZE}) {{ totalCount pageInfo {{ hasNextPage endCursor }} nodes {{ name }} }}"
REVIEWS = (
    f"reviews(first: {NESTED_PAGE_SIZE}) {{ totalCount pageInfo {{ hasNextPage endCursor }} "
    f"nodes {{ {_selection(REVIEW_FIELDS)} }} }}"
)
PR_FIELDS = f"{_selection(PULL_REQUEST_FIELDS)} {LABELS} {REVIEWS}"


# --- cost ----------------------------------------------------------------------------------------


def graphql_cost(requests: int) -> int:
    """GitHub's documented formula: requests / 100, rounded (half up, as GitHub's Ruby does), at least 1."""
    return max(1, (requests + 50) // 100)


def page_requests(page_size: int, *, extra_connections: int) -> int:
    """Requests a PR page needs: the page itself, one per nested connection per PR, plus extras."""
    return 1 + page_size * CONNECTIONS_PER_PULL_REQUEST + extra_connections


@cache  # asked for every page; the answer depends only on these two numbers
def cheapest_page_size(*, extra_connections: int, limit: int = MAX_PAGE_SIZE) -> int:
    """The page size with the most PRs per point (the larger one on a tie), at most `limit`."""
    best_size, best_ratio = 1, 0.0
    for size in range(1, max(1, limit) + 1):
        requests = page_requests(size, extra_connections=extra_connections)
        ratio = size / graphql_cost(requests)
        if ratio >= best_ratio:
            best_size, best_ratio = size, ratio
    return best_size


def floor_points(pull_requests: int) -> int:
    """The least points any page plan can spend on `pull_requests` PRs with these fields."""
    if pull_requests <= 0:
        return 1
    size = cheapest_page_size(extra_connections=1)
    pages = -(-pull_requests // size)
    return pages * graphql_cost(page_requests(size, extra_connections=1))


def extra_connections(request: PageRequest) -> int:
    """Connections a page asks for besides its PRs': the head, and the window count (a search)."""
    return 1 + int(request.count not in (None, "all"))


# --- query text ----------------------------------------------------------------------------------


# Which repository answered, as GitHub names and numbers it (scalars: no cost). Old names resolve to the
# renamed repository (`followRenames` defaults to true), so `track` tells a rename from the name it gave.
REPOSITORY_IDENTITY = "nameWithOwner id databaseId"


def pull_request_page_query(request: PageRequest, page_size: int) -> tuple[str, dict[str, Any]]:
    """One page of PRs, newest-updated first, with the repository's newest updatedAt (the head)."""
    variables: dict[str, Any] = {
        "owner": request.owner,
        "name": request.name,
        "pageSize": page_size,
        "after": request.after,
    }
    head = "head: pullRequests(first: 1, orderBy: {field: UPDATED_AT, direction: DESC}) { nodes { updatedAt } }"
    window_count = ""
    declared = "$owner: String!, $name: String!, $pageSize: Int!, $after: String"
    if request.count not in (None, "all"):
        declared += ", $countQuery: String!"
        variables["countQuery"] = f"repo:{request.owner}/{request.name} is:pr updated:>={request.count}"
        window_count = "windowCount: search(query: $countQuery, type: ISSUE) { issueCount }"
    query = (
        f"query PullRequestPage({declared}) {{ {RATE_LIMIT_FIELDS} "
        f"repository(owner: $owner, name: $name) {{ {REPOSITORY_IDENTITY} "
        "pullRequests(first: $pageSize, after: $after, orderBy: {field: UPDATED_AT, direction: DESC}) "
        f"{{ totalCount pageInfo {{ hasNextPage endCursor }} nodes {{ {PR_FIELDS} }} }} "
        f"{head} }} {window_count} }}"
    )
    return query, variables


def page_alias_requests(request: PageRequest, page_size: int) -> int:
    """Requests one repository's page costs inside an aliased query (its connections plus its window count)."""
    return page_requests(page_size, extra_connections=extra_connections(request))


def pull_request_pages_query(
    pages: list[tuple[PageRequest, int]], follow_ups: list[tuple[PageRequest, list[FollowUp]]] | None = None
) -> tuple[str, dict[str, Any]]:
    """Several repositories' pages in one query: `rN: repository(..)` (and `cN: search(..)` for a window
    count) per page, plus `fN: repository(..) { prM: pullRequest(..) }` follow-ups of earlier pages;
    GitHub charges the sum of their requests, so small repositories share a point."""
    declared: list[str] = []
    variables: dict[str, Any] = {}
    parts: list[str] = []
    for index, (request, group) in enumerate(follow_ups or []):
        declared += [f"$fo{index}: String!", f"$fn{index}: String!"]
        variables.update({f"fo{index}": request.owner, f"fn{index}": request.name})
        inner = _follow_up_parts(group, f"f{index}", declared, variables)
        parts.append(f"f{index}: repository(owner: $fo{index}, name: $fn{index}) {{ {' '.join(inner)} }}")
    head = "head: pullRequests(first: 1, orderBy: {field: UPDATED_AT, direction: DESC}) { nodes { updatedAt } }"
    for index, (request, page_size) in enumerate(pages):
        declared += [f"$o{index}: String!", f"$n{index}: String!", f"$a{index}: String"]
        variables.update({f"o{index}": request.owner, f"n{index}": request.name, f"a{index}": request.after})
        parts.append(
            f"r{index}: repository(owner: $o{index}, name: $n{index}) {{ {REPOSITORY_IDENTITY} "
            f"pullRequests(first: {page_size}, after: $a{index}, orderBy: {{field: UPDATED_AT, direction: DESC}}) "
            f"{{ totalCount pageInfo {{ hasNextPage endCursor }} nodes {{ {PR_FIELDS} }} }} {head} }}"
        )
        if request.count not in (None, "all"):
            declared.append(f"$q{index}: String!")
            variables[f"q{index}"] = f"repo:{request.owner}/{request.name} is:pr updated:>={request.count}"
            parts.append(f"c{index}: search(query: $q{index}, type: ISSUE) {{ issueCount }}")
    query = f"query PullRequestPages({', '.join(declared)}) {{ {RATE_LIMIT_FIELDS} {' '.join(parts)} }}"
    return query, variables


def parse_pull_request_pages(body: Any, count: int) -> list[ParsedPage]:
    """A PullRequestPages answer → one validated page per alias, in the asked order."""
    data = _data(body)
    pages = []
    for index in range(count):
        one = {"data": {"repository": data.get(f"r{index}"), "windowCount": data.get(f"c{index}")}}
        pages.append(parse_pull_request_page(one))
    return pages


@dataclass(frozen=True)
class FollowUp:
    """A PR whose reviews or labels did not fit in the page: continue after these cursors."""

    number: int
    reviews_after: str | None = None
    labels_after: str | None = None


def _follow_up_parts(
    follow_ups: list[FollowUp], prefix: str, declared: list[str], variables: dict[str, Any]
) -> list[str]:
    parts = []
    for index, follow_up in enumerate(follow_ups):
        fields = []
        if follow_up.reviews_after is not None:
            declared.append(f"${prefix}r{index}: String")
            variables[f"{prefix}r{index}"] = follow_up.reviews_after
            fields.append(
                f"reviews(first: {NESTED_PAGE_SIZE}, after: ${prefix}r{index}) "
                f"{{ pageInfo {{ hasNextPage endCursor }} nodes {{ {_selection(REVIEW_FIELDS)} }} }}"
            )
        if follow_up.labels_after is not None:
            declared.append(f"${prefix}l{index}: String")
            variables[f"{prefix}l{index}"] = follow_up.labels_after
            fields.append(
                f"labels(first: {NESTED_PAGE_SIZE}, after: ${prefix}l{index}) "
                "{ pageInfo { hasNextPage endCursor } nodes { name } }"
            )
        parts.append(f"pr{index}: pullRequest(number: {follow_up.number}) {{ number {' '.join(fields)} }}")
    return parts


def follow_up_query(owner: str, name: str, follow_ups: list[FollowUp]) -> tuple[str, dict[str, Any]]:
    """One query continuing many PRs' nested connections at once, through aliases."""
    variables: dict[str, Any] = {"owner": owner, "name": name}
    declared = ["$owner: String!", "$name: String!"]
    parts = _follow_up_parts(follow_ups, "", declared, variables)
    query = (
        f"query PullRequestFollowUps({', '.join(declared)}) {{ {RATE_LIMIT_FIELDS} "
        f"repository(owner: $owner, name: $name) {{ {' '.join(parts)} }} }}"
    )
    return query, variables


def repository_answer(body: Any, alias: str) -> dict[str, Any]:
    """One alias of an aliased answer, shaped as a single-repository answer (for the parsers above)."""
    return {"data": {"repository": _data(body).get(alias)}}


# --- validation helpers --------------------------------------------------------------------------


def _invalid(where: str, value: Any) -> GithubResponseError:
    text = repr(value)
    if len(text) > 80:
        text = text[:79] + "…"
    return GithubResponseError(f"GitHub answered an invalid {where}: {text}")


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid(where, value)
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _invalid(where, value)
    return value


def _int(value: Any, where: str, *, minimum: int = 0, maximum: int = SQLITE_INT_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise _invalid(where, value)
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _invalid(where, value)
    return value


def _optional_str(value: Any, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise _invalid(where, value)
    return value


def _iso(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _invalid(where, value)
    try:
        parse_iso(value)
    except (ValueError, OverflowError):
        raise _invalid(where, value) from None
    return value


def _epoch(value: Any, where: str) -> int:
    return _int(value, where, maximum=MAX_EPOCH)


@cache
def _time_fields(model: type[PullRequestRecord | ReviewRecord]) -> tuple[tuple[str, str], ...]:
    """(field, GitHub's path) of the `*_at` fields: the store needs ISO times there, not any text."""
    specs = PULL_REQUEST_FIELDS if model is PullRequestRecord else REVIEW_FIELDS
    return tuple(
        (spec.name, _path_text(spec.source.path or (spec.source.selection,)))
        for spec in specs
        if spec.name.endswith("_at")
    )


def _path_text(path: Sequence[str | int]) -> str:
    """GitHub's path as the errors spell it: `commits.nodes[0].commit.authoredDate`."""
    return "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in path).lstrip(".")


class _Malformed(Exception):
    """A node's field failed validation: its GitHub path within the node, and the value found."""

    def __init__(self, path: str, value: Any):
        super().__init__(path)
        self.path, self.value = path, value

    def at(self, where: str) -> GithubResponseError:
        return _invalid(f"{where}.{self.path}" if self.path else where, self.value)


def _from_node(model: type[_R], node: dict[str, Any]) -> _R:
    """The record a GraphQL node holds, in one strict validation: each registry field is read at its
    GraphQL path (the records' validation aliases), so no "12" for 12 and only integers SQLite can hold;
    then ISO times where the store needs them. Raises _Malformed naming GitHub's path, not ours (the
    caller knows where the node is: the text is built only on failure, as this runs per PR and review)."""
    try:
        record = model.model_validate(node, strict=True, extra="ignore", by_alias=True, by_name=False)
    except ValidationError as error:
        first = error.errors()[0]
        raise _Malformed(_path_text(first["loc"]), None if first["type"] == "missing" else first.get("input")) from None
    for name, path in _time_fields(model):
        value = getattr(record, name)
        if value is not None:
            try:
                datetime.fromisoformat(value)  # any offset or none: the store keeps the text as GitHub sent it
            except (ValueError, OverflowError):
                raise _Malformed(path, value) from None
    return record


# --- parsing -------------------------------------------------------------------------------------


def parse_rate_limit(data: Any, where: str = "rateLimit") -> RateLimitState | None:
    """The answer's `rateLimit` (None on a server without limits); every field checked."""
    if data is None:
        return None
    data = _object(data, where)
    reset = _iso(data.get("resetAt"), f"{where}.resetAt")
    reset_at = int(parse_iso(reset).timestamp())
    return RateLimitState(
        resource="graphql",
        limit=_int(data.get("limit"), f"{where}.limit"),
        remaining=_int(data.get("remaining"), f"{where}.remaining"),
        used=_int(data.get("used"), f"{where}.used"),
        reset_at=_epoch(reset_at, f"{where}.resetAt"),
    )


def parse_cost(data: Any) -> int:
    """Points this answer cost (GitHub's own count); 1 when the server reports none (no limits)."""
    if data is None:
        return 1
    return _int(_object(data, "rateLimit").get("cost"), "rateLimit.cost")


def parse_rest_bucket(name: str, bucket: Any) -> RateLimitState:
    """One bucket of GET /rate_limit's `resources`."""
    where = f"/rate_limit resources.{name}"
    bucket = _object(bucket, where)
    return RateLimitState(
        resource=name,
        limit=_int(bucket.get("limit"), f"{where}.limit"),
        remaining=_int(bucket.get("remaining"), f"{where}.remaining"),
        used=_int(bucket.get("used", 0), f"{where}.used"),
        reset_at=_epoch(bucket.get("reset"), f"{where}.reset"),
    )


def _continuation(connection: dict[str, Any], where: str) -> str | None:
    info = connection.get("pageInfo")
    if not isinstance(info, dict):
        raise _invalid(f"{where}.pageInfo", info)
    more = info.get("hasNextPage")
    if more is False:
        return None
    if more is not True:
        raise _invalid(f"{where}.pageInfo.hasNextPage", more)
    cursor = info.get("endCursor")
    if not isinstance(cursor, str) or not cursor:
        raise _invalid(f"{where}.pageInfo.endCursor", cursor)
    return cursor


def _present_nodes(connection: Any, where: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """A connection's nodes (index, node), nulls skipped; anything but objects is an error. The text naming
    where a node is is built only on failure: this runs for every PR's reviews and labels."""
    if not isinstance(connection, dict):
        raise _invalid(where, connection)
    nodes = connection.get("nodes")
    if not isinstance(nodes, list):
        raise _invalid(f"{where}.nodes", nodes)
    for index, node in enumerate(nodes):
        if node is None:
            continue
        if not isinstance(node, dict):
            raise _invalid(f"{where}.nodes[{index}]", node)
        yield index, node


def _reviews(connection: Any, where: str) -> tuple[list[ReviewRecord], str | None]:
    reviews = []
    for index, node in _present_nodes(connection, where):
        try:
            reviews.append(_from_node(ReviewRecord, node))
        except _Malformed as malformed:
            raise malformed.at(f"{where}.nodes[{index}]") from None
    return reviews, _continuation(connection, where)


def _labels(connection: Any, where: str) -> tuple[list[str], str | None]:
    names = []
    for index, node in _present_nodes(connection, where):
        name = node.get("name")
        if not isinstance(name, str):
            raise _invalid(f"{where}.nodes[{index}].name", name)
        names.append(name)
    return names, _continuation(connection, where)


@dataclass
class PartialPullRequest:
    """A PR parsed from a page, with the cursors of nested connections that need more pages."""

    record: PullRequestRecord  # with the reviews and labels read so far
    reviews_after: str | None
    labels_after: str | None

    @property
    def number(self) -> int:
        return self.record.number

    def follow_up(self) -> FollowUp | None:
        if self.reviews_after is None and self.labels_after is None:
            return None
        return FollowUp(self.number, reviews_after=self.reviews_after, labels_after=self.labels_after)

    def add(self, reviews: list[ReviewRecord], labels: list[str]) -> None:
        """A follow-up's further reviews and labels (validated already)."""
        extended = {"reviews": (*self.record.reviews, *reviews), "labels": (*self.record.labels, *labels)}
        self.record = self.record.model_copy(update=extended)


def parse_pull_request(node: Any, where: str) -> PartialPullRequest:
    """One PR node read into its record by the record's own strict validation (its reviews and labels
    first), plus the cursors of its nested connections."""
    node = _object(node, where)
    reviews, reviews_after = _reviews(node.get("reviews"), f"{where}.reviews")
    labels, labels_after = _labels(node.get("labels"), f"{where}.labels")
    # The node, with its first page of reviews and labels parsed, read in one validation.
    try:
        record = _from_node(PullRequestRecord, {**node, "reviews": tuple(reviews), "labels": tuple(labels)})
    except _Malformed as malformed:
        raise malformed.at(where) from None
    return PartialPullRequest(record=record, reviews_after=reviews_after, labels_after=labels_after)


@dataclass(frozen=True)
class ParsedPage:
    """One page's answer, validated: partial PRs (maybe needing follow-ups) and the page's facts."""

    partials: list[PartialPullRequest]
    has_next_page: bool
    end_cursor: str | None
    total_count: int | None
    head_updated_at: str | None
    identity: RepositoryIdentity | None = None


def _data(body: Any) -> dict[str, Any]:
    return _object(_object(body, "answer").get("data"), "data")


def parse_pull_request_page(body: Any) -> ParsedPage:
    """A PullRequestPage answer → validated partial PRs; anything malformed is a GithubResponseError."""
    data = _data(body)
    repository = _object(data.get("repository"), "repository")
    connection = _object(repository.get("pullRequests"), "pullRequests")
    nodes = _list(connection.get("nodes"), "pullRequests.nodes")
    partials = [parse_pull_request(n, f"pullRequests.nodes[{i}]") for i, n in enumerate(nodes) if n is not None]
    end_cursor = _optional_str(
        _object(connection.get("pageInfo"), "pullRequests.pageInfo").get("endCursor"), "pullRequests.pageInfo.endCursor"
    )
    total = _int(connection.get("totalCount"), "pullRequests.totalCount")
    if data.get("windowCount") is not None:
        total = _int(_object(data["windowCount"], "windowCount").get("issueCount"), "windowCount.issueCount")
    head_nodes = _list(_object(repository.get("head"), "head").get("nodes"), "head.nodes")
    head = (
        _iso(_object(head_nodes[0], "head.nodes[0]").get("updatedAt"), "head.nodes[0].updatedAt")
        if head_nodes
        else None
    )
    return ParsedPage(
        partials=partials,
        has_next_page=_continuation(connection, "pullRequests") is not None,
        end_cursor=end_cursor,
        total_count=total,
        head_updated_at=head,
        identity=_identity(repository),
    )


def _identity(repository: dict[str, Any]) -> RepositoryIdentity | None:
    """The answering repository's name and ids: a name GitHub could not have given is malformed; ids of an
    unexpected shape are left out, not stored (nothing depends on them)."""
    name = repository.get("nameWithOwner")
    if name is None:
        return None  # an answer recorded without it
    owner, _, short = name.partition("/") if isinstance(name, str) else ("", "", "")
    if not is_repository_name(owner, short):
        raise _invalid("repository.nameWithOwner", name)
    node_id, database_id = repository.get("id"), repository.get("databaseId")
    return RepositoryIdentity(
        full_name=name,
        node_id=node_id if isinstance(node_id, str) and node_id.isprintable() and 0 < len(node_id) < 200 else None,
        database_id=database_id if isinstance(database_id, int) and not isinstance(database_id, bool) else None,
    )


def apply_follow_ups(partials: dict[int, PartialPullRequest], body: Any, follow_ups: list[FollowUp]) -> None:
    """Add one follow-up answer's reviews and labels to the partial PRs, moving their cursors on."""
    repository = _object(_data(body).get("repository"), "repository")
    for index, follow_up in enumerate(follow_ups):
        node = repository.get(f"pr{index}")
        partial = partials[follow_up.number]
        if node is None:
            # The PR vanished between pages (deleted, transferred): keep what we have.
            partial.reviews_after = partial.labels_after = None
            continue
        node = _object(node, f"pullRequest({follow_up.number})")
        where = f"pullRequest({follow_up.number})"
        if follow_up.reviews_after is not None:
            reviews, partial.reviews_after = _reviews(node.get("reviews"), f"{where}.reviews")
            partial.add(reviews, [])
        if follow_up.labels_after is not None:
            labels, partial.labels_after = _labels(node.get("labels"), f"{where}.labels")
            partial.add([], labels)


def rate_limit_of(body: Any) -> tuple[RateLimitState | None, int]:
    """The answer's budget and cost, validated."""
    data = _data(body)
    raw = data.get("rateLimit")
    return parse_rate_limit(raw), parse_cost(raw)


# --- teams ---------------------------------------------------------------------------------------

TEAM_PAGE_SIZE = 100  # one point per page of 100 members


def team_members_query(organization: str, slug: str, after: str | None) -> tuple[str, dict[str, Any]]:
    """One page of a team's members (`organization { team(slug:) { members } }`)."""
    query = (
        f"query TeamMembers($org: String!, $slug: String!, $after: String) {{ {RATE_LIMIT_FIELDS} "
        "organization(login: $org) { login team(slug: $slug) { slug "
        f"members(first: {TEAM_PAGE_SIZE}, after: $after) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ login }} }} "
        "} } }"
    )
    return query, {"org": organization, "slug": slug, "after": after}


def parse_team_members(body: Any) -> tuple[list[str], str | None] | None:
    """A TeamMembers answer → (member logins, the cursor of the next page); None when the organization
    has no such team (GitHub answers `team: null` without an error)."""
    organization = _object(_data(body).get("organization"), "organization")
    team = organization.get("team")
    if team is None:
        return None
    members = _object(_object(team, "organization.team").get("members"), "team.members")
    logins = []
    for i, node in enumerate(_list(members.get("nodes"), "team.members.nodes")):
        if node is None:
            continue
        login = _object(node, f"team.members.nodes[{i}]").get("login")
        if not isinstance(login, str) or not re.fullmatch(LOGIN_PATTERN, login):
            raise _invalid(f"team.members.nodes[{i}].login", login)
        logins.append(login)
    return logins, _continuation(members, "team.members")
