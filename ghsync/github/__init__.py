"""Everything that talks to GitHub: client, GraphQL, token pool and the pull-request Source."""
