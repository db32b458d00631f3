"""GraphQL for many repositories at once: an owner's listing and an aliased check of repositories' heads.

Both carry each repository's PR count and newest PR `updatedAt` through one connection,
`pullRequests(first: 1, orderBy: UPDATED_AT DESC) { totalCount nodes { updatedAt } }`: one request per
repository, so 100 repositories cost one point (101 requests with the listing's own connection).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ghsync.github.graphql import RATE_LIMIT_FIELDS, _bool, _continuation, _data, _int, _invalid, _iso, _list, _object
from ghsync.models import ListedRepository, RepositoryHead
from ghsync.validate import is_owner_login, is_repository_name

LISTING_PAGE_SIZE = 100
# Aliased repositories per heads check: 100 requests, one point (GitHub rounds up from 150).
HEADS_BATCH_SIZE = 100
HEAD = "head: pullRequests(first: 1, orderBy: {field: UPDATED_AT, direction: DESC}) { totalCount nodes { updatedAt } }"


def owner_repositories_query(login: str, *, after: str | None, include_forks: bool) -> tuple[str, dict[str, Any]]:
    """One page of the repositories an owner owns (not those it collaborates on), by name.

    Forks are left out by GitHub (`isFork: false`) unless asked for: a repository never becomes a fork.
    Archived ones are listed, so that a tracked repository that became archived is told apart from a
    deleted one.
    """
    variables: dict[str, Any] = {"login": login, "after": after, "isFork": None if include_forks else False}
    query = (
        "query OwnerRepositories($login: String!, $after: String, $isFork: Boolean) { "
        f"{RATE_LIMIT_FIELDS} repositoryOwner(login: $login) {{ login "
        f"repositories(first: {LISTING_PAGE_SIZE}, after: $after, isFork: $isFork, ownerAffiliations: [OWNER], "
        "orderBy: {field: NAME, direction: ASC}) { pageInfo { hasNextPage endCursor } "
        f"nodes {{ nameWithOwner isArchived isFork {HEAD} }} }} }} }}"
    )
    return query, variables


@dataclass(frozen=True)
class OwnerPage:
    login: str
    repositories: tuple[ListedRepository, ...]
    after: str | None  # the next page's cursor, None at the end


def _head(node: dict[str, Any], where: str) -> tuple[int, str | None]:
    head = _object(node.get("head"), f"{where}.head")
    total = _int(head.get("totalCount"), f"{where}.head.totalCount")
    nodes = _list(head.get("nodes"), f"{where}.head.nodes")
    newest = (
        _iso(_object(nodes[0], f"{where}.head.nodes[0]").get("updatedAt"), f"{where}.head.nodes[0].updatedAt")
        if nodes
        else None
    )
    return total, newest


def _split(name_with_owner: Any, where: str) -> tuple[str, str]:
    """OWNER/NAME as GitHub names repositories; anything else (a control character, a space, a path) is a
    malformed answer, never stored nor made into a lock file's name."""
    if not isinstance(name_with_owner, str) or name_with_owner.count("/") != 1:
        raise _invalid(where, name_with_owner)
    owner, name = name_with_owner.split("/")
    if not is_repository_name(owner, name):
        raise _invalid(where, name_with_owner)
    return owner, name


def parse_owner_page(body: Any) -> OwnerPage | None:
    """An OwnerRepositories answer; None when GitHub answered `repositoryOwner: null` (no such owner)."""
    data = _data(body)
    if data.get("repositoryOwner") is None:
        return None
    owner = _object(data["repositoryOwner"], "repositoryOwner")
    login = owner.get("login")
    if not isinstance(login, str) or not is_owner_login(login):
        raise _invalid("repositoryOwner.login", login)
    connection = _object(owner.get("repositories"), "repositories")
    listed = []
    for index, node in enumerate(_list(connection.get("nodes"), "repositories.nodes")):
        if node is None:
            continue
        where = f"repositories.nodes[{index}]"
        node = _object(node, where)
        repo_owner, name = _split(node.get("nameWithOwner"), f"{where}.nameWithOwner")
        total, newest = _head(node, where)
        listed.append(
            ListedRepository(
                owner=repo_owner,
                name=name,
                is_archived=_bool(node.get("isArchived"), f"{where}.isArchived"),
                is_fork=_bool(node.get("isFork"), f"{where}.isFork"),
                prs_total=total,
                head_updated_at=newest,
            )
        )
    return OwnerPage(login=login, repositories=tuple(listed), after=_continuation(connection, "repositories"))


def repository_heads_query(full_names: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """One aliased query reading many repositories' heads (one request each)."""
    declared, parts, variables = [], [], {}
    for index, full_name in enumerate(full_names):
        owner, name = full_name.split("/")
        declared += [f"$o{index}: String!", f"$n{index}: String!"]
        variables[f"o{index}"], variables[f"n{index}"] = owner, name
        parts.append(f"r{index}: repository(owner: $o{index}, name: $n{index}) {{ nameWithOwner {HEAD} }}")
    query = f"query RepositoryHeads({', '.join(declared)}) {{ {RATE_LIMIT_FIELDS} {' '.join(parts)} }}"
    return query, variables


def parse_repository_heads(body: Any, full_names: Sequence[str]) -> dict[str, RepositoryHead]:
    """A RepositoryHeads answer: the heads of the repositories GitHub found, by the asked name."""
    data = _data(body)
    heads = {}
    for index, full_name in enumerate(full_names):
        node = data.get(f"r{index}")
        if node is None:
            continue
        total, newest = _head(_object(node, f"r{index}"), f"repository({full_name})")
        heads[full_name] = RepositoryHead(full_name=full_name, prs_total=total, head_updated_at=newest)
    return heads
