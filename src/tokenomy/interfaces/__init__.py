"""The only code that reads argv, env, files or network: the CLI, the gateway, config files."""
