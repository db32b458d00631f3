"""A GitHub team's members, read page by page through GraphQL (one point per 100 members)."""

from __future__ import annotations

from ghsync.errors import GitHubError, RepositoryNotFound
from ghsync.github.graphql import parse_team_members, team_members_query
from ghsync.github.pulls import GitHubPullRequestSource


def team_members(source: GitHubPullRequestSource, organization: str, slug: str) -> tuple[str, ...]:
    """Every member login of ORGANIZATION/SLUG, in GitHub's order; a GitHubError naming the team when the
    organization or the team does not exist (or the token cannot see it)."""
    members: list[str] = []
    after: str | None = None
    while True:
        try:
            body = source.query(*team_members_query(organization, slug, after))
        except RepositoryNotFound as error:  # GitHub's NOT_FOUND: no such organization
            raise GitHubError(f"team {organization}/{slug}: {error}") from None
        page = parse_team_members(body)
        if page is None:
            raise GitHubError(
                f"team {organization}/{slug}: organization {organization} has no team {slug!r} "
                "(or the token cannot see it)"
            )
        logins, after = page
        members.extend(logins)
        if after is None:
            return tuple(members)
