"""The `pagoda-inverse` command line. Errors are one line on stderr with a non-zero exit."""
import sys

import click


class UserError(click.ClickException):
    """Bad input: printed as one line, exit code 2, no traceback."""
    exit_code = 2

    def show(self, file=None):
        click.echo(f"error: {self.format_message()}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """PaGoDA autoencoders for inverse problems and controllable generation."""


@main.group()
def train():
    """Train a model from a TOML config (teacher, decoder, classifier)."""


def run():
    main(prog_name="pagoda-inverse")


if __name__ == "__main__":
    sys.exit(run())
