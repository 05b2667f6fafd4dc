"""Configuration as code (docs/config.md): a YAML or JSON file applied to, and exported from, the same rows
the admin edits. load -> schema (the format) -> references and secrets (checks) -> one apply function per
section, in one transaction; export writes the same format back with secrets as placeholders."""
