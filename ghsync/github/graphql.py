"""GraphQL for pull-request pages: query text, GitHub's cost formula, and validated JSON → records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Annotated, Any, get_args

from pydantic import AliasPath, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model

from ghsync.errors import GithubResponseError
from ghsync.models import (
    PULL_REQUEST_FIELDS,
    REVIEW_FIELDS,
    FieldSpec,
    PageRequest,
    PullRequestRecord,
    RateLimitState,
    ReviewRecord,
)
from ghsync.timefmt import parse_iso

# Nested pages: a connection's `first` does not change the cost of a page (only nested connections
# below it would), so ask for the maximum and rarely need a follow-up.
NESTED_PAGE_SIZE = 100
# Connections under each PR: commits(first: 1), labels, reviews.
CONNECTIONS_PER_PULL_REQUEST = 3
MAX_PAGE_SIZE = 100
# Aliased continuations per follow-up query that still cost one point (at most 2 connections each).
FOLLOW_UP_BATCH_SIZE = 74
# SQLite stores integers as signed 64-bit: a larger one would overflow on insert.
SQLITE_INT_MIN, SQLITE_INT_MAX = -(2**63), 2**63 - 1
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


def connections_per_pull_request(count_only_free: bool | None) -> int:
    """Connections GitHub charges per PR: reviews, labels and commits. Since the page reads the first
    commit (`commits(first: 1) { totalCount nodes .. }`, for coding time), none of them is count-only, so
    what a host charges for count-only connections does not change a page's price."""
    return CONNECTIONS_PER_PULL_REQUEST


def page_requests(page_size: int, *, extra_connections: int, count_only_free: bool | None = None) -> int:
    """Requests a PR page needs: the page itself, one per nested connection per PR, plus extras."""
    return 1 + page_size * connections_per_pull_request(count_only_free) + extra_connections


@cache  # asked for every page; the answer depends only on these three numbers
def cheapest_page_size(
    *, extra_connections: int, limit: int = MAX_PAGE_SIZE, count_only_free: bool | None = None
) -> int:
    """The page size with the most PRs per point (the larger one on a tie), at most `limit`."""
    best_size, best_ratio = 1, 0.0
    for size in range(1, max(1, limit) + 1):
        requests = page_requests(size, extra_connections=extra_connections, count_only_free=count_only_free)
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
        "repository(owner: $owner, name: $name) { nameWithOwner "
        "pullRequests(first: $pageSize, after: $after, orderBy: {field: UPDATED_AT, direction: DESC}) "
        f"{{ totalCount pageInfo {{ hasNextPage endCursor }} nodes {{ {PR_FIELDS} }} }} "
        f"{head} }} {window_count} }}"
    )
    return query, variables


def page_alias_requests(request: PageRequest, page_size: int, count_only_free: bool | None = None) -> int:
    """Requests one repository's page costs inside an aliased query (its connections plus its window count)."""
    return page_requests(page_size, extra_connections=extra_connections(request), count_only_free=count_only_free)


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
            f"r{index}: repository(owner: $o{index}, name: $n{index}) {{ nameWithOwner "
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


def _digits_to_int(value: Any) -> Any:
    """A BigInt arrives as decimal digits: make them an int (anything else is left for strict validation
    to refuse)."""
    if value.__class__ is str and value.isascii() and value.isdigit():
        return int(value)
    return value


@cache
def _node_reader(model: type[PullRequestRecord | ReviewRecord]) -> type[BaseModel]:
    """A model that reads `model`'s registry fields straight from a GraphQL node (each at its path; absent
    → None) and validates them strictly inside pydantic's core: no "12" for 12, and integers that SQLite
    can hold. Walking the paths and checking the bounds in Python cost twice as much per PR."""
    fields: dict[str, Any] = {}
    for spec in _specs_of(model):
        annotation = model.model_fields[spec.name].annotation
        constraints: list[Any] = []
        if spec.column_type is int and bool not in (annotation, *get_args(annotation)):
            constraints.append(Field(ge=SQLITE_INT_MIN, le=SQLITE_INT_MAX))
        if spec.source.big_int:
            constraints.append(BeforeValidator(_digits_to_int))
        typed = Annotated[(annotation, *constraints)] if constraints else annotation
        first, *rest = spec.source.path or (spec.source.selection,)
        reads = AliasPath(str(first), *rest)
        fields[spec.name] = (typed, Field(default=None, validation_alias=reads, validate_default=True))
    config = ConfigDict(strict=True, extra="ignore")
    reader: type[BaseModel] = create_model(f"{model.__name__}Node", __config__=config, **fields)
    return reader


def _specs_of(model: type[PullRequestRecord | ReviewRecord]) -> tuple[FieldSpec, ...]:
    return PULL_REQUEST_FIELDS if model is PullRequestRecord else REVIEW_FIELDS


