"""GraphQL documents for pull-request pages, GitHub's cost formula, and JSON → record parsing (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ghsync.models import PullRequestRecord, RateLimitState, ReviewRecord

# Nested pages: a connection's `first` does not change the cost of a page (only nested connections
# below it would), so ask for the maximum and rarely need a follow-up.
NESTED_PAGE_SIZE = 100
# Connections under each PR in PR_FIELDS: commits{totalCount}, labels, reviews.
CONNECTIONS_PER_PULL_REQUEST = 3
MAX_PAGE_SIZE = 100

RATE_LIMIT_FIELDS = "rateLimit { cost limit remaining used resetAt }"

REVIEW_FIELDS = "author { login } state submittedAt id fullDatabaseId"
LABELS = f"labels(first: {NESTED_PAGE_SIZE}) {{ totalCount pageInfo {{ hasNextPage endCursor }} nodes {{ name }} }}"
REVIEWS = (
    f"reviews(first: {NESTED_PAGE_SIZE}) {{ totalCount pageInfo {{ hasNextPage endCursor }} "
    f"nodes {{ {REVIEW_FIELDS} }} }}"
)
PR_FIELDS = (
    "number title state isDraft url id fullDatabaseId createdAt updatedAt closedAt mergedAt additions deletions "
    "changedFiles "
    "baseRefName headRefName author { login } mergedBy { login } commits { totalCount } "
    f"{LABELS} {REVIEWS}"
)


def graphql_cost(requests: int) -> int:
    """GitHub's documented formula: requests / 100, rounded (half up, as GitHub's Ruby does), at least 1."""
    return max(1, (requests + 50) // 100)


def page_requests(page_size: int, *, extra_connections: int) -> int:
    """Requests a PR page needs: the page itself, one per nested connection per PR, plus extras."""
    return 1 + page_size * CONNECTIONS_PER_PULL_REQUEST + extra_connections


def cheapest_page_size(*, extra_connections: int, limit: int = MAX_PAGE_SIZE) -> int:
    """The page size with the most PRs per point (the larger one on a tie), at most `limit`."""
    best_size, best_ratio = 1, 0.0
    for size in range(1, max(1, limit) + 1):
        ratio = size / graphql_cost(page_requests(size, extra_connections=extra_connections))
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


@dataclass(frozen=True)
class PageRequest:
    """One page of a repository's PRs, newest-updated first."""

    owner: str
    name: str
    page_size: int
    after: str | None = None
    # "all": also count every PR; an ISO time: also count PRs updated since then; None: no count.
    count: str | None = None
    # Also read the newest updatedAt in the repository (free at the chosen page size).
    with_head: bool = True

    @property
    def extra_connections(self) -> int:
        return int(self.with_head) + int(self.count not in (None, "all"))


def pull_request_page_query(request: PageRequest) -> tuple[str, dict[str, Any]]:
    variables: dict[str, Any] = {
        "owner": request.owner,
        "name": request.name,
        "pageSize": request.page_size,
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
        f"query PullRequestPage({declared}) {{ {RATE_LIMIT_FIELDS} viewer {{ login }} "
        "repository(owner: $owner, name: $name) { nameWithOwner "
        "pullRequests(first: $pageSize, after: $after, orderBy: {field: UPDATED_AT, direction: DESC}) "
        f"{{ totalCount pageInfo {{ hasNextPage endCursor }} nodes {{ {PR_FIELDS} }} }} "
        f"{head if request.with_head else ''} }} {window_count} }}"
    )
    return query, variables


@dataclass(frozen=True)
class FollowUp:
    """A PR whose reviews or labels did not fit in the page: continue after these cursors."""

    number: int
    reviews_after: str | None = None
    labels_after: str | None = None


def follow_up_query(owner: str, name: str, follow_ups: list[FollowUp]) -> tuple[str, dict[str, Any]]:
    """One query continuing many PRs' nested connections at once, through aliases."""
    parts = []
    variables: dict[str, Any] = {"owner": owner, "name": name}
    declared = ["$owner: String!", "$name: String!"]
    for index, follow_up in enumerate(follow_ups):
        fields = []
        if follow_up.reviews_after is not None:
            declared.append(f"$r{index}: String")
            variables[f"r{index}"] = follow_up.reviews_after
            fields.append(
                f"reviews(first: {NESTED_PAGE_SIZE}, after: $r{index}) "
                f"{{ pageInfo {{ hasNextPage endCursor }} nodes {{ {REVIEW_FIELDS} }} }}"
            )
        if follow_up.labels_after is not None:
            declared.append(f"$l{index}: String")
            variables[f"l{index}"] = follow_up.labels_after
            fields.append(
                f"labels(first: {NESTED_PAGE_SIZE}, after: $l{index}) "
                "{ pageInfo { hasNextPage endCursor } nodes { name } }"
            )
        parts.append(f"pr{index}: pullRequest(number: {follow_up.number}) {{ number {' '.join(fields)} }}")
    query = (
        f"query PullRequestFollowUps({', '.join(declared)}) {{ {RATE_LIMIT_FIELDS} "
        f"repository(owner: $owner, name: $name) {{ {' '.join(parts)} }} }}"
    )
    return query, variables


