"""The ``kubetrail`` command. Thin: parse flags, call the library, render, return.

:func:`main` is the only place where exceptions become exit codes:
0 success, 1 the input was refused or findings reached the threshold, 2 usage error or a
kubetrail error that stops the command, 3 a bug (with a hint to re-run with ``--debug``).
Heavy modules are imported inside commands so that ``kubetrail policy ...`` starts fast.
"""

from __future__ import annotations

import sys

import click

from kubetrail import __version__
from kubetrail.cli.coverage import coverage
from kubetrail.cli.deploy import deploy
from kubetrail.cli.detect import detect, detections
from kubetrail.cli.diff import diff_command, tune
from kubetrail.cli.events import events
from kubetrail.cli.follow import follow
from kubetrail.cli.lake import ingest, lake_group, sql
from kubetrail.cli.lint import lint
from kubetrail.cli.parse import parse
from kubetrail.cli.policy import policy
from kubetrail.cli.query import search, timeline, top
from kubetrail.cli.report import report
from kubetrail.cli.sample import sample
from kubetrail.cli.serve import serve
from kubetrail.cli.sidecar import sidecar
from kubetrail.cli.simulate import simulate, volume
from kubetrail.cli.ui import ui
from kubetrail.errors import KubetrailError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="kubetrail")
@click.option("--debug", is_flag=True, help="Show a traceback when kubetrail fails.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """kubetrail: Kubernetes API-server audit logging you can trust.

    \b
    Write an audit policy, prove offline what it logs and what it misses,
    deploy it, collect the log, query it, detect attacks.

    \b
    Start here:
      kubetrail policy validate audit-policy.yaml
      kubetrail policy explain audit-policy.yaml --user alice \\
          --request 'GET /api/v1/namespaces/default/secrets'
    """
    ctx.obj = {"debug": debug}


policy.add_command(lint)
policy.add_command(coverage)
policy.add_command(simulate)
policy.add_command(volume)
policy.add_command(diff_command)
policy.add_command(tune)
cli.add_command(policy)
cli.add_command(sample)
cli.add_command(deploy)
cli.add_command(ingest)
cli.add_command(follow)
cli.add_command(serve)
cli.add_command(sql)
cli.add_command(lake_group)
cli.add_command(search)
cli.add_command(timeline)
cli.add_command(top)
cli.add_command(detect)
cli.add_command(detections)
cli.add_command(report)
cli.add_command(ui)
cli.add_command(parse)
cli.add_command(sidecar)
cli.add_command(events)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit status (also the console-script entry point)."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        result = cli.main(args=args, prog_name="kubetrail", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KubetrailError as exc:
        click.echo(f"kubetrail: {exc}", err=True)
        return exc.exit_code
    except BrokenPipeError:
        # The reader went away (``| head``): not an error of ours.
        sys.stderr.close()
        return 0
    except Exception as exc:
        if debug:
            raise
        click.echo(
            f"kubetrail: internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug. Re-run with --debug for a traceback and report it.",
            err=True,
        )
        return 3
    return result if isinstance(result, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
