"""The Monday digest, pure: `build` decides what it says (a scope's week), `render` writes it as text, HTML and
Block Kit. Nothing is imported here, so importing ghsync.digest.build costs no email or HTML machinery."""
