"""One module per ``stablepoint`` subcommand; each is thin: parse, call the library, render."""
