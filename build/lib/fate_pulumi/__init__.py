"""fate-pulumi's command-line tools, behind the one `fate-pulumi` command (fate_pulumi/cli.py)."""