# Aliased continuations per follow-up query that still cost one point (at most 2 connections each).
FOLLOW_UP_BATCH_SIZE = 74


# --- parsing ------------------------------------------------------------------------------------


@dataclass
class PartialPullRequest:
    """A PR parsed from a page, with the cursors of nested connections that need more pages."""

    fields: dict[str, Any]
    reviews: list[ReviewRecord]
    labels: list[str]
    reviews_after: str | None
    labels_after: str | None

    def follow_up(self) -> FollowUp | None:
        if self.reviews_after is None and self.labels_after is None:
            return None
        return FollowUp(self.fields["number"], reviews_after=self.reviews_after, labels_after=self.labels_after)

    def to_record(self) -> PullRequestRecord:
        return PullRequestRecord(**self.fields, labels=tuple(self.labels), reviews=tuple(self.reviews))


@dataclass(frozen=True)
class PullRequestPage:
    partials: list[PartialPullRequest]
    has_next_page: bool
    end_cursor: str | None
    total_count: int | None
    head_updated_at: str | None
    rate_limit: RateLimitState | None
    viewer_login: str | None


def login_of(actor: dict[str, Any] | None) -> str | None:
    return actor["login"] if actor else None


def parse_review(node: dict[str, Any]) -> ReviewRecord:
    return ReviewRecord(
        author=login_of(node.get("author")),
        state=node["state"],
        submitted_at=node.get("submittedAt"),
        node_id=node.get("id"),
        database_id=node.get("fullDatabaseId"),
    )


def _continuation(connection: dict[str, Any] | None) -> str | None:
    if not connection:
        return None
    info = connection.get("pageInfo") or {}
    return info.get("endCursor") if info.get("hasNextPage") else None


def parse_pull_request(node: dict[str, Any]) -> PartialPullRequest:
    reviews = node.get("reviews") or {"nodes": []}
    labels = node.get("labels") or {"nodes": []}
    fields = {
        "number": node["number"],
        "title": node["title"],
        "state": node["state"],
        "is_draft": node["isDraft"],
        "author": login_of(node.get("author")),
        "created_at": node["createdAt"],
        "updated_at": node["updatedAt"],
        "closed_at": node.get("closedAt"),
        "merged_at": node.get("mergedAt"),
        "merged_by": login_of(node.get("mergedBy")),
        "additions": node.get("additions"),
        "deletions": node.get("deletions"),
        "changed_files": node.get("changedFiles"),
        "commits": (node.get("commits") or {}).get("totalCount"),
        "base_ref": node["baseRefName"],
        "head_ref": node["headRefName"],
        "url": node.get("url"),
        "node_id": node.get("id"),
        "database_id": node.get("fullDatabaseId"),  # BigInt: a string; the record makes it an int
    }
    return PartialPullRequest(
        fields=fields,
        reviews=[parse_review(n) for n in reviews["nodes"] if n is not None],
        labels=[n["name"] for n in labels["nodes"] if n is not None],
        reviews_after=_continuation(reviews),
        labels_after=_continuation(labels),
    )


def parse_rate_limit(data: dict[str, Any] | None) -> RateLimitState | None:
    if not data:
        return None
    from datetime import datetime

    reset = int(datetime.fromisoformat(data["resetAt"].replace("Z", "+00:00")).timestamp())
    return RateLimitState(
        resource="graphql", limit=data["limit"], remaining=data["remaining"], used=data["used"], reset_at=reset
    )


def parse_pull_request_page(body: dict[str, Any]) -> PullRequestPage:
    data = body["data"]
    repository = data["repository"]
    connection = repository["pullRequests"]
    head_nodes = (repository.get("head") or {}).get("nodes") or []
    total = connection.get("totalCount")
    if data.get("windowCount") is not None:
        total = data["windowCount"]["issueCount"]
    return PullRequestPage(
        partials=[parse_pull_request(node) for node in connection["nodes"] if node is not None],
        has_next_page=connection["pageInfo"]["hasNextPage"],
        end_cursor=connection["pageInfo"]["endCursor"],
        total_count=total,
        head_updated_at=head_nodes[0]["updatedAt"] if head_nodes else None,
        rate_limit=parse_rate_limit(data.get("rateLimit")),
        viewer_login=login_of(data.get("viewer")),
    )


def apply_follow_ups(partials: dict[int, PartialPullRequest], body: dict[str, Any], follow_ups: list[FollowUp]) -> None:
    """Add one follow-up answer's reviews and labels to the partial PRs, moving their cursors on."""
    repository = body["data"]["repository"]
    for index, follow_up in enumerate(follow_ups):
        node = repository.get(f"pr{index}")
        partial = partials[follow_up.number]
        if node is None:
            # The PR vanished between pages (deleted, transferred): keep what we have.
            partial.reviews_after = partial.labels_after = None
            continue
        if follow_up.reviews_after is not None:
            connection = node["reviews"]
            partial.reviews.extend(parse_review(n) for n in connection["nodes"] if n is not None)
            partial.reviews_after = _continuation(connection)
        if follow_up.labels_after is not None:
            connection = node["labels"]
            partial.labels.extend(n["name"] for n in connection["nodes"] if n is not None)
            partial.labels_after = _continuation(connection)
