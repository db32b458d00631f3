"""GitHub's documented GraphQL rate-limit cost, computed before a query runs.

GitHub's formula (docs.github.com, "Rate limits and node limits for the GraphQL API"):

1. **Requests.** Every field that returns a connection (here: any type whose name ends in
   ``Connection``) is one request for each parent object that could hold it. The top level counts
   1, so a connection directly under ``repository`` costs 1 request; a connection nested under a
   connection costs the product of the ``first``/``last`` values of all its enclosing connections.
   A connection's own ``first``/``last`` multiplies its children. A connection that asks only for
   ``totalCount``/``pageInfo`` (allowed without ``first``/``last``) counts as one request with
   multiplier 1 for its (non-existent) children. Aliased duplicates each count.
   ``rateLimit`` and ``viewer`` are plain objects, not connections. Whether GitHub charges a
   count-only connection is unverified: ``count_only_free=True`` prices it at 0 requests instead.
2. **Points.** ``points = max(1, round(requests / 100))`` with halves rounded up.
3. **Nodes.** The node count is the sum, over connections with ``first``/``last``, of the product
   of that value and its enclosing connections' values; a query may request at most 500,000.

GitHub's own example — ``viewer { repositories(first: 100) { issues(first: 50) { labels(first: 60)
}}}`` — is 1 + 100 + 100·50 = 5,101 requests → 51 points (305,100 nodes). A pull-request page
``pullRequests(first: 49) { reviews(first: 100) labels(first: 100) commits { totalCount } }`` is
1 + 3·49 = 148 requests → 1 point; with ``first: 50`` it is 151 → 2 points.

Validation done here, with GitHub's messages and error types:

* ``first``/``last`` above 100 → ``EXCESSIVE_PAGINATION``: "Requesting 101 records on the
  `pullRequests` connection exceeds the `first` limit of 100 records."
* below 0 → "`first` on the `reviews` connection cannot be less than zero." (GitHub accepts 0.)
* ``nodes``/``edges`` without ``first``/``last`` → ``MISSING_PAGINATION_BOUNDARIES``: "You must
  provide a `first` or `last` value to properly paginate the `reviews` connection."
* both ``first`` and ``last`` → "Passing both `first` and `last` to paginate the `labels`
  connection is not supported."
* more than 500,000 nodes → ``MAX_NODE_LIMIT_EXCEEDED``.

Without a schema, a field counts as a connection when it takes ``first``/``last`` or selects
``nodes``/``edges``/``totalCount``/``pageInfo`` (good enough for ad-hoc documents like GitHub's
example, whose types are not in the bundled schema subset).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    build_schema,
    get_named_type,
    parse,
)

__all__ = [
    "MAX_NODES",
    "MAX_PAGE_SIZE",
    "ConnectionCost",
    "QueryCost",
    "calculate_cost",
    "default_schema",
    "points_for",
]

MAX_PAGE_SIZE = 100
MAX_NODES = 500_000
SCHEMA_PATH = Path(__file__).with_name("schema.graphql")
_PAGING_FIELDS = frozenset({"nodes", "edges", "totalCount", "pageInfo"})


@lru_cache(maxsize=1)
def default_schema() -> GraphQLSchema:
    """The bundled GitHub schema subset (without resolvers)."""
    return build_schema(SCHEMA_PATH.read_text(encoding="utf-8"))


def points_for(requests: int) -> int:
    """GitHub's points for a number of requests: requests/100 rounded half up, at least 1."""
    return max(1, (requests + 50) // 100)


@dataclass(frozen=True)
class ConnectionCost:
    path: tuple[str, ...]  # response keys (aliases) from the root to this connection
    name: str  # the schema field name, e.g. "pullRequests"
    first: int | None
    last: int | None
    requests: int  # what this connection adds (the product of its enclosing page sizes)


@dataclass(frozen=True)
class QueryCost:
    requests: int
    points: int
    node_count: int
    connections: tuple[ConnectionCost, ...] = ()
    # GitHub-shaped error dicts ({"type", "path", "locations", "message"}); empty when valid.
    errors: tuple[dict[str, Any], ...] = field(default=())

    def page_size(self, name: str) -> int:
        """The largest first/last given to connections called `name` (0 if none)."""
        return max((max(c.first or 0, c.last or 0) for c in self.connections if c.name == name), default=0)


class _Walker:
    def __init__(
        self,
        document: DocumentNode,
        variables: dict[str, Any],
        schema: GraphQLSchema | None,
        operation: OperationDefinitionNode,
        count_only_free: bool = False,
    ):
        self.schema = schema
        self.count_only_free = count_only_free
        self.variables = variables
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.defaults: dict[str, Any] = {}
        for vd in operation.variable_definitions or ():
            if vd.default_value is not None and isinstance(vd.default_value, IntValueNode):
                self.defaults[vd.variable.name.value] = int(vd.default_value.value)
        self.requests = 0
        self.nodes = 0
        self.connections: list[ConnectionCost] = []
        self.errors: list[dict[str, Any]] = []

    # -- helpers
    def _int_arg(self, node: FieldNode, name: str) -> int | None:
        for arg in node.arguments or ():
            if arg.name.value != name:
                continue
            v = arg.value
            if isinstance(v, IntValueNode):
                return int(v.value)
            if isinstance(v, NullValueNode):
                return None
            if isinstance(v, VariableNode):
                var = v.name.value
                value = self.variables[var] if var in self.variables else self.defaults.get(var)
                return value if isinstance(value, int) and not isinstance(value, bool) else None
            return None
        return None

    def _flatten(self, selection_set: SelectionSetNode | None, parent_type: Any, seen: frozenset[str] = frozenset()):
        """Yield (FieldNode, parent type) for every field in a selection set, through fragments."""
        if selection_set is None:
            return
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                yield sel, parent_type
            elif isinstance(sel, InlineFragmentNode):
                t = parent_type
                if sel.type_condition is not None and self.schema is not None:
                    t = self.schema.get_type(sel.type_condition.name.value) or parent_type
                yield from self._flatten(sel.selection_set, t, seen)
            elif isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                frag = self.fragments.get(name)
                if frag is None or name in seen:
                    continue
                t = parent_type
                if self.schema is not None:
                    t = self.schema.get_type(frag.type_condition.name.value) or parent_type
                yield from self._flatten(frag.selection_set, t, seen | {name})

    def _field_type(self, parent_type: Any, name: str) -> Any:
        if self.schema is None or parent_type is None:
            return None
        fields = getattr(parent_type, "fields", None)
        if not fields or name not in fields:
            return None
        return get_named_type(fields[name].type)

    def _is_connection(self, node: FieldNode, ftype: Any) -> bool:
        if self.schema is not None and ftype is not None:
            return ftype.name.endswith("Connection")
        if self.schema is not None:
            return False
        if any(a.name.value in ("first", "last") for a in node.arguments or ()):
            return True
        return any(f.name.value in _PAGING_FIELDS for f, _ in self._flatten(node.selection_set, None))

    # -- the walk
    def walk(
        self, selection_set: SelectionSetNode | None, parent_type: Any, multiplier: int, path: tuple[str, ...]
    ) -> None:
        for node, ptype in self._flatten(selection_set, parent_type):
            name = node.name.value
            if name.startswith("__"):
                continue
            key = node.alias.value if node.alias else name
            ftype = self._field_type(ptype, name)
            here = path + (key,)
            if not self._is_connection(node, ftype):
                if node.selection_set is not None:
                    self.walk(node.selection_set, ftype, multiplier, here)
                continue
            first = self._int_arg(node, "first")
            last = self._int_arg(node, "last")
            loc = (
                [
                    {
                        "line": node.loc.source.get_location(node.loc.start).line,
                        "column": node.loc.source.get_location(node.loc.start).column,
                    }
                ]
                if node.loc
                else []
            )
            size: int | None = None
            count_only = first is None and last is None
            if first is not None and last is not None:
                self._error(
                    None,
                    here,
                    loc,
                    f"Passing both `first` and `last` to paginate the `{name}` connection is not supported.",
                )
            for arg, value in (("first", first), ("last", last)):
                if value is None:
                    continue
                if value > MAX_PAGE_SIZE:
                    self._error(
                        "EXCESSIVE_PAGINATION",
                        here,
                        loc,
                        f"Requesting {value} records on the `{name}` connection exceeds the "
                        f"`{arg}` limit of {MAX_PAGE_SIZE} records.",
                    )
                elif value < 0:
                    self._error(None, here, loc, f"`{arg}` on the `{name}` connection cannot be less than zero.")
                size = value if size is None else max(size, value)
            if size is None:
                asks_items = any(
                    f.name.value in ("nodes", "edges") for f, _ in self._flatten(node.selection_set, ftype)
                )
                if asks_items:
                    self._error(
                        "MISSING_PAGINATION_BOUNDARIES",
                        here,
                        loc,
                        f"You must provide a `first` or `last` value to properly paginate the `{name}` connection.",
                    )
            charged = 0 if count_only and self.count_only_free else multiplier
            self.requests += charged
            self.connections.append(ConnectionCost(here, name, first, last, charged))
            child = multiplier
            if size is not None:
                size = max(0, min(size, MAX_PAGE_SIZE))
                child = multiplier * size
                self.nodes += child
                if self.nodes > MAX_NODES and not any(e.get("type") == "MAX_NODE_LIMIT_EXCEEDED" for e in self.errors):
                    self._error(
                        "MAX_NODE_LIMIT_EXCEEDED",
                        here,
                        loc,
                        f"By the time this query traverses to the {name} connection, it is requesting "
                        f"up to {self.nodes:,} possible nodes which exceeds the maximum limit of "
                        f"{MAX_NODES:,}.",
                    )
            self.walk(node.selection_set, ftype, child, here)

    def _error(self, type_: str | None, path: tuple[str, ...], locations: list[dict[str, int]], message: str) -> None:
        err: dict[str, Any] = {}
        if type_:
            err["type"] = type_
        err["path"] = list(path)
        if locations:
            err["locations"] = locations
        err["message"] = message
        self.errors.append(err)


def _select_operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        return next((o for o in ops if o.name and o.name.value == operation_name), None)
    return ops[0] if len(ops) == 1 else None


def calculate_cost(
    document: DocumentNode | str,
    variables: dict[str, Any] | None = None,
    *,
    schema: GraphQLSchema | None | bool = True,
    operation_name: str | None = None,
    count_only_free: bool = False,
) -> QueryCost:
    """Cost of one operation of `document` per GitHub's formula (see the module docstring).

    `schema=True` (default) uses the bundled GitHub schema to tell connections apart; pass a schema
    of your own, or `None` for the schema-less heuristic. Variables are read as given (ints only).
    """
    if isinstance(document, str):
        document = parse(document)
    if schema is True:
        schema = default_schema()
    elif schema is False:
        schema = None
    operation = _select_operation(document, operation_name)
    if operation is None:
        return QueryCost(0, 1, 0, (), ({"message": "An operation name is required or the operation was not found."},))
    root = None
    if schema is not None:
        root = {
            "query": schema.query_type,
            "mutation": schema.mutation_type,
            "subscription": schema.subscription_type,
        }.get(operation.operation.value)
    walker = _Walker(document, dict(variables or {}), schema, operation, count_only_free)
    walker.walk(operation.selection_set, root, 1, ())
    return QueryCost(
        requests=walker.requests,
        points=points_for(walker.requests),
        node_count=walker.nodes,
        connections=tuple(walker.connections),
        errors=tuple(walker.errors),
    )
