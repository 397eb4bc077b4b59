"""The `pagoda-inverse` command line: thin commands over the API (autoencoder, physics, solvers,
control, bench). Every error a user can cause is one line on stderr (`error: ...`), exit code 2,
and leaves no output file (cli.errors)."""
import click

from . import generate, restore, tools
from .errors import OneLineErrors
from .train import train


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """PaGoDA autoencoders for inverse problems and controllable generation."""


for command in (*restore.COMMANDS, *generate.COMMANDS, *tools.COMMANDS, train):
    main.add_command(command)


def run():
    main(prog_name="pagoda-inverse")
