"""``kubetrail deploy``: put a policy into a cluster's API server safely, check one there."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from kubetrail.cli.collector import collector
from kubetrail.cli.policy import kube_version_option, parse_version

if TYPE_CHECKING:
    from kubetrail.deploy.kubeadm import Options

DEFAULT_MANIFEST = "/etc/kubernetes/manifests/kube-apiserver.yaml"


@click.group()
def deploy() -> None:
    """Install an audit policy into a control plane, or check one already there.

    \b
    kubeadm:       kubetrail deploy kubeadm --policy policy.yaml [--dry-run | --apply]
    check:         kubetrail deploy check --manifest /etc/kubernetes/manifests/kube-apiserver.yaml
    k3s, rke2, kind, minikube: print the equivalent configuration
    eks, gke, aks: the provider's policy is fixed; see `policy coverage --profile`
    """


def _audit_options(func: Any) -> Any:
    """Options shared by every distribution: where the policy and the log go, rotation."""
    options = [
        click.option(
            "--policy-path",
            default="/etc/kubernetes/audit/policy.yaml",
            show_default=True,
            help="Where the policy is installed on the node (mounted read-only).",
        ),
        click.option(
            "--log-path",
            default="/var/log/kubernetes/audit/audit.log",
            show_default=True,
            help="--audit-log-path (its directory is mounted read-write; '-' for stdout).",
        ),
        click.option("--maxsize", default=100, show_default=True, help="--audit-log-maxsize (MB)."),
        click.option("--maxbackup", default=10, show_default=True, help="--audit-log-maxbackup."),
        click.option("--maxage", default=30, show_default=True, help="--audit-log-maxage (days)."),
        click.option("--compress", is_flag=True, help="--audit-log-compress: gzip rotated files."),
        click.option(
            "--log-format",
            type=click.Choice(["json", "legacy"]),
            default=None,
            help="--audit-log-format (default: the apiserver's, json).",
        ),
        click.option("--webhook-url", metavar="URL", help="Also send events to this receiver."),
        click.option("--webhook-ca", metavar="FILE", help="CA of the receiver's certificate."),
        click.option("--webhook-client-cert", metavar="FILE", help="Client certificate."),
        click.option("--webhook-client-key", metavar="FILE", help="Client key."),
        click.option("--webhook-token-file", metavar="FILE", help="Bearer token file."),
        click.option(
            "--webhook-batch-max-size",
            default=400,
            show_default=True,
            help="Events per POST (--audit-webhook-batch-max-size).",
        ),
        click.option(
            "--webhook-max-batch-bytes",
            default=10 * 1024 * 1024,
            show_default=True,
            help="Largest POST body the receiver accepts (truncation keeps batches under it).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _options(kw: dict[str, Any], backup_dir: str | None = None) -> Options:
    from kubetrail.deploy.kubeadm import DEFAULT_BACKUP_DIR, Options, WebhookOptions

    webhook = None
    if kw["webhook_url"]:
        webhook = WebhookOptions(
            url=kw["webhook_url"],
            ca_file=kw["webhook_ca"],
            client_cert_file=kw["webhook_client_cert"],
            client_key_file=kw["webhook_client_key"],
            token_file=kw["webhook_token_file"],
            batch_max_size=kw["webhook_batch_max_size"],
            max_batch_bytes=kw["webhook_max_batch_bytes"],
        )
    elif any(kw[k] for k in ("webhook_ca", "webhook_client_cert", "webhook_token_file")):
        raise click.UsageError("--webhook-ca/-client-cert/-token-file need --webhook-url")
    return Options(
        policy_path=kw["policy_path"],
        log_path=kw["log_path"],
        maxsize=kw["maxsize"],
        maxbackup=kw["maxbackup"],
        maxage=kw["maxage"],
        compress=kw["compress"],
        log_format=kw["log_format"],
        webhook=webhook,
        backup_dir=backup_dir or DEFAULT_BACKUP_DIR,
    )


@deploy.command()
@click.option(
    "--manifest",
    default=DEFAULT_MANIFEST,
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The kube-apiserver static pod manifest.",
)
@click.option("--policy", "policy_file", required=True, type=click.Path(), help="The policy.")
@_audit_options
@click.option(
    "--backup-dir",
    default="/etc/kubernetes/kubetrail-backups",
    show_default=True,
    help="Backups go here — never into the manifests directory.",
)
@click.option(
    "--kubeadm-config",
    metavar="FILE",
    help="Also update this kubeadm config's ClusterConfiguration (kubeadm upgrade keeps it).",
)
@click.option("--dry-run", is_flag=True, help="Only print the diff; change nothing.")
@click.option("--apply", "apply_", is_flag=True, help="Restart the API server safely now.")
@click.option(
    "--livez-url",
    default="https://127.0.0.1:6443/livez",
    show_default=True,
    help="Health endpoint polled by --apply.",
)
@click.option(
    "--ca",
    "ca_file",
    default="/etc/kubernetes/pki/ca.crt",
    show_default=True,
    help="Cluster CA that signs the API server's certificate.",
)
@click.option(
    "--kubeconfig",
    metavar="FILE",
    help="Authenticate the health check with this kubeconfig's client certificate "
    "(e.g. /etc/kubernetes/admin.conf); without it 401/403 count as serving.",
)
@click.option("--timeout", default=180.0, show_default=True, help="Seconds for each wait.")
@kube_version_option
def kubeadm(
    manifest: str,
    policy_file: str,
    backup_dir: str,
    kubeadm_config: str | None,
    dry_run: bool,
    apply_: bool,
    livez_url: str,
    ca_file: str,
    kubeconfig: str | None,
    timeout: float,
    kube_version: str | None,
    **kw: Any,
) -> int:
    """Install POLICY into a kubeadm control plane's API server.

    Validates the policy (refused if kube-apiserver would refuse it), installs it at
    --policy-path, and patches the static pod manifest — keeping its comments and
    layout: the --audit-* flags (updated, never duplicated), a read-only hostPath
    mount of the policy's directory and a read-write one of the log's directory,
    and the annotation kubetrail.io/policy-sha256, so that a policy-only change
    still restarts the API server (it reads the policy only at start). A backup
    goes to --backup-dir first; the manifest is replaced atomically. Running it
    again with the same policy and options changes nothing.

    Without --apply, the kubelet restarts the API server when it sees the changed
    manifest. With --apply, kubetrail does the restart itself — manifest out, wait
    until the API server is gone, new manifest in, wait for /livez — and puts the
    previous manifest and policy back if it does not come up.

    kubeadm upgrade regenerates the manifest from the ClusterConfiguration: the
    matching apiServer patch is printed (or merged into --kubeadm-config FILE).
    Run it on every control-plane node.

    \b
    Examples:
      kubetrail deploy kubeadm --policy policy.yaml --dry-run
      sudo kubetrail deploy kubeadm --policy policy.yaml --apply \\
          --kubeconfig /etc/kubernetes/admin.conf
    """
    from datetime import UTC, datetime

    from kubetrail.deploy import kubeadm as kd

    options = _options(kw, backup_dir)
    version = parse_version(kube_version)
    plan = kd.plan(manifest, policy_file, options, kube_version=version)
    if not plan.changed:
        click.echo(
            f"nothing to change: {manifest} already runs this policy "
            f"(sha256 {plan.policy_sha256[:12]}…) with these options",
            err=True,
        )
        return 0
    click.echo(plan.diff(), nl=False)
    patch = kd.cluster_configuration_patch(options)
    if dry_run:
        click.echo("dry run: nothing written", err=True)
        return 0
    now = datetime.now(UTC)
    if not apply_:
        written = kd.write(plan, now)
        for path in written.backups:
            click.echo(f"backup: {path}", err=True)
        click.echo(
            f"wrote {manifest}; the kubelet restarts the API server when it sees the change. "
            "Check with: kubetrail deploy check",
            err=True,
        )
    else:
        _apply(plan, now, livez_url, ca_file, kubeconfig, timeout)
    if kubeadm_config:
        _update_kubeadm_config(kubeadm_config, options)
    else:
        click.echo(
            "\nkubeadm upgrade rewrites the manifest from the ClusterConfiguration; add this "
            "to it (or use --kubeadm-config FILE):\n" + patch,
            err=True,
        )
    return 0


def _apply(
    plan: Any, now: Any, livez_url: str, ca_file: str, kubeconfig: str | None, timeout: float
) -> None:
    import contextlib
    from pathlib import Path

    from kubetrail.deploy import kubeadm as kd
    from kubetrail.deploy.restart import Health, Waits, client_cert_from_kubeconfig, restart

    backups = kd.backup(plan, now)
    for path in backups:
        click.echo(f"backup: {path}", err=True)
    previous: dict[str, bytes | None] = {}
    for change in plan.files_changed():
        try:
            previous[change.path] = Path(change.path).read_bytes()
        except OSError:
            previous[change.path] = None
    kd.install_files(plan)
    with contextlib.ExitStack() as stack:
        cert = stack.enter_context(client_cert_from_kubeconfig(kubeconfig)) if kubeconfig else None
        health = Health(livez_url, ca_file=ca_file or None, client_cert=cert)
        steps = restart(
            plan.manifest_path,
            plan.old_manifest,
            plan.new_manifest,
            parking_dir=plan.options.backup_dir,
            health=health,
            waits=Waits(
                gone_timeout=timeout, healthy_timeout=timeout, interval=min(2.0, timeout / 20)
            ),
            on_rollback=lambda: kd._restore_files(previous),
        )
    for step in steps:
        click.echo(f"  +{step.at:>7.1f}s {step.what}", err=True)


def _update_kubeadm_config(path: str, options: Options) -> None:
    from pathlib import Path

    from kubetrail.deploy import kubeadm as kd

    target = Path(path)
    if target.exists():
        text = kd.merge_cluster_configuration(target.read_text(encoding="utf-8"), path, options)
    else:
        text = kd.cluster_configuration_patch(options)
    kd._atomic_write(path, text.encode(), 0o600)
    click.echo(f"updated {path} (ClusterConfiguration apiServer)", err=True)


@deploy.command("check")
@click.option(
    "--manifest",
    "manifests",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="A kube-apiserver manifest; repeat for each control-plane node (HA).",
)
@click.option("--kubeadm-config", metavar="FILE", help="Report drift from this config.")
@click.option("--fail-on-lint", is_flag=True, help="Exit 1 on lint findings too.")
@click.option("--no-lint", is_flag=True, help="Skip the lint and coverage information.")
@click.option(
    "--format",
    "-o",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
@kube_version_option
def check_command(
    manifests: tuple[str, ...],
    kubeadm_config: str | None,
    fail_on_lint: bool,
    no_lint: bool,
    fmt: str,
    kube_version: str | None,
) -> int:
    """Audit a control plane's audit configuration.

    Checks the CIS Kubernetes Benchmark v1.12 items 1.2.16–1.2.19 (audit log path
    set, maxage >= 30, maxbackup >= 10, maxsize >= 100), that the policy file is
    inside a mounted volume and valid, that the log directory is a writable
    hostPath (logs survive restarts), that no mount exposes a whole system
    directory, and that the policy on disk is the one the API server loaded.
    Shows the policy's lint findings and coverage as information.

    Exit status: 0 all checks pass; 1 a check failed (or, with --fail-on-lint,
    lint found something).
    """
    from kubetrail.deploy.check import check

    paths = list(manifests) or [DEFAULT_MANIFEST]
    report = check(
        paths,
        kubeadm_config=kubeadm_config,
        kube_version=parse_version(kube_version),
        lint=not no_lint,
    )
    lint_findings = [c for c in report.checks if c.id.startswith("KT")]
    if fmt == "json":
        import msgspec

        doc = msgspec.to_builtins(report)
        doc["failed"] = len(report.failed)
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(f"{report.benchmark}; kubetrail checks", err=False)
        marks = {"pass": "PASS", "fail": "FAIL", "info": "INFO"}
        for c in report.checks:
            where = f" [{c.manifest}]" if len(paths) > 1 and c.manifest else ""
            detail = f" — {c.detail}" if c.detail else ""
            click.echo(f"{marks[c.status]:4} {c.id:<12} {c.title}{detail}{where}")
        failed = len(report.failed)
        click.echo(
            f"\n{failed} failed, {sum(c.status == 'pass' for c in report.checks)} passed"
            + (f", {len(lint_findings)} lint findings" if lint_findings else ""),
            err=False,
        )
    if report.failed or (fail_on_lint and lint_findings):
        return 1
    return 0


def _distro_command(name: str) -> click.Command:
    @click.command(name)
    @_audit_options
    @click.option(
        "--policy-host-path",
        default="./audit-policy.yaml",
        show_default=True,
        help="kind only: the policy file on the machine that runs kind.",
    )
    @click.option("-o", "--output", metavar="FILE", help="Write to FILE instead of stdout.")
    def command(policy_host_path: str, output: str | None, **kw: Any) -> int:
        from kubetrail.deploy.distros import DEFAULT_PATHS, render

        ctx = click.get_current_context()
        paths = zip(("policy_path", "log_path"), DEFAULT_PATHS.get(name, ()), strict=False)
        kw.update(
            {
                key: value
                for key, value in paths
                if ctx.get_parameter_source(key) is click.core.ParameterSource.DEFAULT
            }
        )
        options = _options(kw)
        options.check()
        text = render(name, options, policy_host_path=policy_host_path)
        if output:
            from pathlib import Path

            Path(output).write_text(text)
            click.echo(f"wrote {output}", err=True)
        else:
            sys.stdout.write(text)
        return 0

    command.help = {
        "k3s": "Print the k3s config.yaml (kube-apiserver-arg) for this audit setup.",
        "rke2": "Print the RKE2 config.yaml (audit-policy-file, kube-apiserver-arg).",
        "kind": "Print a kind cluster config (kubeadmConfigPatches + extraMounts).",
        "minikube": "Print the minikube start flags (--extra-config=apiserver.*).",
    }[name]
    return command


def _managed_command(name: str) -> click.Command:
    @click.command(name)
    def command() -> int:
        from kubetrail.deploy.distros import MANAGED

        click.echo(MANAGED[name])
        return 0

    command.help = f"{name.upper()}: the audit policy is fixed by the provider; what to do instead."
    return command


deploy.add_command(kubeadm)
deploy.add_command(collector)
for _name in ("k3s", "rke2", "kind", "minikube"):
    deploy.add_command(_distro_command(_name))
for _name in ("eks", "gke", "aks"):
    deploy.add_command(_managed_command(_name))
