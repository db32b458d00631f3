"""The weekly digest: its scope, content and delivery by email and Slack, once per scope and week."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import SecretStr

from ghsync.config import Settings
from ghsync.digest.build import DEFAULT_CHART_WEEKS, Digest, ScopeRepository
from ghsync.errors import GhsyncError, PartlyDelivered, StoreError, UsageError
from ghsync.metrics import PeopleFilter
from ghsync.models import (
    DeliveryStatus,
    DigestDelivery,
    LeftOutRepository,
    PullRequestRecord,
    Repository,
    SyncStatus,
    Team,
)
from ghsync.service.common import _all_teams, _members, _open_store, _people
from ghsync.service.weekly import _scope
from ghsync.store import SqliteStore
from ghsync.store.lock import digest_lock
from ghsync.timefmt import iso, parse_iso_or_none
from ghsync.validate import parse_repository_slug


@dataclass(frozen=True)
class DigestScope:
    """What a digest covers: the one thing scope resolution hands to everything after it.

    key: stable, for de-duplication (`all`, `owner:acme`, `repos:acme/a,acme/b`, `team:platform`);
    name: what people read (`platform`, `acme`, `acme/rockets`); pull_requests: a fresh stream of
    (repository full name, PR) with bots already left out, each call reading from the start.
    """

    key: str
    name: str
    repository_ids: tuple[int, ...]
    repositories: tuple[ScopeRepository, ...]
    pull_requests: Callable[[], Iterator[tuple[str, PullRequestRecord]]]
    # Who counts as a bot (None with bots included): their PRs are not in the stream, their reviews
    # are left out of the metrics.
    people: PeopleFilter | None = None
    # The untracked repositories a team names: left out, and said so in the digest's notices.
    left_out: tuple[LeftOutRepository, ...] = ()


def digest_scope(
    settings: Settings,
    store: SqliteStore,
    repositories: Sequence[str],
    owner: str | None,
    team: str | None,
) -> DigestScope:
    """Resolve `digest`'s scope as `metrics` does: the named repositories, every tracked repository of
    `owner`, a team (its repositories and members), or (the default) every tracked repository; PRs by
    bots (by GitHub's __typename or the `exclude_authors` patterns) are left out.

    The only place that decides which repositories and PRs a digest covers: replace it, and the
    content, the delivery and the de-duplication follow. Raises UsageError (exit 2) for bad input.
    """
    given = sum(1 for part in (bool(repositories), owner is not None, team is not None) if part)
    if given > 1:
        raise UsageError("give repositories, --owner or --team, not several")
    tracked = [r for r in store.list_repositories() if r.sync_status != SyncStatus.UNTRACKED]
    chosen_team: Team | None = None
    left_out: tuple[LeftOutRepository, ...] = ()
    if team is not None:
        teams = {t.name: t for t in _all_teams(settings, store, using=[team])}
        chosen_team = teams.get(team)
        if chosen_team is None:
            known = ", ".join(sorted(teams)) or "none"
            raise UsageError(f"unknown team {team} (teams: {known}); see `ghsync team list`")
        selected, left_out = _scope(store, (), owner=None, team=chosen_team, host=settings.github_host())
        key, name = f"team:{chosen_team.name}", chosen_team.name
    elif repositories:
        chosen: dict[int, Repository] = {}
        for slug in repositories:
            repository = store.get_repository(parse_repository_slug(slug, settings.github_host()))
            chosen.setdefault(repository.id, repository)
        selected = sorted(chosen.values(), key=lambda r: r.full_name.casefold())
        key = "repos:" + ",".join(r.full_name.casefold() for r in selected)
        name = ", ".join(r.full_name for r in selected)
    elif owner is not None:
        selected = [r for r in tracked if r.owner.casefold() == owner.strip().casefold()]
        if not selected:
            raise UsageError(f"no tracked repository belongs to {owner}: run `ghsync track {owner}/REPO` first")
        key, name = f"owner:{selected[0].owner.casefold()}", selected[0].owner
    else:
        selected = tracked
        if not selected:
            raise UsageError("no repositories are tracked: run `ghsync track OWNER/REPO` first")
        key, name = "all", "all repositories"

    people = _people(settings, include_bots=False)
    members = _members(chosen_team) if chosen_team is not None else None

    def pull_requests() -> Iterator[tuple[str, PullRequestRecord]]:
        for repository in selected:
            for pr in store.iter_pull_requests(repository.id):
                if people is not None and people.is_bot(pr.author, pr.author_type):
                    continue
                if members is not None and (pr.author is None or pr.author.lower() not in members):
                    continue
                yield repository.full_name, pr

    return DigestScope(
        key=key,
        name=name,
        repository_ids=tuple(r.id for r in selected),
        repositories=tuple(
            # The stored coverage, as `metrics` reads it: not `now - days_back`, which slides forward with
            # every run although incremental syncs keep the older PRs complete.
            ScopeRepository(
                full_name=r.full_name,
                coverage_start=parse_iso_or_none(r.coverage_start),
                last_synced_at=parse_iso_or_none(r.last_synced_at),
                whole_history=r.whole_history_stored,
            )
            for r in selected
        ),
        pull_requests=pull_requests,
        people=people,
        left_out=left_out,
    )


class DigestChannel(StrEnum):
    EMAIL = "email"
    SLACK = "slack"


class ChannelStatus(StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"  # this scope's week already reached the channel
    FAILED = "failed"
    # Some recipients refused it, the others have it: recorded as sent (a retry would mail them again), and
    # reported as a failure.
    PARTLY_SENT = "partly sent"


@dataclass(frozen=True)
class ChannelOutcome:
    """What happened on one channel; detail: the recipients, or why it failed (secrets never in it)."""

    channel: DigestChannel
    status: ChannelStatus
    detail: str = ""


@dataclass(frozen=True)
class DigestResult:
    scope_key: str
    digest: Digest
    text: str  # the plain-text digest (what --dry-run prints)
    outcomes: tuple[ChannelOutcome, ...] = ()

    @property
    def failed(self) -> bool:
        return any(outcome.status in (ChannelStatus.FAILED, ChannelStatus.PARTLY_SENT) for outcome in self.outcomes)


@dataclass(frozen=True)
class _Channels:
    recipients: tuple[str, ...]
    webhook: SecretStr | None

    @property
    def empty(self) -> bool:
        return not self.recipients and self.webhook is None


def _digest_channels(settings: Settings, to: Sequence[str], slack_webhook: SecretStr | None) -> _Channels:
    """Where to send: bad or missing configuration is bad usage (exit 2), found before anything is sent."""
    from ghsync.notify.settings import parse_recipients
    from ghsync.notify.slack import check_webhook_url

    smtp = settings.smtp()
    try:
        given = parse_recipients(list(to))
    except ValueError as error:
        raise UsageError(f"--to: {error}") from None
    if given and not smtp.enabled:
        raise UsageError("--to needs an SMTP server: set GHSYNC_SMTP_HOST")
    recipients = given or (smtp.default_recipients if smtp.enabled else ())
    webhook = slack_webhook if slack_webhook is not None else settings.slack_webhook
    if webhook is not None and not webhook.get_secret_value().strip():
        webhook = None
    if webhook is not None:
        check_webhook_url(webhook)
    return _Channels(tuple(recipients), webhook)


def _without_secrets(text: str, secrets: Sequence[str]) -> str:
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def send_digest(
    settings: Settings,
    repositories: Sequence[str] = (),
    *,
    owner: str | None = None,
    team: str | None = None,
    to: Sequence[str] = (),
    slack_webhook: SecretStr | None = None,
    weeks: int = DEFAULT_CHART_WEEKS,
    dry_run: bool = False,
    force: bool = False,
    now: datetime,
) -> DigestResult:
    """Build the scope's digest of the last complete week before `now` and deliver it by email and/or
    Slack, each channel at most once per scope and week unless `force`; every attempt is recorded.

    A failing channel does not stop the others (its outcome says why). `dry_run`: build only —
    nothing is sent or recorded and no channel is needed.
    """
    from ghsync.digest.build import build_digest
    from ghsync.digest.render import digest_blocks, digest_email, digest_text

    if weeks < 1:
        raise UsageError(f"--weeks must be at least 1, not {weeks}")
    channels = _digest_channels(settings, to, slack_webhook)
    if channels.empty and not dry_run:
        raise UsageError(
            "no channel to send the digest to: pass --to ADDRESS (with GHSYNC_SMTP_HOST set) or --slack-webhook URL, "
            "or set GHSYNC_NOTIFY_TO / GHSYNC_SLACK_WEBHOOK"
        )
    # One connection for choosing the scope, reading its PRs (lazily) and recording the delivery.
    with _open_store(settings) as store:
        scope = digest_scope(settings, store, repositories, owner, team)
        try:
            digest = build_digest(
                scope.name,
                scope.pull_requests(),
                scope.repositories,
                now=now,
                weeks=weeks,
                people=scope.people,
                left_out=scope.left_out,
            )
        except ValueError as error:
            raise StoreError(f"cannot build the digest: {error}") from None
        result = DigestResult(scope.key, digest, digest_text(digest))
        if dry_run:
            return result

        smtp = settings.smtp()
        secrets = [
            smtp.password.get_secret_value() if smtp.password is not None else "",
            channels.webhook.get_secret_value() if channels.webhook is not None else "",
        ]
        webhook = channels.webhook

        def send_email_digest() -> str:
            from ghsync.notify.smtp import local_hostname, send_email

            sender = smtp.from_addr or f"ghsync@{local_hostname()}"
            send_email(smtp, digest_email(digest, recipients=channels.recipients, sender=sender))
            return "to " + ", ".join(channels.recipients)

        def send_slack_digest() -> str:
            from ghsync.notify.slack import post_webhook

            assert webhook is not None
            post_webhook(webhook, digest_blocks(digest), timeout=settings.slack_timeout)
            return ""

        plan: list[tuple[DigestChannel, Callable[[], str]]] = []
        if channels.recipients:
            plan.append((DigestChannel.EMAIL, send_email_digest))
        if webhook is not None:
            plan.append((DigestChannel.SLACK, send_slack_digest))

        week = digest.week.isoformat()
        # Checked, sent and recorded under the scope's lock: an overlapping run waits for nothing and exits 75.
        with digest_lock(settings.db, scope.key):
            outcomes = _deliver(store, scope.key, week, plan, force=force, now=now, secrets=secrets)
        return DigestResult(scope.key, digest, result.text, tuple(outcomes))


def _deliver(
    store: SqliteStore,
    scope_key: str,
    week: str,
    plan: Sequence[tuple[DigestChannel, Callable[[], str]]],
    *,
    force: bool,
    now: datetime,
    secrets: Sequence[str],
) -> list[ChannelOutcome]:
    """Send on each channel that has not had this scope's week (all with `force`), recording every attempt."""
    outcomes = []
    for channel, send in plan:
        if not force and store.digest_sent(scope_key, week, channel):
            outcomes.append(ChannelOutcome(channel, ChannelStatus.SKIPPED))
            continue
        shown: ChannelStatus | None = None
        # Recorded before the send: a database that cannot record the attempt stops here, nothing sent.
        attempt = store.record_digest(
            DigestDelivery(
                scope=scope_key, week=week, channel=channel, sent_at=iso(now.timestamp()), status=DeliveryStatus.SENDING
            )
        )
        try:
            detail = send()
            status = DeliveryStatus.SENT
        except PartlyDelivered as error:
            detail, status, shown = (
                _without_secrets(str(error), secrets),
                DeliveryStatus.SENT,
                ChannelStatus.PARTLY_SENT,
            )
        except GhsyncError as error:
            detail, status = _without_secrets(str(error), secrets), DeliveryStatus.FAILED
        except Exception as error:  # noqa: BLE001 - one channel's surprise must not keep the other from its digest
            detail = _without_secrets(f"unexpected {type(error).__name__}: {error}", secrets)
            status = DeliveryStatus.FAILED
        try:
            store.settle_digest(attempt, status, detail or None)
        except StoreError as error:
            if status != DeliveryStatus.SENT:
                raise
            # It went out: a rerun would send it again. Said as it is, not as "try again later".
            raise StoreError(
                f"the digest was sent by {channel}, but the database could not record it ({error}): "
                "a rerun sends it again"
            ) from None
        outcomes.append(
            ChannelOutcome(
                channel,
                shown or (ChannelStatus.SENT if status == DeliveryStatus.SENT else ChannelStatus.FAILED),
                detail,
            )
        )
    return outcomes
