"""A faithful local fake of GitHub's GraphQL and REST APIs (tests, benchmarks, ``ghsync demo``).

from ghsync.fakegithub import FakeGitHub, generate_repository
with FakeGitHub([generate_repository("demo/widgets", 2000)]) as fake:
    ...  # Github(auth=Auth.Token("t"), base_url=fake.url, ...)
"""

from .data import FakePullRequest, FakeRepository, FakeReview, generate_repository, load_dataset
from .server import FakeGitHub

__all__ = [
    "FakeGitHub",
    "FakePullRequest",
    "FakeRepository",
    "FakeReview",
    "generate_repository",
    "load_dataset",
]