@cache
def _time_fields(model: type[PullRequestRecord | ReviewRecord]) -> tuple[tuple[str, str], ...]:
    """(field, GitHub's path) of the `*_at` fields: the store needs ISO times there, not any text."""
    return tuple(
        (spec.name, ".".join(str(key) for key in spec.source.path or (spec.source.selection,)))
        for spec in _specs_of(model)
        if spec.name.endswith("_at")
    )


def _registry_fields(model: type[PullRequestRecord | ReviewRecord], node: Any, where: str) -> dict[str, Any]:
    """The registry fields of a GraphQL node, validated for `model` and the store. The error names
    GitHub's path (`pullRequests.nodes[3].author.login`), not ours."""
    try:
        fields: dict[str, Any] = _node_reader(model).model_validate(node).__dict__
    except ValidationError as error:
        first = error.errors()[0]
        path = ".".join(str(key) for key in first["loc"])
        raise _invalid(f"{where}.{path}" if path else where, first.get("input")) from None
    for name, path in _time_fields(model):
        value = fields[name]
        if value is not None:
            try:
                datetime.fromisoformat(value)  # any offset or none: the store keeps the text as GitHub sent it
            except (ValueError, OverflowError):
                raise _invalid(f"{where}.{path}", value) from None
    return fields


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
    info = _object(connection.get("pageInfo"), f"{where}.pageInfo")
    if not _bool(info.get("hasNextPage"), f"{where}.pageInfo.hasNextPage"):
        return None
    cursor = info.get("endCursor")
    if not isinstance(cursor, str) or not cursor:
        raise _invalid(f"{where}.pageInfo.endCursor", cursor)
    return cursor


def parse_review(node: Any, where: str) -> ReviewRecord:
    return ReviewRecord.model_validate(_registry_fields(ReviewRecord, node, where), strict=True)


def _reviews(connection: Any, where: str) -> tuple[list[ReviewRecord], str | None]:
    connection = _object(connection, where)
    nodes = _list(connection.get("nodes"), f"{where}.nodes")
    reviews = [parse_review(n, f"{where}.nodes[{i}]") for i, n in enumerate(nodes) if n is not None]
    return reviews, _continuation(connection, where)


def _labels(connection: Any, where: str) -> tuple[list[str], str | None]:
    connection = _object(connection, where)
    nodes = _list(connection.get("nodes"), f"{where}.nodes")
    names = []
    for i, node in enumerate(nodes):
        if node is None:
            continue
        name = _object(node, f"{where}.nodes[{i}]").get("name")
        if not isinstance(name, str):
            raise _invalid(f"{where}.nodes[{i}].name", name)
        names.append(name)
    return names, _continuation(connection, where)


@dataclass
class PartialPullRequest:
    """A PR parsed from a page, with the cursors of nested connections that need more pages."""

    fields: dict[str, Any]  # its registry fields, validated; the record is built once its connections are complete
    reviews: list[ReviewRecord]
    labels: list[str]
    reviews_after: str | None
    labels_after: str | None

    @property
    def number(self) -> int:
        number: int = self.fields["number"]
        return number

    @property
    def updated_at(self) -> str:
        updated_at: str = self.fields["updated_at"]
        return updated_at

    def follow_up(self) -> FollowUp | None:
        if self.reviews_after is None and self.labels_after is None:
            return None
        return FollowUp(self.number, reviews_after=self.reviews_after, labels_after=self.labels_after)

    def to_record(self) -> PullRequestRecord:
        return PullRequestRecord.model_validate(
            {**self.fields, "labels": tuple(self.labels), "reviews": tuple(self.reviews)}, strict=True
        )


def parse_pull_request(node: Any, where: str) -> PartialPullRequest:
    """One PR node, validated field by field (the record's own strict validation), plus its cursors."""
    # Validated now (without its connections), so a malformed field is named before anything is stored.
    fields = _registry_fields(PullRequestRecord, node, where)
    reviews, reviews_after = _reviews(node.get("reviews"), f"{where}.reviews")
    labels, labels_after = _labels(node.get("labels"), f"{where}.labels")
    return PartialPullRequest(
        fields=fields,
        reviews=reviews,
        labels=labels,
        reviews_after=reviews_after,
        labels_after=labels_after,
    )


@dataclass(frozen=True)
class ParsedPage:
    """One page's answer, validated: partial PRs (maybe needing follow-ups) and the page's facts."""

    partials: list[PartialPullRequest]
    has_next_page: bool
    end_cursor: str | None
    total_count: int | None
    head_updated_at: str | None


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
            partial.reviews.extend(reviews)
        if follow_up.labels_after is not None:
            labels, partial.labels_after = _labels(node.get("labels"), f"{where}.labels")
            partial.labels.extend(labels)


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
        if not isinstance(login, str) or not login:
            raise _invalid(f"team.members.nodes[{i}].login", login)
        logins.append(login)
    return logins, _continuation(members, "team.members")
