"""CLI subcommands by area. Each module here defines ``register(sub)`` adding its subparsers,
each with ``set_defaults(func=...)`` calling one library function. ``cli.py`` discovers them."""
