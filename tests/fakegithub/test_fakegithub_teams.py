"""The fake serves `organization { team(slug:) { members } }` as GitHub does: paged by login, one point per
100 members, NOT_FOUND for an unknown organization, null for an unknown team of a known one."""

from __future__ import annotations

import requests

from ghsync.fakegithub import FakeGitHub, FakeTeam, generate_repository, generate_teams

MEMBERS = """
query($org: String!, $slug: String!, $after: String) {
  rateLimit { cost }
  organization(login: $org) {
    login
    team(slug: $slug) { slug name combinedSlug
      members(first: 100, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { __typename login } }
    }
  }
}
"""


def gql(fake: FakeGitHub, variables: dict) -> dict:
    response = requests.post(
        f"{fake.url}/graphql",
        json={"query": MEMBERS, "variables": variables},
        headers={"Authorization": "bearer t"},
        timeout=10,
    )
    assert response.status_code == 200
    return response.json()


def test_team_members_are_paged_by_login_at_one_point_a_page():
    members = [f"user-{n:03d}" for n in range(150, 0, -1)]
    with FakeGitHub(teams=[FakeTeam("octo-org", "platform", members, "Platform")]) as fake:
        first = gql(fake, {"org": "octo-org", "slug": "platform"})
        team = first["data"]["organization"]["team"]
        cursor = team["members"]["pageInfo"]["endCursor"]
        second = gql(fake, {"org": "octo-org", "slug": "platform", "after": cursor})
    logins = [n["login"] for n in team["members"]["nodes"]]
    logins += [n["login"] for n in second["data"]["organization"]["team"]["members"]["nodes"]]
    assert logins == sorted(members) and team["members"]["totalCount"] == 150
    assert {n["__typename"] for n in team["members"]["nodes"]} == {"User"}
    assert team["combinedSlug"] == "octo-org/platform" and team["name"] == "Platform"
    assert first["data"]["rateLimit"]["cost"] == 1 and second["data"]["rateLimit"]["cost"] == 1
    assert second["data"]["organization"]["team"]["members"]["pageInfo"]["hasNextPage"] is False


def test_an_unknown_organization_is_not_found_in_githubs_shape():
    with FakeGitHub(teams=[FakeTeam("octo-org", "platform", ["alice"])]) as fake:
        body = gql(fake, {"org": "nobody", "slug": "platform"})
    assert body["data"]["organization"] is None
    (error,) = body["errors"]
    assert error["type"] == "NOT_FOUND" and error["path"] == ["organization"]
    assert error["message"] == "Could not resolve to an Organization with the login of 'nobody'."


def test_an_unknown_team_of_a_known_organization_is_null_without_an_error():
    with FakeGitHub([generate_repository("octo-org/api", 5, seed=1)]) as fake:
        body = gql(fake, {"org": "octo-org", "slug": "nope"})
    assert body["data"]["organization"] == {"login": "octo-org", "team": None} and "errors" not in body


def test_generated_teams_are_the_repositorys_human_authors():
    repository = generate_repository("octo-org/api", 300, seed=3)
    teams = generate_teams(repository, size=4, count=2)
    humans = {pr.author for pr in repository.pull_requests if pr.author and not pr.author_is_bot}
    assert [len(t.members) for t in teams] == [4, 4]
    assert all(set(t.members) <= humans and t.organization == "octo-org" for t in teams)
