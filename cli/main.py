"""The `zoo` command: parsing and printing only; each command is one call into
the library. Errors become one line on stderr and exit code 2 here, and only
here. TensorFlow is imported inside the commands that need it."""

import os
import sys
from typing import Any

import click

from zoo import __version__
from zoo.errors import ZooError, first_line

USAGE_EXIT = 2
DEBUG_ENV = "ZOO_DEBUG"  # set to 1 to see the traceback of an unexpected error


def fail(message: str, code: int = USAGE_EXIT) -> None:
    click.echo(f"zoo: error: {' '.join(message.split())}", err=True)
    sys.exit(code)


class ZooGroup(click.Group):
    """A click group whose every error is one line on stderr, never a traceback."""

    def main(self, args: Any = None, prog_name: str | None = None, **extra: Any) -> Any:
        extra["standalone_mode"] = False
        try:
            result = super().main(args=args, prog_name=prog_name or "zoo", **extra)
        except ZooError as exc:
            fail(str(exc))
        except click.exceptions.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "zoo"
            fail(f"{exc.format_message()} (see '{where} --help')")
        except click.ClickException as exc:
            fail(exc.format_message(), exc.exit_code or USAGE_EXIT)
        except click.exceptions.Abort:
            fail("aborted", 1)
        except OSError as exc:
            fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except Exception as exc:  # noqa: BLE001 - the last resort: one line, never a traceback
            if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
                raise
            fail(f"'zoo {_command_name(args)}' failed unexpectedly ({type(exc).__name__}: "
                 f"{first_line(exc, empty='no message')}); this is a bug in the zoo or in what "
                 f"it called: rerun with {DEBUG_ENV}=1 for the traceback and report it")
        sys.exit(result if isinstance(result, int) else 0)


def _command_name(args: Any) -> str:
    words = list(sys.argv[1:] if args is None else args)
    return next((str(w) for w in words if not str(w).startswith("-")), "")


@click.group(cls=ZooGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="backbone-zoo")
def cli() -> None:
    """backbone-zoo: package, publish, pull and adapt transferable backbones.

    \b
    Producer:  zoo train iris --out iris-pkg
               zoo publish iris-pkg iris --tag v1
    Consumer:  zoo pull iris@v1 --drop-top 1 --freeze-until hidden2 \\
                   --head dense:4:softmax --out my-model
               zoo finetune my-model --data train.csv --out my-model-ft
               zoo export my-model-ft --format onnx

    The default hub is a folder under $ZOO_HOME (see 'zoo list').
    """


def register() -> None:
    from zoo.cli import (
        cache,
        compare,
        data,
        evaluate,
        export,
        finetune,
        hub,
        import_,
        inspect,
        pack,
        predict,
        publish,
        pull,
        rank,
        train,
    )
    from zoo.cli import list as list_

    for module in (train, pack, import_, publish, list_, inspect, rank, pull, finetune,
                   evaluate, compare, export, predict, data, hub, cache):
        for command in module.COMMANDS:
            cli.add_command(command)


register()


def main() -> None:
    cli.main()


if __name__ == "__main__":
    main()
